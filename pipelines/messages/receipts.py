"""Read receipts: a member's read mark per conversation, which only moves forward.

The mark lives on the membership (``conversation_members.lastReadSeq``), so a conversation's unread
count is ``lastSeq - lastReadSeq``: no message is scanned or rewritten. (The seed's per-message
``readBy`` arrays would cost one write per message per reader.)
"""
from __future__ import annotations

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.policy.access import check_conversation_member
from schemas.common import utcnow
from schemas.documents import User
from schemas.events import MessageRead
from schemas.payloads import ReadUpTo


def do_mark_read(store: Store, notifier: Notifier, user: User, read: ReadUpTo) -> int:
    """Move the reader's mark forward to ``read.seq`` (at most the newest message); returns the mark.

    Marking an older seq changes nothing and announces nothing.
    """
    conv, member = check_conversation_member(store, user, read.convId)
    seq = min(read.seq, conv.lastSeq)
    if seq > member.lastReadSeq and store.conversations.advance_read_mark(conv.id, user.id, seq, utcnow()):
        notifier.notify_message_read(MessageRead(convId=conv.id, userId=user.id, seq=seq))
        return seq
    return store.conversations.get_conversation_member(conv.id, user.id).lastReadSeq  # unchanged (maybe moved meanwhile)
