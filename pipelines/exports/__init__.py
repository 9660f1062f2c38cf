"""Conversation exports: the job from request to file (jobs), and the writers that turn messages into JSON, CSV (writers) and PDF (pdf)."""
