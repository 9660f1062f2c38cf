"""Missed messages by email: one digest per window, never while online, nothing already read.

How it goes (docs/notifications.md, "Email"):
1. A mention, a reply or a message in a direct conversation (exactly two members) for a user who has
   no live socket opens the user's **window** (``email_windows``, one per user), due
   ``emailDelayMinutes`` after that first event; later events in the window only extend nothing.
2. The sweep (beat) closes each due window into a **digest** whose id is ``{userId}:{openedAt ms}``
   (so closing twice makes one digest) covering (since, now]: up to the sweep, not the window's due time,
   because a notification is stored when its task runs, after the message it tells of (with
   ``emailDelayMinutes: 0`` the window is due at the message's own time, before any notification of it);
   then it queues ``notifications.send_digest``.
3. The digest task claims it (a lease), checks the user is still offline and still has the address and
   the setting, gathers what is still unread and not deleted in that range, and sends one multipart
   email (text + HTML, the user's language) with a ``Message-ID`` derived from the digest's id: a
   retried send after a crash is the same message, which receiving servers and clients deduplicate.
   Nothing left to tell (read meanwhile) or the user online: ``skipped``, no email.
4. A 5xx answer fails the digest at once (permanent). A 4xx answer or a network error releases it with
   ``retryAt`` (exponential backoff) and the task queues one retry for then; every attempt is a claim on
   the record, which counts it, so at most ``max_attempts`` are made whatever the number of tasks carrying
   the digest (a retry, a redelivery, the sweep's resend). Then it is ``failed`` with the reason (also shown
   in the user's settings as ``lastEmail``). The notifications stay in-app.

Encryption at rest (docs/security.md): neither a window nor a digest stores any text of the email (ids,
times, counts, the outcome); the email is composed at send time from what the repositories open (the
notifications, the messages), and SMTP carries it in clear, which is outside what encryption at rest covers.
"""
from __future__ import annotations

import html
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Callable

from infra.mailer import Mailer, MailError, address, sender
from infra.storage import Store
from schemas.common import iso, one_line
from schemas.documents import Digest, User

log = logging.getLogger(__name__)
MAX_ITEMS = 50          # per email; the rest is "and N more"


def digest_id(user_id: str, opened_at: datetime) -> str:
    return f"{user_id}:{int(opened_at.timestamp() * 1000)}"


