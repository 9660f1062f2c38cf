"""MongoDB access by capability: one repository per area (its collections, its indexes, its queries), and
``Store``, the process's container of them all. The same code runs on a real MongoDB (MONGO_URL) and on
the embedded store."""
from __future__ import annotations

from pymongo.database import Database

from infra.crypto import MasterKeys, Vault

from infra.storage.analytics import AnalyticsRepo
from infra.storage.audit import AuditRepo
from infra.storage.conversations import ConversationsRepo
from infra.storage.digests import DigestsRepo
from infra.storage.exports import ExportsRepo
from infra.storage.gifs import GifsRepo
from infra.storage.groups import GroupsRepo
from infra.storage.keys import KeysRepo
from infra.storage.media import MediaRepo
from infra.storage.messages import MessagesRepo, Page, WordMatch
from infra.storage.moderation import ModerationRepo
from infra.storage.notifications import NotificationsRepo
from infra.storage.repository import Repository
from infra.storage.scheduled import ScheduledRepo
from infra.storage.upkeep import UpkeepRepo
from infra.storage.users import UsersRepo

__all__ = ["Page", "Store", "WordMatch"]


class Store:
    """Every repository of one database; a pipeline calls ``store.<area>.<method>(...)``."""

    def __init__(self, db: Database, master: MasterKeys | None = None, encrypt_all: bool = False) -> None:
        self.db = db
        self.encrypt_all = encrypt_all
        self.users = UsersRepo(db)
        self.groups = GroupsRepo(db)
        self.conversations = ConversationsRepo(db)
        self.keys = KeysRepo(db)
        # Encryption at rest (docs/security.md): off without master keys.
        self.vault = Vault(self.keys, master, self._wants_encryption, self.conversations.set_encrypted)
        self.messages = MessagesRepo(db, self.vault, self.keys)
        self.audit = AuditRepo(db, self.vault)
        self.moderation = ModerationRepo(db, self.vault)
        self.notifications = NotificationsRepo(db, self.vault)
        self.digests = DigestsRepo(db)
        self.scheduled = ScheduledRepo(db, self.vault)
        self.upkeep = UpkeepRepo(db, self.conversations, self.groups)
        self.media = MediaRepo(db, self.vault)
        self.exports = ExportsRepo(db)
        self.analytics = AnalyticsRepo(db)
        self.gifs = GifsRepo(db, self.vault)   # the GIF library's queries on media

    def repositories(self) -> list[Repository]:
        return [self.users, self.groups, self.conversations, self.keys, self.messages, self.audit, self.moderation,
                self.notifications, self.digests, self.scheduled, self.upkeep, self.media, self.exports,
                self.analytics, self.gifs]

    def _wants_encryption(self, conv_id: str) -> bool:
        """Whether a conversation without a data key should get one: every conversation with ENCRYPT_ALL,
        else those of a group whose settings ask for it."""
        if self.encrypt_all:
            return True
        conversation = self.conversations.get_conversation(conv_id)
        group = conversation and self.groups.get_group(conversation.groupId)
        return bool(group and group.settings.encryption)

    def ensure_indexes(self) -> None:
        for repository in self.repositories():
            repository.ensure_indexes()

    def ping(self) -> None:
        self.db.command("ping")
