"""A real SMTP server on loopback (aiosmtpd) with STARTTLS on a self-signed certificate made
for the test session, AUTH (PLAIN/LOGIN, only once encrypted), and one fault: take the
message, then drop the connection before the final reply to DATA (the "was it sent?" case).

The certificate is made with the `openssl` command (names 127.0.0.1 and localhost); cmflow
trusts it through `SSL_CERT_FILE`, as any OpenSSL program does, so the client verifies the
certificate exactly as it would a real provider's.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

SMTP_USER, SMTP_PASSWORD = "lettre@brulerie.example", "smtp-S3cr3t-pass-91ab"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its key for 127.0.0.1 / localhost, via `openssl`."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is needed to make the test certificate")
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Received:
    """One message the server accepted (or took before dropping the connection)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    encrypted: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    """The server and what it received; `drop_next` makes the next DATA a lost answer."""

    cert: Path
    key: Path
    users: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    drops: int = 0  # DATA exchanges still to drop after taking the message
    refuse_rcpt: str | None = None  # a reply such as "450 4.2.1 try later" to every RCPT
    host: str = "127.0.0.1"
    port: int = 0
    _controller: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert), str(self.key))
        server = self

        class Handler:
            async def handle_RCPT(
                self, srv: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                if server.refuse_rcpt:
                    return server.refuse_rcpt
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
                got = Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    bytes(envelope.original_content or envelope.content),
                    login,
                    srv._tls_protocol is not None,
                )
                with server._lock:
                    server.received.append(got)
                    drop = server.drops > 0
                    if drop:
                        server.drops -= 1
                if drop:
                    srv.transport.abort()  # taken, then no answer: the client cannot know
                return "250 2.0.0 Ok: queued"

        def authenticate(
            srv: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            if not isinstance(data, LoginPassword):
                return AuthResult(success=False, handled=False)
            user, password = data.login.decode(), data.password.decode()
            ok = server.users.get(user) == password
            return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

        with socket.socket() as probe:
            probe.bind((self.host, 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(
            Handler(),
            hostname=self.host,
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_require_tls=True,
            auth_required=bool(self.users),
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.drops = 0
            self.refuse_rcpt = None

    def with_id(self, message_id: str) -> list[Received]:
        return [r for r in self.received if r.message["Message-ID"] == message_id]
