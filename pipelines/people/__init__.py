"""Users, groups and conversations: the directory and membership (directory), profiles, presence, the
sessions a web process must end (sessions), the rooms its sockets hold (rooms), and typing indicators."""
