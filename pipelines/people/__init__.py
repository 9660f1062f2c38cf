"""Users, groups and conversations: the directory and membership (directory), profiles, presence,
sessions, and typing indicators."""
