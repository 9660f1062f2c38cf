"""The shape of every payload, event, queue message and stored document, in one place."""
