"""Users, groups and conversations: the directory and membership (directory), a group's settings
(group_settings), profiles, presence, the sessions a web process must end (sessions), the rooms its sockets
hold (rooms), and typing indicators."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"audit", "conversations", "groups", "messages", "users"})
