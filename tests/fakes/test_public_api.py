"""The public surface: every name in __all__ resolves, and the plain context managers work alone."""

from __future__ import annotations

import smtplib
import threading
import urllib.request
from email.message import EmailMessage

import pytest

import fastapi_testbed.fakes as fakes
from fastapi_testbed.fakes.mail import MailOutbox, SMTPCapture, mail_from_call, parse_mail
from fastapi_testbed.fakes.network import NetworkGuard, StrayRequestError
from fastapi_testbed.fakes.queries import statement_shape


@pytest.mark.parametrize("name", fakes.__all__)
def test_all_names_resolve(name: str) -> None:
    assert getattr(fakes, name) is not None


def test_smtp_capture_without_pytest_fixtures() -> None:
    with SMTPCapture() as smtp, smtp.capture() as outbox:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@x.io", "b@x.io", "Hi"
        message.set_content("See https://x.io/a?b=1.")
        with smtplib.SMTP(smtp.host, smtp.port) as client:
            client.send_message(message)
    assert [(m.to, m.links) for m in outbox] == [(["b@x.io"], ["https://x.io/a?b=1"])]


def test_parse_mail_attachments_and_cc() -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Cc"] = "A <a@x.io>", "b@x.io", "c@x.io"
    message["Subject"] = "Report"
    message.set_content("Attached.")
    message.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="r.pdf")
    mail = parse_mail(bytes(message))
    assert (mail.sender, mail.cc, mail.recipients) == ("a@x.io", ["c@x.io"], ["b@x.io", "c@x.io"])
    assert [(a.filename, a.content_type, a.content) for a in mail.attachments] == [
        ("r.pdf", "application/pdf", b"%PDF")
    ]


def test_mail_from_call_reads_a_model_argument() -> None:
    class Message:  # shaped like fastapi-mail's MessageSchema
        def __init__(self) -> None:
            self.recipients, self.subject = ["ada@x.io"], "Welcome"
            self.body = "<p>Go to <a href='https://x.io/start'>start</a></p>"

        def model_dump(self) -> dict[str, object]:
            return dict(vars(self))

    def send_message(message: Message) -> None: ...

    mail = mail_from_call(send_message, (Message(),), {})
    assert (mail.to, mail.subject, mail.links) == (["ada@x.io"], "Welcome", ["https://x.io/start"])
    assert mail.html.startswith("<p>")


def test_network_guard_alone() -> None:
    with NetworkGuard() as guard, pytest.raises(StrayRequestError):
        urllib.request.urlopen("http://192.0.2.1/", timeout=1)
    assert guard.strays == ["connection to 192.0.2.1:80"]


@pytest.mark.parametrize(
    ("sql", "shape"),
    [
        ("SELECT * FROM t WHERE id = $1::INTEGER", "SELECT * FROM t WHERE id = ?"),
        ("SELECT * FROM t WHERE id IN (%(id_1)s, %(id_2)s)", "SELECT * FROM t WHERE id IN (?...)"),
        ("SELECT * FROM t WHERE a = 'x''y' LIMIT 10", "SELECT * FROM t WHERE a = ? LIMIT ?"),
        ("SELECT x::text FROM t2 WHERE b = :b", "SELECT x::text FROM t2 WHERE b = ?"),
    ],
)
def test_statement_shape(sql: str, shape: str) -> None:
    assert statement_shape(sql) == shape


def test_outbox_waits_for_mails_from_threads() -> None:
    outbox = MailOutbox()
    threading.Timer(0.05, outbox.append, [parse_mail("Subject: late\n\nhi")]).start()
    assert outbox.wait_for(1, timeout=2)[0].subject == "late"
    with pytest.raises(AssertionError, match="Expected at least 2 mail"):
        outbox.wait_for(2, timeout=0.05)
