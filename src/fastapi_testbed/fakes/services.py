"""What the fakes set up once per session, before the app is imported, from [tool.testbed].

- `smtp_host_env`/`smtp_port_env`: an in-process SMTP server; its address goes into those vars.
- `mail_send_function`: a send function to replace (see `SendFunctionReplacement`).
- `s3_buckets`, `s3_region`, `s3_endpoint_env`: fake AWS credentials; with `s3_endpoint_env`,
  a moto server whose URL goes into that variable (for aioboto3/aiobotocore).
- `allowed_hosts`: hosts the network guard lets tests reach.
- `current_user`: the app's current-user dependency, for `login_as`.
- `n_plus_one_threshold`: turn the N+1 check on for every test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi_testbed.fakes.extras import MissingExtraError
from fastapi_testbed.fakes.network import HttpxStrayHook

if TYPE_CHECKING:  # the mail fake is imported by a project that configures mail, when it runs
    from fastapi_testbed.fakes.mail import MailSink, SendFunctionReplacement, SMTPCapture

__all__ = ["BAD_KEY", "MAIL_NOT_CONFIGURED", "FakeServices"]

BAD_KEY = "[tool.testbed] {key} in {path} must be {expected}; found {found!r}."
MAIL_NOT_CONFIGURED = (
    "mail_outbox needs to know how the app sends mail. In pyproject.toml, either name the "
    "environment variables the app reads its SMTP server from:\n"
    '    [tool.testbed]\n    smtp_host_env = "SMTP_HOST"\n    smtp_port_env = "SMTP_PORT"\n'
    "or, for an app that does not speak SMTP, the function that sends:\n"
    '    mail_send_function = "myapp.mail:send_email"'
)


class FakeServices:
    """The session-wide part of the fakes; `start()` before the app is imported, then `stop()`."""

    def __init__(self, table: Mapping[str, Any], root: Path, pyproject: Path | None = None):
        self.table = table
        self.root = root
        self.pyproject = pyproject or root / "pyproject.toml"
        self.smtp: SMTPCapture | None = None
        self.smtp_error: MissingExtraError | None = None
        self.s3: Any = None  # a FakeS3 when [tool.testbed] names buckets or an endpoint variable
        self._send_function: SendFunctionReplacement | None = None
        self._saved: dict[str, str | None] = {}

    def _get(self, key: str, kind: type | tuple[type, ...], expected: str) -> Any:
        value = self.table.get(key)
        if value is not None and not isinstance(value, kind):
            raise ValueError(
                BAD_KEY.format(key=key, path=self.pyproject, expected=expected, found=value)
            )
        return value

    def _set_env(self, name: str, value: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _unset_env(self, name: str) -> None:
        if name in os.environ:
            self._saved.setdefault(name, os.environ.pop(name))

    # --- settings -------------------------------------------------------------------------------
    @property
    def allowed_hosts(self) -> list[str]:
        return list(self._get("allowed_hosts", list, "a list of host names") or [])

    @property
    def current_user(self) -> str | None:
        return self._get("current_user", str, 'a "module:attribute" string')  # type: ignore[no-any-return]

    @property
    def n_plus_one_threshold(self) -> int | None:
        return self._get("n_plus_one_threshold", int, "an integer")  # type: ignore[no-any-return]

    @property
    def mail_configured(self) -> bool:
        return bool(self.table.get("smtp_host_env") or self.table.get("mail_send_function"))

    @cached_property
    def sink(self) -> MailSink:
        """Where the mails the app sends during a test end up."""
        from fastapi_testbed.fakes.mail import MailSink

        return MailSink()

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeServices:
        host_env = self._get("smtp_host_env", str, "a variable name")
        port_env = self._get("smtp_port_env", str, "a variable name")
        self._get("mail_send_function", str, 'a "module:function" string')
        if host_env or port_env:
            from fastapi_testbed.fakes.mail import SMTPCapture

            try:
                self.smtp = SMTPCapture(self.sink).start()
            except MissingExtraError as error:
                self.smtp_error = error
            else:
                if host_env:
                    self._set_env(host_env, self.smtp.host)
                if port_env:
                    self._set_env(port_env, str(self.smtp.port))
        buckets = self._get("s3_buckets", list, "a list of bucket names")
        endpoint_env = self._get("s3_endpoint_env", str, "a variable name")
        region = self._get("s3_region", str, "a region name") or "us-east-1"
        if buckets is not None or endpoint_env or "s3_region" in self.table:
            from fastapi_testbed.fakes.s3 import UNSET_AWS_VARIABLES, FakeS3

            self.s3 = FakeS3(buckets or [], region=region)
            for name in UNSET_AWS_VARIABLES:
                self._unset_env(name)
            for name, value in self.s3.environment().items():
                self._set_env(name, value)
            if endpoint_env:
                # without moto, the s3 fixture reports the missing extra where it is used
                with contextlib.suppress(MissingExtraError):
                    self._set_env(endpoint_env, self.s3.start_server())
        return self

    @cached_property
    def httpx_hook(self) -> HttpxStrayHook | None:
        """The session's httpx hook (installed on first use), or None without httpx."""
        try:
            hook = HttpxStrayHook()
            hook.install()
        except ImportError:
            return None
        return hook

    def stop(self) -> None:
        if "httpx_hook" in self.__dict__ and self.httpx_hook is not None:
            self.httpx_hook.uninstall()
        if self._send_function is not None:
            self._send_function.restore()
        if self.smtp is not None:
            self.smtp.stop()
        if self.s3 is not None:
            self.s3.stop_server()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()

    def describe(self) -> list[str]:
        """One line per active fake, for pytest's report header."""
        lines = []
        if self.smtp is not None:
            names = "/".join(self.table.get(k) or "-" for k in ("smtp_host_env", "smtp_port_env"))
            lines.append(f"mail: SMTP server {self.smtp.host}:{self.smtp.port} ({names})")
        elif self.smtp_error is not None:
            lines.append("mail: no SMTP server, aiosmtpd is missing (fastapi-testbed[mail])")
        if self.table.get("mail_send_function"):
            lines.append(f"mail: {self.table['mail_send_function']} replaced in every test")
        if self.s3 is not None:
            server = f", server {self.s3.endpoint}" if self.s3.endpoint else ""
            buckets = ", ".join(self.s3.buckets) or "none"
            lines.append(f"s3: moto in {self.s3.region}, buckets {buckets}{server}")
        return lines

    # --- per test -------------------------------------------------------------------------------
    @contextmanager
    def send_function_replaced(self) -> Iterator[None]:
        """Replace `mail_send_function` for one test (made once: the app is imported by then)."""
        target = self.table.get("mail_send_function")
        if not target:
            yield
            return
        if self._send_function is None:
            from fastapi_testbed.fakes.mail import SendFunctionReplacement

            self._send_function = SendFunctionReplacement(target, self.sink.deliver, self.root)
        with self._send_function:
            yield
