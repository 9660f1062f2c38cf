"""The moderation world of test_moderation.py (a group, its moderator, the queue run at once), for the other
test modules of moderation."""
from tests.pipelines.moderation.test_moderation import mod  # noqa: F401 - the fixture
