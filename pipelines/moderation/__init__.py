"""Moderation of a group: its filter rules and settings (rules), their compilation (filters) and the filter
step of the message path (screening), mutes, bans and roles (sanctions), the moderation log (log), the
review queue (reviews), and who moderates what (moderators)."""
