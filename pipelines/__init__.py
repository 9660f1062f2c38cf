"""The work itself, one package per capability (messages, moderation, media, exports, notifications,
scheduling, upkeep, people, policy): plain functions with their I/O (store, inbox, notifier, enqueue) passed
in. ``events`` is the one sender of socket events."""
