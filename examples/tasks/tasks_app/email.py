"""Outgoing e-mail over SMTP (`SMTP_HOST`/`SMTP_PORT`).

smtplib runs in a worker thread so a slow mail server never blocks the event loop.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import anyio.to_thread

from tasks_app.config import settings


async def send_email(to: str, subject: str, body: str, html: str | None = None) -> None:
    """Send one message; raises `OSError` (`smtplib.SMTPException` included) on failure."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    await anyio.to_thread.run_sync(_deliver, message)


def _deliver(message: EmailMessage) -> None:
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        smtp.send_message(message)
