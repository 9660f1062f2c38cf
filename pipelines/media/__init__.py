"""Files: resumable uploads and their quota (uploads), a stored file's processing steps (job, step_calls),
the work on its bytes (filetypes, images and the renditions table, strip, probe), what members do with
files (gallery), files attached to messages (attachments), and the clean-up (cleanup)."""
