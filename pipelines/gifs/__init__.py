"""GIFs (contract v3): search and trending through a provider or the group's own library, offers kept per
user, and the preview proxy; the copy into S3 is the media pipeline's (pipelines.media)."""

REPOSITORIES = frozenset({"conversations", "gifs", "groups", "media"})