def message_id_header(digest: str, mail_from: str) -> str:
    """Deterministic, so a retried send carries the same Message-ID (RFC 5322 msg-id)."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<digest.{digest.replace(':', '.')}@{domain}>"


# -- the sweep -----------------------------------------------------------------------------------
@dataclass
class SweepResult:
    digests: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)


def sweep_email_windows(store: Store, enqueue_digest: Callable[[str], None], *, now: datetime, default_delay: int,
                        limit: int = 500, minute: timedelta = timedelta(minutes=1)) -> SweepResult:
    """Close each due window into a digest and queue it. (Digests whose task was lost, or whose worker
    died, are the sweeper's: ``pipelines.sweeper.sweep_digests``.)"""
    result = SweepResult()
    for window in store.digests.due_email_windows(now, limit):
        settings = store.notifications.notification_settings_of(window.userId, default_delay)
        since = window.openedAt - timedelta(milliseconds=1)
        if settings.emailedUpTo is not None and settings.emailedUpTo > since:
            since = settings.emailedUpTo
        up_to = max(now, window.dueAt)
        digest = Digest(id=digest_id(window.userId, window.openedAt), userId=window.userId, since=since,
                        upTo=up_to, retryAt=now, createdAt=now, updatedAt=now)
        store.digests.insert_digest_once(digest)   # a second sweep of the same window finds it there
        store.digests.close_email_window(window, up_to, window.lastEventAt + minute * settings.emailDelayMinutes)
        enqueue_digest(digest.id)
        result.digests.append(digest.id)
    return result


# -- one digest ----------------------------------------------------------------------------------
@dataclass
class DigestResult:
    digest_id: str
    status: str                  # sent | skipped | retry | failed | busy (claimed, or not due yet) | done
    reason: str | None = None
    items: int = 0
    retry_at: datetime | None = None   # retry: when the next attempt may start


@dataclass(frozen=True)
class Delivery:
    """How a digest is sent: the lease on a claim, how many attempts at most, and the wait before each retry
    (``backoff(attempts made)``, in seconds)."""
    lease_seconds: int
    max_attempts: int
    backoff: Callable[[int], float]
    app_url: str
    mail_from: str


@dataclass
class Item:
    conv_id: str
    conv_title: str
    seq: int
    sender: str
    text: str
    kind: str                    # mention | reply | message


def collect_items(store: Store, user: User, digest: Digest, default_delay: int, now: datetime) -> list[Item]:
    """What is still worth telling: unread (past the member's lastReadSeq), not deleted, in range."""
    settings = store.notifications.notification_settings_of(user.id, default_delay)
    items: dict[tuple[str, int], Item] = {}
    marks: dict[str, int | None] = {}

    def mark(conv_id: str) -> int | None:
        if conv_id not in marks:
            member = store.conversations.get_conversation_member(conv_id, user.id)
            marks[conv_id] = member.lastReadSeq if member else None
        return marks[conv_id]

    for n in store.notifications.notifications_since(user.id, ("mention", "reply"), digest.since, digest.upTo, now, MAX_ITEMS * 2):
        conv_id, seq = n.data.get("convId"), n.data.get("seq", 0)
        read_upto = mark(conv_id) if conv_id else None
        if read_upto is None or seq <= read_upto:
            continue   # read in the conversation, or no longer a member
        message = store.messages.get_message(n.data.get("messageId", ""))
        if message is None or message.isDeleted:
            continue
        items[(conv_id, seq)] = Item(conv_id, n.data.get("convTitle", ""), seq, message.senderInfo.username,
                                     message.content, n.type)
    for conv, member in store.conversations.conversations_of_user(user.id):
        if settings.level(conv.id) != "all" or conv.lastSeq <= member.lastReadSeq:
            continue
        if len(store.conversations.conversation_members_of(conv.id, 3)) != 2:
            continue
        for m in store.messages.direct_unread_since(conv.id, user.id, member.lastReadSeq, digest.since, digest.upTo, MAX_ITEMS):
            items.setdefault((conv.id, m.seq), Item(conv.id, conv.title, m.seq, m.senderInfo.username, m.content,
                                                    "message"))
    return sorted(items.values(), key=lambda i: (i.conv_id, i.seq))


def deliver_digest(store: Store, mailer: Mailer | None, is_online: Callable[[str], bool], digest_id_: str, *,
                   now: datetime, default_delay: int, delivery: Delivery) -> DigestResult:
    token = uuid.uuid4().hex
    digest = store.digests.claim_digest(digest_id_, now, now + timedelta(seconds=delivery.lease_seconds), token,
                                delivery.max_attempts)
    if digest is None:
        current = store.digests.get_digest(digest_id_)
        return DigestResult(digest_id_, "done" if current is None or current.status not in ("pending", "claimed")
                            else "busy")
    user = store.users.get_user(digest.userId)
    reason, items = _why_not(store, mailer, is_online, user, digest, default_delay, now)
    if reason is not None:
        _finish(store, digest, token, now, "skipped", {"reason": reason}, {"reason": reason})
        return DigestResult(digest.id, "skipped", reason)
    return _send(store, mailer, user, digest, token, items, now, delivery)


def _why_not(store: Store, mailer: Mailer | None, is_online: Callable[[str], bool], user: User | None,
             digest: Digest, default_delay: int, now: datetime) -> tuple[str | None, list[Item]]:
    """Why no email goes to ``user`` (None: it goes), and what it tells."""
    settings = store.notifications.notification_settings_of(digest.userId, default_delay)
    reason = None
    if mailer is None:
        reason = "no SMTP server configured"
    elif user is None or not user.active or not user.email:
        reason = "no email address"
    elif not settings.email:
        reason = "email notifications are off"
    elif is_online(digest.userId):
        reason = "online"   # never an email while they are online
    items: list[Item] = []
    if reason is None:
        items = collect_items(store, user, digest, default_delay, now)
        if not items:
            reason = "nothing unread"
    return reason, items


def _send(store: Store, mailer: Mailer, user: User, digest: Digest, token: str, items: list[Item], now: datetime,
          delivery: Delivery) -> DigestResult:
    header = message_id_header(digest.id, delivery.mail_from)
    message = render_digest(user, items, app_url=delivery.app_url, mail_from=delivery.mail_from, message_id=header,
                            now=now)
    try:
        mailer.send(message)
    except MailError as exc:
        error = str(exc)[:500]
        if exc.permanent or digest.attempts >= delivery.max_attempts:
            _finish(store, digest, token, now, "failed", {"error": error, "items": len(items)}, {"error": error})
            log.warning("digest %s failed after %d attempt(s)%s: %s", digest.id, digest.attempts,
                        " (permanent)" if exc.permanent else "", error)
            return DigestResult(digest.id, "failed", error, len(items))
        retry_at = now + timedelta(seconds=delivery.backoff(digest.attempts))
        store.digests.release_digest(digest.id, token, error, now, retry_at)
        return DigestResult(digest.id, "retry", error, len(items), retry_at)
    _finish(store, digest, token, now, "sent", {"sentAt": now, "items": len(items), "messageIdHeader": header,
                                                "error": None}, {"items": len(items)})
    return DigestResult(digest.id, "sent", None, len(items))


def _finish(store: Store, digest: Digest, token: str, now: datetime, status: str, fields: dict, outcome: dict) -> None:
    """The claim holder's last word, and the user's ``lastEmail`` (not when the claim was lost meanwhile)."""
    if store.digests.finish_digest(digest.id, token, status, now, **fields):
        store.digests.record_email_outcome(digest.userId, digest.upTo, {"digestId": digest.id, "status": status,
                                                                **outcome, "at": iso(now)})


def record_failure(store: Store, digest: Digest, now: datetime, error: str) -> bool:
    """The sweeper's end for a digest whose attempts ran out (or were interrupted): failed, with the reason."""
    if not store.digests.fail_stale_digest(digest, now, error):
        return False
    store.digests.record_email_outcome(digest.userId, digest.upTo, {"digestId": digest.id, "status": "failed",
                                                            "error": error, "at": iso(now)})
    return True


# -- rendering (pure) ----------------------------------------------------------------------------
TEXT = {
    "en": {"subject": "{n} new message(s) while you were away", "hello": "Hello {name},",
           "intro": "Here is what you missed:", "open": "Open the conversation", "more": "and {n} more",
           "kinds": {"mention": "mentioned you", "reply": "replied to you", "message": "wrote"},
           "footer": "You get this email because you were offline. Change it in your notification settings."},
    "fr": {"subject": "{n} nouveau(x) message(s) pendant votre absence", "hello": "Bonjour {name},",
           "intro": "Voici ce que vous avez manqué :", "open": "Ouvrir la conversation", "more": "et {n} de plus",
           "kinds": {"mention": "vous a mentionné", "reply": "vous a répondu", "message": "a écrit"},
           "footer": "Vous recevez cet e-mail car vous étiez hors ligne. Modifiez-le dans vos réglages de notification."},
    "es": {"subject": "{n} mensaje(s) nuevo(s) mientras no estabas", "hello": "Hola {name}:",
           "intro": "Esto es lo que te perdiste:", "open": "Abrir la conversación", "more": "y {n} más",
           "kinds": {"mention": "te mencionó", "reply": "te respondió", "message": "escribió"},
           "footer": "Recibes este correo porque estabas desconectado. Cámbialo en tus ajustes de notificaciones."},
    "de": {"subject": "{n} neue Nachricht(en) während deiner Abwesenheit", "hello": "Hallo {name},",
           "intro": "Das hast du verpasst:", "open": "Unterhaltung öffnen", "more": "und {n} weitere",
           "kinds": {"mention": "hat dich erwähnt", "reply": "hat dir geantwortet", "message": "schrieb"},
           "footer": "Du bekommst diese E-Mail, weil du offline warst. Ändere das in deinen Benachrichtigungseinstellungen."},
}


def render_digest(user: User, items: list[Item], *, app_url: str, mail_from: str, message_id: str,
                  now: datetime) -> EmailMessage:
    t = TEXT.get(user.language, TEXT["en"])
    shown, hidden = items[:MAX_ITEMS], len(items) - min(len(items), MAX_ITEMS)
    name = user.fname or user.username
    by_conv: dict[str, list[Item]] = {}
    for item in shown:
        by_conv.setdefault(item.conv_id, []).append(item)
    base = app_url.rstrip("/")
    text = [t["hello"].format(name=name), "", t["intro"], ""]
    parts = [f"<p>{html.escape(t['hello'].format(name=name))}</p>", f"<p>{html.escape(t['intro'])}</p>"]
    for conv_id, conv_items in by_conv.items():
        link = f"{base}/#conv={conv_id}&seq={conv_items[0].seq}"
        title = one_line(conv_items[0].conv_title)   # a title's line breaks cannot forge lines of the text part
        text.append(f"# {title}")
        parts.append(f"<h3>{html.escape(title)}</h3><ul>")
        for i in conv_items:
            line = f"{i.sender} {t['kinds'][i.kind]}: {i.text}"
            text.append(f"  {line}")
            parts.append(f"<li><b>{html.escape(i.sender)}</b> {html.escape(t['kinds'][i.kind])}: "
                         f"{html.escape(i.text)}</li>")
        text += [f"  {t['open']}: {link}", ""]
        parts.append(f'</ul><p><a href="{html.escape(link, quote=True)}">{html.escape(t["open"])}</a></p>')
    if hidden:
        text.append(t["more"].format(n=hidden))
        parts.append(f"<p>{html.escape(t['more'].format(n=hidden))}</p>")
    text += ["--", t["footer"]]
    parts.append(f"<hr><p><small>{html.escape(t['footer'])}</small></p>")
    message = EmailMessage()
    # Headers carry no text of a person but their own name, cleaned (``address``: a line break in it
    # cannot start a header of its own) and encoded by the email package; the subject is ours.
    message["Subject"] = t["subject"].format(n=len(items))
    message["From"] = sender(mail_from)
    message["To"] = address(f"{user.fname} {user.lname}".strip() or user.username, user.email)
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(now)
    message["Content-Language"] = user.language
    message["Auto-Submitted"] = "auto-generated"   # RFC 3834: no vacation auto-replies to this
    message.set_content("\n".join(text))
    message.add_alternative(f'<!doctype html><html lang="{user.language}"><body>{"".join(parts)}</body></html>',
                            subtype="html")
    return message
