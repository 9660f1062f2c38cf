"""Scheduled messages ("send later"): created, listed, edited, claimed when due and sent through the inbox
exactly once (scheduled). Reminders are stored notifications (pipelines.notifications)."""
