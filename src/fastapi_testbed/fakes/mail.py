"""Capture every e-mail the app sends: at the SMTP level, or by replacing a send function.

`SMTPCapture` runs an in-process SMTP server (aiosmtpd) on a free port of 127.0.0.1; point the
app's SMTP host and port at it and its real sending code runs, whatever library it uses::

    with SMTPCapture() as smtp:
        os.environ["SMTP_HOST"], os.environ["SMTP_PORT"] = smtp.host, str(smtp.port)
        with smtp.capture() as outbox:
            send_welcome_mail("ada@example.com")
        assert outbox[0].subject == "Welcome"

`SendFunctionReplacement("myapp.mail:send_email", outbox.append)` does the same for apps that
call an HTTP mail API instead of speaking SMTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import functools
import html as html_module
import importlib
import inspect
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.message import Message
from email.utils import getaddresses
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi_testbed.fakes.extras import require

__all__ = [
    "Attachment",
    "Mail",
    "MailOutbox",
    "MailSink",
    "SMTPCapture",
    "SendFunctionReplacement",
    "mail_from_call",
    "parse_mail",
]

NO_SUCH_LINK = "No link containing {needle!r} in the mail {subject!r}; its links are:\n{links}"
OUTBOX_TIMEOUT = (
    "Expected at least {count} mail(s) within {timeout}s, got {got}. A mail sent from a thread "
    "or task the test does not await may still be on its way; raise the timeout if so."
)

_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+")
_LOOKS_LIKE_HTML = re.compile(r"<(html|body|p|a|div|br|table|h\d)\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    content: bytes


@dataclasses.dataclass(frozen=True)
class Mail:
    """One captured e-mail, parsed.

    `to`, `cc` and `bcc` hold bare addresses (`"ada@example.com"`); `recipients` is every
    address the mail was delivered to; `links` lists the URLs of the text and HTML bodies.
    """

    sender: str
    to: list[str]
    subject: str
    text: str
    html: str
    cc: list[str] = dataclasses.field(default_factory=list)
    bcc: list[str] = dataclasses.field(default_factory=list)
    recipients: list[str] = dataclasses.field(default_factory=list)
    links: list[str] = dataclasses.field(default_factory=list)
    attachments: list[Attachment] = dataclasses.field(default_factory=list)
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    message: Message | None = dataclasses.field(default=None, repr=False, compare=False)
    call: Mapping[str, Any] | None = dataclasses.field(default=None, repr=False, compare=False)

    def link(self, containing: str = "") -> str:
        """The first link whose URL contains `containing`: `mail.link("/reset-password")`."""
        for url in self.links:
            if containing in url:
                return url
        listed = "\n".join(f"  {url}" for url in self.links) or "  (none)"
        raise AssertionError(
            NO_SUCH_LINK.format(needle=containing, subject=self.subject, links=listed)
        )


class MailOutbox(list[Mail]):
    """The mails sent during one test, oldest first; a plain list with two helpers."""

    def wait_for(self, count: int = 1, timeout: float = 2.0) -> MailOutbox:
        """Wait until `count` mails arrived: for mails sent from threads the test does not await."""
        deadline = time.monotonic() + timeout
        while len(self) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    OUTBOX_TIMEOUT.format(count=count, timeout=timeout, got=len(self))
                )
            time.sleep(0.01)
        return self

    def to(self, address: str) -> list[Mail]:
        """The mails delivered to `address`."""
        return [mail for mail in self if address in mail.recipients]


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href" and value and not value.startswith(("mailto:", "#")):
                self.links.append(value.strip())


def _links(text: str, html: str) -> list[str]:
    parser = _LinkParser()
    parser.feed(html)
    visible = html_module.unescape(re.sub(r"<[^>]+>", " ", html))
    found = parser.links + _URL.findall(text) + _URL.findall(visible)
    return list(dict.fromkeys(url.rstrip(".,;:!?") for url in found))


def _addresses(*values: str | None) -> list[str]:
    return [addr for _, addr in getaddresses([v for v in values if v]) if addr]


def _decode(payload: bytes, charset: str) -> str:
    return payload.decode(charset, errors="replace").replace("\r\n", "\n")


def parse_mail(
    data: bytes | str | Message,
    *,
    envelope_sender: str | None = None,
    envelope_recipients: list[str] | None = None,
) -> Mail:
    """Parse a raw RFC 5322 message (what an SMTP server receives) into a `Mail`."""
    if isinstance(data, Message):
        message = data
    elif isinstance(data, bytes):
        message = email.message_from_bytes(data, policy=email.policy.default)
    else:
        message = email.message_from_string(data, policy=email.policy.default)
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        charset = part.get_content_charset() or "utf-8"
        if part.get_filename() or part.get_content_disposition() == "attachment":
            attachments.append(Attachment(part.get_filename(), content_type, payload))
        elif content_type == "text/plain":
            text_parts.append(_decode(payload, charset))
        elif content_type == "text/html":
            html_parts.append(_decode(payload, charset))
    text, html = "\n".join(text_parts), "\n".join(html_parts)
    to, cc = _addresses(*message.get_all("To", [])), _addresses(*message.get_all("Cc", []))
    recipients = list(envelope_recipients or []) or to + cc + _addresses(message.get("Bcc"))
    return Mail(
        sender=(_addresses(message.get("From")) or [envelope_sender or ""])[0],
        to=to,
        cc=cc,
        bcc=[r for r in recipients if r not in to and r not in cc],
        recipients=recipients,
        subject=str(message.get("Subject", "")),
        text=text,
        html=html,
        links=_links(text, html),
        attachments=attachments,
        headers={key: str(value) for key, value in message.items()},
        message=message,
    )


# Parameter (or field) names a send function commonly uses for each part of a mail.
_FIELDS = {
    "to": ("to", "recipients", "recipient", "email_to", "to_email", "to_address", "mail_to",
           "receiver", "receivers", "email", "to_emails", "addresses"),
    "subject": ("subject", "title"),
    "text": ("text", "body", "plain", "text_body", "body_text", "plain_text", "content",
             "message", "plain_text_content", "text_content"),
    "html": ("html", "html_body", "body_html", "html_content", "html_message"),
    "sender": ("sender", "from_", "from_email", "from_address", "mail_from", "from_addr"),
    "cc": ("cc",),
    "bcc": ("bcc",),
}  # fmt: skip


def _as_fields(value: Any) -> dict[str, Any] | None:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "model_dump"):  # a pydantic model such as fastapi-mail's MessageSchema
        return dict(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return None


def _address_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return _addresses(value)
    if isinstance(value, list | tuple | set):
        return [addr for item in value for addr in _address_list(item)]
    return _addresses(str(value))


def mail_from_call(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Mail:
    """Read a `Mail` out of a call to a send function, by the names of its parameters.

    An `email.message.Message` argument is parsed whole; a dict, dataclass or pydantic model
    argument is read by its field names (`to`/`recipients`, `subject`, `body`/`text`, `html`...).
    """
    try:
        bound = inspect.signature(function).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
    except (TypeError, ValueError):
        arguments = {f"arg{i}": value for i, value in enumerate(args)} | kwargs
    for value in arguments.values():
        if isinstance(value, Message):
            return dataclasses.replace(parse_mail(value), call=arguments)
    fields: dict[str, Any] = {}
    for name, value in arguments.items():
        nested = _as_fields(value)
        if nested is not None and name not in ("headers", "context", "template_body"):
            fields.update({k: v for k, v in nested.items() if k not in fields})
        fields.setdefault(name, value)

    def pick(kind: str) -> Any:
        return next((fields[name] for name in _FIELDS[kind] if fields.get(name)), None)

    text, html = str(pick("text") or ""), str(pick("html") or "")
    if not html and _LOOKS_LIKE_HTML.search(text):
        html = text
    to, cc, bcc = _address_list(pick("to")), _address_list(pick("cc")), _address_list(pick("bcc"))
    return Mail(
        sender=(_address_list(pick("sender")) or [""])[0],
        to=to,
        cc=cc,
        bcc=bcc,
        recipients=to + cc + bcc,
        subject=str(pick("subject") or ""),
        text=text,
        html=html,
        links=_links(text, html),
        call=arguments,
    )


class SendFunctionReplacement:
    """Replace the function named by `target` ("pkg.mod:send" or "pkg.mod:Mailer.send").

    Each call becomes a `Mail` given to `deliver`, and nothing is sent. Every module under
    `search_root` that imported the function by name (`from pkg.mod import send`) is patched
    too: no guessing "where the name is looked up". One fake serves every `apply()`, so a
    module imported while it was applied is found and restored by `restore()`::

        with SendFunctionReplacement("myapp.mail:send_email", outbox.append, Path.cwd()):
            signup("ada@example.com")
    """

    def __init__(
        self, target: str, deliver: Callable[[Mail], None], search_root: Path | None = None
    ) -> None:
        module_path, _, attr_path = target.partition(":")
        owner_path, _, self.name = attr_path.rpartition(".")
        owner: Any = importlib.import_module(module_path)
        for part in owner_path.split(".") if owner_path else ():
            owner = getattr(owner, part)
        self.owner, self.in_class = owner, bool(owner_path)
        self.search_root = search_root.resolve() if search_root else None
        raw = vars(owner)[self.name] if self.name in vars(owner) else getattr(owner, self.name)
        self.original = raw
        function = raw.__func__ if isinstance(raw, staticmethod | classmethod) else raw
        self.function = function

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def fake(*args: Any, **kwargs: Any) -> None:
                deliver(mail_from_call(function, args, kwargs))

        else:

            @functools.wraps(function)
            def fake(*args: Any, **kwargs: Any) -> None:
                deliver(mail_from_call(function, args, kwargs))

        self.fake = fake
        self.replacement: Any = (
            type(raw)(fake) if isinstance(raw, staticmethod | classmethod) else fake
        )
        self._under_root: dict[str, bool] = {}

    def _importers(self, *values: Any) -> list[tuple[Any, str]]:
        if self.in_class or self.search_root is None:
            return []
        found = []
        for module in list(sys.modules.values()):
            if module is self.owner or not self._is_under_root(module):
                continue
            found += [
                (module, attr)
                for attr, value in list(vars(module).items())
                if any(value is candidate for candidate in values)
            ]
        return found

    def _is_under_root(self, module: Any) -> bool:
        file = getattr(module, "__file__", None)
        if not file or self.search_root is None:
            return False
        known = self._under_root.get(file)
        if known is None:
            path = Path(file).resolve()
            known = path.is_relative_to(self.search_root) and ".venv" not in path.parts
            self._under_root[file] = known
        return known

    def apply(self) -> None:
        setattr(self.owner, self.name, self.replacement)
        for module, attr in self._importers(self.function):
            setattr(module, attr, self.fake)

    def restore(self) -> None:
        setattr(self.owner, self.name, self.original)
        for module, attr in self._importers(self.fake):
            setattr(module, attr, self.function)

    def __enter__(self) -> SendFunctionReplacement:
        self.apply()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()


class _Handler:
    def __init__(self, deliver: Callable[[Mail], None]) -> None:
        self.deliver = deliver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        self.deliver(
            parse_mail(
                content,
                envelope_sender=envelope.mail_from,
                envelope_recipients=list(envelope.rcpt_tos),
            )
        )
        return "250 Message accepted for delivery"


def _quiet_deprecation(record: logging.LogRecord) -> bool:
    # aiosmtpd warns about its own legacy attribute whenever a client logs in
    return "login_data is deprecated" not in record.getMessage()


class MailSink:
    """Where captured mails go: the outbox of the running `capture()` block, if any."""

    def __init__(self) -> None:
        self._outbox: MailOutbox | None = None

    def deliver(self, mail: Mail) -> None:
        if self._outbox is not None:
            self._outbox.append(mail)

    @contextmanager
    def capture(self) -> Iterator[MailOutbox]:
        """A fresh outbox that receives the mails delivered until the block ends."""
        outbox = MailOutbox()
        previous, self._outbox = self._outbox, outbox
        try:
            yield outbox
        finally:
            self._outbox = previous


class SMTPCapture:
    """An SMTP server in a background thread that parses what it receives into `Mail`s.

    It accepts any AUTH login and speaks plain SMTP (no STARTTLS): turn TLS off in the app's
    test settings. Mails arriving outside `capture()` are dropped.
    """

    def __init__(self, sink: MailSink | None = None, host: str = "127.0.0.1") -> None:
        self.sink = sink or MailSink()
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def capture(self) -> contextlib.AbstractContextManager[MailOutbox]:
        """A fresh outbox that receives the mails sent until the block ends."""
        return self.sink.capture()

    def start(self) -> SMTPCapture:
        smtp = require("aiosmtpd.smtp", extra="mail", feature="The mail_outbox fixture")
        logging.getLogger("mail.log").addFilter(_quiet_deprecation)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))  # the OS picks the port: no race with other workers
        self.port = sock.getsockname()[1]
        loop = self._loop = asyncio.new_event_loop()
        handler = _Handler(self.sink.deliver)
        ready = threading.Event()

        def accept_any_login(*_: Any) -> Any:
            return smtp.AuthResult(success=True)

        def factory() -> Any:
            return smtp.SMTP(
                handler,
                hostname="testbed.smtp",
                auth_require_tls=False,
                authenticator=accept_any_login,
                enable_SMTPUTF8=True,
                loop=loop,
            )

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(loop.create_server(factory, sock=sock))
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="testbed-smtp", daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = self._thread = None

    def __enter__(self) -> SMTPCapture:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
