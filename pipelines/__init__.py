"""The work itself: plain functions with their I/O (store, inbox, notifier, enqueue) passed in."""
