"""Shared fixtures: a real redis-server, a real (moto) S3 server, a fresh embedded store, and helpers to
make users, groups and conversations in it."""
from __future__ import annotations

import os

import pytest

from infra.embedded.mongo import embedded_client
from infra.embedded.redis_server import RedisServer
from infra.storage import Store
from pipelines.events import Notifier
from schemas.common import new_id, utcnow
from schemas.documents import Conversation, ConversationMember, Group, GroupMember, User
from tests.clamd_server import ClamdServer, clamd_binary
from tests.fakes import MemoryInbox, RecordingEmitter
from tests.servers import session_s3_server


@pytest.fixture(scope="session")
def redis_server():
    """One real redis-server for the session (tests use their own keys or flush what they use)."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server():
    """One real SMTP server process (aiosmtpd) for the session; tests read what arrived from its Maildir."""
    from tests.smtp import SmtpServer
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """One real moto S3 server (HTTP) for the session, shared with the systems the e2e tests start."""
    return session_s3_server()


@pytest.fixture(scope="session")
def clamd_server():
    """Debian's real clamd with the tests' EICAR signature database. Skipped without the binary on a
    developer's machine; a failure in CI (REQUIRE_CLAMD=1, set by .ci/run)."""
    if clamd_binary() is None:
        if os.environ.get("REQUIRE_CLAMD"):
            pytest.fail("clamd is not installed (apt-get install clamav-daemon), and REQUIRE_CLAMD is set")
        pytest.skip("clamd is not installed (`make test` installs clamav-daemon)")
    server = ClamdServer().start()
    yield server
    server.stop()


@pytest.fixture
def store() -> Store:
    s = Store(embedded_client()["test"])
    s.ensure_indexes()
    return s


@pytest.fixture
def inbox() -> MemoryInbox:
    return MemoryInbox()


@pytest.fixture
def emitter() -> RecordingEmitter:
    return RecordingEmitter()


@pytest.fixture
def notifier(emitter) -> Notifier:
    return Notifier(emitter)


def make_user(store: Store, username: str, **fields) -> User:
    now = utcnow()
    user = User(id=new_id(), username=username, createdAt=now, updatedAt=now, **fields)
    store.db.users.insert_one(user.to_mongo())
    return user


def make_conversation(store: Store, members: list[User], title: str = "general") -> Conversation:
    now = utcnow()
    group = Group(id=new_id(), name="team", createdBy=members[0].id, createdAt=now)
    store.groups.insert_group(group, GroupMember(id=new_id(), groupId=group.id, userId=members[0].id,
                                          role="GROUP_ADMIN", joinedAt=now))
    for u in members[1:]:
        store.groups.insert_group_member(GroupMember(id=new_id(), groupId=group.id, userId=u.id, role="MEMBER",
                                              joinedAt=now))
    conv = Conversation(id=new_id(), groupId=group.id, title=title, createdBy=members[0].id, createdAt=now)
    store.conversations.insert_conversation(conv, [ConversationMember(id=new_id(), convId=conv.id, userId=u.id,
                                                        groupId=group.id, joinedAt=now) for u in members])
    return conv
