"""Messages: sends, edits and deletions accepted into a conversation's inbox (submit), the drain that
stores them in order exactly once (drain: the loop; writer: a batch), reading and search (history),
reactions, read receipts, and deletion reaching every reader (lifecycle)."""
