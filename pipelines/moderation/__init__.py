"""Moderation: the groups' filter rules compiled and applied (filters), mutes, bans and the moderation log (sanctions), and the review queue (reviews)."""
