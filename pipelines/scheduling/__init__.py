"""Scheduled messages and reminders: created, listed, claimed when due and sent through the inbox (scheduled)."""
