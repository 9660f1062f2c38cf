"""Messages: the inbox drain that stores and announces sends and edits (drain), reactions, read receipts, and the deletion of content reaching every reader (lifecycle)."""
