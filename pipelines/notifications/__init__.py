"""Notifications kept for a user: stored, emitted, delivered and read, with preferences and reminders
(stored), and the email digests of what an offline user missed (digests). Socket events are
pipelines.events'; scheduled messages are pipelines.scheduling's."""
