"""Conversation exports: the request and its checks (requests), the worker's job with its lease and
heartbeat (job), the walk through the messages (walk), the writers that turn records into JSON and CSV
(writers) and PDF (pdf, pdf_text), the file's key and type (files), and the clean-up (cleanup). The whole
design: docs/exports.md."""
