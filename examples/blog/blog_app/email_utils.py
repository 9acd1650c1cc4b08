"""Outgoing mail over SMTP (host and port from settings)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from functools import partial
from html import escape
from urllib.parse import urlencode

import anyio

from blog_app.config import settings


def _deliver(message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


async def send_email(to: str, subject: str, text: str, html: str) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    # smtplib blocks; keep the event loop free while it talks to the server.
    await anyio.to_thread.run_sync(partial(_deliver, message))


async def send_password_reset_email(email: str, username: str, token: str) -> None:
    link = f"{settings.frontend_url.rstrip('/')}/reset-password?{urlencode({'token': token})}"
    minutes = settings.reset_token_expire_minutes
    text = (
        f"Hi {username},\n\n"
        f"To reset your password, open this link within {minutes} minutes:\n{link}\n\n"
        "If you did not ask for a reset, ignore this mail: your password is unchanged.\n"
    )
    html = (
        f"<p>Hi {escape(username)},</p>"
        f'<p>To reset your password, <a href="{escape(link)}">follow this link</a> '
        f"within {minutes} minutes.</p>"
        "<p>If you did not ask for a reset, ignore this mail: your password is unchanged.</p>"
    )
    await send_email(email, "Reset your password", text, html)
