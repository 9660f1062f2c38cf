"""Sending email over SMTP (smtplib): the one implementation of the mailer the digests use. Each failed send
is counted (``chat_dependency_errors{service="smtp"}``) by the stage it failed at: connect, starttls, login
or send (the server refusing the message or its recipient)."""
from __future__ import annotations

import smtplib
import ssl
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Protocol
from urllib.parse import unquote, urlsplit

from infra.metrics import DEPENDENCY_ERRORS
from schemas.common import one_line


class MailError(Exception):
    """The server refused the message or could not be reached. ``permanent``: a 5xx answer (RFC 5321: the
    same message will be refused again: fail at once); otherwise a 4xx answer or a network error, worth
    retrying (it may come back)."""

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent, self.code = permanent, code


def smtp_code(exc: BaseException) -> int | None:
    """The SMTP reply code an smtplib exception carries (a refused recipient's, for a refused send)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return min(codes) if codes else None   # (one recipient: its code; several: permanent only if all are)
    return getattr(exc, "smtp_code", None)


def classify(exc: BaseException) -> MailError:
    code = smtp_code(exc)
    permanent = code is not None and 500 <= code <= 599
    return MailError(f"{type(exc).__name__}: {exc}", permanent=permanent, code=code)


def address(display_name: str, addr_spec: str) -> Address | str:
    """``"Display Name" <addr>`` for To/From: the name on one line (``schemas.common.one_line``: a line
    break would start a header of its own, ``Bcc:``), then quoted and RFC 2047-encoded by the email
    package when it must be. An address its parser refuses (``a..b@x``: accepted by our looser pattern,
    which admits no white space, comma, angle bracket or quote) is used bare, without the name."""
    try:
        return Address(display_name=one_line(display_name), addr_spec=addr_spec)
    except (ValueError, IndexError, HeaderParseError):  # its defects are ValueErrors
        return addr_spec


def sender(mail_from: str) -> Address | str:
    """``MAIL_FROM`` (``Chat <chat@host>``) as an address header."""
    name, addr = parseaddr(mail_from)
    return address(name, addr or mail_from)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """``smtp://host:port`` (plain), ``smtp+starttls://`` (STARTTLS), ``smtps://`` (TLS from the start);
    ``user:password@`` logs in. One connection per message: digests are rare, a pool would be idle."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError(f"SMTP_URL must look like smtp://host:port, got {url!r}")
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or {"smtp": 25, "smtps": 465, "smtp+starttls": 587}[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self.scheme}://{self.host}:{self.port})"

    def send(self, message: EmailMessage) -> None:
        stage = "connect"
        try:
            if self.scheme == "smtps":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.scheme == "smtp+starttls":
                    stage = "starttls"
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    stage = "login"
                    client.login(self.user, self.password or "")
                # send_message raises unless every recipient was accepted (we send to one).
                stage = "send"
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            DEPENDENCY_ERRORS.labels("smtp", stage).inc()
            raise classify(exc) from exc
