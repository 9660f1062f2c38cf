"""Stored notifications (stored) and the email digests of offline users (digests)."""
