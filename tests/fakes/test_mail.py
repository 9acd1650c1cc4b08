"""mail_outbox: every mail the app sends, captured by an in-process SMTP server or send function."""

from __future__ import annotations

from fastapi_testbed.fakes.extras import MISSING_EXTRA
from fastapi_testbed.fakes.services import MAIL_NOT_CONFIGURED
from tests.conftest import Project
from tests.fakes.conftest import assert_in_output, build

SMTP_TABLE = """
smtp_host_env = "SMTP_HOST"
smtp_port_env = "SMTP_PORT"
"""

# The app's real sending code: smtplib, with a login, from a background task.
SMTP_MAILER = """
import os
import smtplib
from email.message import EmailMessage

SMTP_SERVER = (os.environ["SMTP_HOST"], int(os.environ["SMTP_PORT"]))  # read at import time


def send_reset_mail(to, token):
    message = EmailMessage()
    message["From"] = "Blog <no-reply@blog.example>"
    message["To"] = to
    message["Subject"] = "Reset your password"
    link = f"https://blog.example/reset?token={token}"
    message.set_content(f"Hello,\\nreset your password here: {link}\\n")
    message.add_alternative(f'<p><a href="{link}&amp;src=mail">Reset</a></p>', subtype="html")
    with smtplib.SMTP(*SMTP_SERVER) as smtp:
        smtp.login("mailer", "secret")
        smtp.send_message(message, to_addrs=[to, "audit@blog.example"])
"""

FORGOT_ROUTE = """
from tbapp.mailer import send_reset_mail


@app.post("/forgot", status_code=202)
async def forgot(payload: dict, background: BackgroundTasks):
    background.add_task(send_reset_mail, payload["email"], "tok-" + payload["email"][:3])
    return {}
"""

SMTP_TESTS = """
async def test_1_background_mail_is_captured(client, mail_outbox):
    assert mail_outbox == []
    assert (await client.post("/forgot", json={"email": "ada@example.com"})).status_code == 202
    [mail] = mail_outbox
    assert mail.to == ["ada@example.com"]
    assert mail.bcc == ["audit@blog.example"]
    assert mail.sender == "no-reply@blog.example"
    assert mail.subject == "Reset your password"
    assert "reset your password here" in mail.text
    assert mail.html.startswith("<p><a href=")
    assert mail.links == [
        "https://blog.example/reset?token=tok-ada&src=mail",
        "https://blog.example/reset?token=tok-ada",
    ]
    assert mail.link("/reset").split("token=")[1].startswith("tok-ada")
    assert mail_outbox.to("audit@blog.example") == [mail]


async def test_2_outbox_starts_empty(client, mail_outbox):
    assert mail_outbox == []
    await client.post("/forgot", json={"email": "bob@example.com"})
    assert [m.to for m in mail_outbox] == [["bob@example.com"]]


def test_3_sync_client_and_no_fixture(sync_client):
    # Sent without mail_outbox: captured and dropped, never delivered for real.
    assert sync_client.post("/forgot", json={"email": "eve@example.com"}).status_code == 202


def test_4_missing_link_names_the_links(sync_client, mail_outbox):
    sync_client.post("/forgot", json={"email": "ada@example.com"})
    mail_outbox[0].link("/unsubscribe")
"""


def test_smtp_capture(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        SMTP_TESTS,
        routes=FORGOT_ROUTE,
        modules={"mailer": SMTP_MAILER},
        extra=SMTP_TABLE,
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["testbed fakes: mail: SMTP server 127.0.0.1:* (SMTP_HOST/SMTP_PORT)"]
    )
    result.stdout.fnmatch_lines(
        [
            "*No link containing '/unsubscribe' in the mail 'Reset your password'; its links are:",
            "*  https://blog.example/reset?token=tok-ada&src=mail",
        ]
    )


def test_smtp_variables_are_set_before_the_app_is_imported(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        """
        import os
        from tbapp.mailer import SMTP_SERVER

        def test_server_address():
            assert SMTP_SERVER == ("127.0.0.1", int(os.environ["SMTP_PORT"]))
        """,
        modules={"mailer": SMTP_MAILER},
        extra=SMTP_TABLE,
        conftest="from tbapp.mailer import SMTP_SERVER  # the app, imported by a conftest\n",
    )
    sqlite_project.run().assert_outcomes(passed=1)


# An app that calls a mail API, imported by name into the router module (the classic patch trap).
API_MAILER = """
async def send_email(to: str, subject: str, html: str, *, sender: str = "app@example.com"):
    raise RuntimeError("the real mail API was called")
"""

API_ROUTE = """
from tbapp.apimail import send_email


@app.post("/invite", status_code=202)
async def invite(payload: dict, background: BackgroundTasks):
    html = f'<a href="https://app.example/join?code={payload["code"]}">Join</a>'
    background.add_task(send_email, payload["email"], "You are invited", html)
    return {}
"""

API_TESTS = """
from tbapp import apimail


async def test_send_function_is_captured(client, mail_outbox):
    await client.post("/invite", json={"email": "ada@example.com", "code": "c0de"})
    [mail] = mail_outbox
    assert (mail.to, mail.subject) == (["ada@example.com"], "You are invited")
    assert mail.sender == "app@example.com"  # the parameter's default
    assert mail.links == ["https://app.example/join?code=c0de"]
    assert mail.call["subject"] == "You are invited"


async def test_captured_even_without_the_fixture(client):
    response = await client.post("/invite", json={"email": "b@example.com", "code": "x"})
    assert response.status_code == 202


def test_the_original_is_back_outside_tests():
    assert apimail.send_email.__code__.co_consts  # the module attribute is a plain function again
"""


def test_send_function_capture(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        API_TESTS,
        routes=API_ROUTE,
        modules={"apimail": API_MAILER},
        extra='mail_send_function = "tbapp.apimail:send_email"',
    )
    sqlite_project.run().assert_outcomes(passed=3)


def test_mail_outbox_without_configuration(sqlite_project: Project) -> None:
    build(sqlite_project, "def test_mail(mail_outbox):\n    pass\n")
    result = sqlite_project.run()
    result.assert_outcomes(errors=1)
    assert_in_output(result, MAIL_NOT_CONFIGURED)


def test_missing_mail_extra(sqlite_project: Project, without) -> None:  # type: ignore[no-untyped-def]
    without("aiosmtpd")
    build(sqlite_project, "def test_mail(mail_outbox):\n    pass\n", extra=SMTP_TABLE)
    result = sqlite_project.run()
    result.assert_outcomes(errors=1)
    message = MISSING_EXTRA.format(
        feature="The mail_outbox fixture", package="aiosmtpd", extra="mail"
    )
    assert_in_output(result, message)
