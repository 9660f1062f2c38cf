"""Files: uploads and their quota (uploads), and the processing of a stored file into renditions and metadata (processing)."""
