"""What every stored document shares: ``_id`` in MongoDB, ``id`` in the API; UTC timestamps; the roles and languages."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from schemas.common import iso

Timestamp = Annotated[datetime, PlainSerializer(iso, when_used="json")]
GroupRole = Literal["GROUP_ADMIN", "MODERATOR", "MEMBER"]
SystemRole = Literal["ADMIN", "USER"]
MessageType = Literal["text", "image", "file", "system", "media"]
Language = Literal["en", "fr", "es", "de"]


class Document(BaseModel):
    """A stored document: ``_id`` in MongoDB, ``id`` in the API."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    id: str = Field(alias="_id")

    def to_mongo(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]):
        return cls.model_validate(doc)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=self._private())

    def _private(self) -> set[str]:
        return set()
