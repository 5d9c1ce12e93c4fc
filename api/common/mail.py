"""Email through the operator's SMTP server (``LEADLY_SMTP_*``): composing a message and
handing it over. Notification delivery and the sign-in emails (verification links, invitations)
both send through here."""

from __future__ import annotations

import asyncio
import email.policy
import smtplib
from email.message import EmailMessage
from email.utils import formataddr

from leadly.settings import Settings


class MailError(Exception):
    """The message was not handed to the SMTP server; ``permanent`` ones will not succeed on a
    retry (SMTP not configured, the recipient refused)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def smtp_send(msg: EmailMessage, s: Settings) -> None:
    """Hand ``msg`` to the SMTP server (blocking; see :func:`send`). Raises :class:`MailError`
    when SMTP is not configured, ``smtplib``'s errors or ``OSError`` otherwise."""
    if not s.smtp_host:
        raise MailError("SMTP is not configured (LEADLY_SMTP_HOST).", permanent=True)
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.notification_http_timeout) as smtp:
        if s.smtp_starttls:
            smtp.starttls()
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password)
        smtp.send_message(msg)


async def send(msg: EmailMessage, s: Settings) -> None:
    """:func:`smtp_send` off the event loop; every failure is a :class:`MailError`."""
    try:
        await asyncio.to_thread(smtp_send, msg, s)
    except MailError:
        raise
    except smtplib.SMTPRecipientsRefused as e:
        raise MailError(f"SMTP refused the recipient: {e.recipients}", permanent=True) from e
    except (smtplib.SMTPException, OSError) as e:
        raise MailError(f"SMTP: {type(e).__name__}: {e}") from e
    except (UnicodeError, ValueError) as e:  # an address or header SMTP cannot carry
        raise MailError(f"The message cannot be sent: {e}", permanent=True) from e


def message(
    s: Settings,
    to_name: str,
    to_addr: str,
    subject: str,
    text_: str,
    html: str | None,
    key: str,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A message from ``LEADLY_MAIL_FROM`` whose ``Message-ID`` is built from ``key`` (so a
    receiver can drop a repeated one). An address that is not ASCII (``straße@…``) is sent as
    an internationalised message (SMTPUTF8: the server must offer it)."""
    if to_addr.isascii():
        msg = EmailMessage()
        msg["To"] = formataddr((to_name, to_addr))
    else:
        msg = EmailMessage(policy=email.policy.SMTPUTF8)
        msg["To"] = to_addr
    msg["From"] = s.mail_from
    msg["Subject"] = subject
    domain = s.mail_from.rsplit("@", 1)[-1].strip(">").strip() or "leadly.local"
    msg["Message-ID"] = f"<{key}@{domain}>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text_)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg
