"""send_digests against a real SMTP server (aiosmtpd on 127.0.0.1), plain, STARTTLS and SMTPS.

The TLS tests use a throw-away self-signed certificate for 127.0.0.1/localhost made with
``cryptography``; the client trusts exactly that certificate, so verification (including the
host name) stays on, as in production.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from riskreg.reminders.decide import DueReminder, Recipient, ReminderItem
from riskreg.reminders.digest import OutgoingDigest, build_messages
from riskreg.reminders.smtp import SmtpConfig, send_digests

STHLM = ZoneInfo("Europe/Stockholm")
NOW = dt.datetime(2025, 10, 9, 7, 0, tzinfo=STHLM)
BASE = "https://riskreg.region.se"
SENDER = "riskreg <noreply@region.se>"
USER, PASSWORD = "riskreg", "hemligt-losenord-1"

MAILBOX = Recipient("ce@region.se", "CE", "sv", None, 10)
ANNA = Recipient("anna@region.se", "Anna Åström", "en", 1, 10)
BOSS = Recipient("chef@region.se", "Örjan Chef", "sv", 2, 10)


# --- server side ----------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: bytes | None


@dataclass
class RecordingHandler:
    """Keeps every accepted message; refuses configured recipients or message bodies."""

    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    refuse_data_containing: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if self.refuse_data_containing and self.refuse_data_containing.encode() in raw:
            return "554 5.6.0 Message content rejected"
        if envelope.smtp_utf8:  # headers are raw UTF-8 (RFC 6532)
            parsed = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
        else:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=parsed,
                # session.ssl is only set after STARTTLS, not for implicit TLS.
                tls=server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
                login=session.auth_data.login
                if isinstance(session.auth_data, LoginPassword)
                else None,
            )
        )
        return "250 Message accepted for delivery"


def authenticator(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    # handled=False: let aiosmtpd send the 535 reply on failure.
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def plain_server(handler: RecordingHandler) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@dataclass(frozen=True)
class Cert:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_file))


def make_cert(directory: Path, names: list[x509.GeneralName]) -> Cert:
    """Self-signed certificate for ``names``, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "riskreg test SMTP")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Cert(cert_file, key_file)


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """Certificate for 127.0.0.1 and localhost."""
    return make_cert(
        tmp_path_factory.mktemp("smtp-cert"),
        [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))],
    )


@pytest.fixture
def starttls_server(handler: RecordingHandler, cert: Cert) -> Iterator[Controller]:
    """Submission-style server: STARTTLS required, AUTH only after TLS."""
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=cert.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def smtps_server(handler: RecordingHandler, cert: Cert) -> Iterator[Controller]:
    """Implicit TLS (port 465 style)."""
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=cert.server_context(),
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; the whole session is TLS.
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


# --- client side ----------------------------------------------------------------------------


def _item(item_id: int, due: str, title: str) -> ReminderItem:
    return ReminderItem(
        "action", item_id, title, 10, "CE", dt.date.fromisoformat(due), False, f"/actions/{item_id}"
    )


def outgoing() -> list[OutgoingDigest]:
    """Three digests: anna (en), ce mailbox (sv, two items), chef (escalation)."""
    late = _item(1, "2025-09-25", "Återkrav från vårdgivare")
    soon = _item(2, "2025-10-12", "Säkerställ behörighet för passerkort")
    reminders = [
        DueReminder(late, "overdue", 14, MAILBOX, late.due_date, late.due_date),
        DueReminder(soon, "before", 3, MAILBOX, soon.due_date, soon.due_date),
        DueReminder(soon, "before", 3, ANNA, soon.due_date, soon.due_date),
        DueReminder(late, "escalation", 14, BOSS, late.due_date, late.due_date),
    ]
    return build_messages(reminders, base_url=BASE, sender=SENDER, now=NOW)


def config(controller: Controller, **extra: Any) -> dict[str, Any]:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": controller.port,
        "MAIL_DEFAULT_SENDER": SENDER,
        **extra,
    }


def by_rcpt(handler: RecordingHandler) -> dict[str, Received]:
    return {r.rcpt_tos[0]: r for r in handler.received}


# --- tests ----------------------------------------------------------------------------------


def test_sends_one_digest_per_recipient(
    plain_server: Controller, handler: RecordingHandler
) -> None:
    out = outgoing()
    result = send_digests([o.message for o in out], config(plain_server))

    assert result.ok, result.summary()
    assert result.error is None
    assert [r.recipients for r in result.results] == [
        ("anna@region.se",),
        ("ce@region.se",),
        ("chef@region.se",),
    ]
    assert [r.message_id for r in result.results] == [str(o.message["Message-ID"]) for o in out]
    assert result.summary() == "3 of 3 digests sent"

    assert len(handler.received) == 3
    assert all(len(r.rcpt_tos) == 1 for r in handler.received)
    assert all(r.mail_from == "noreply@region.se" for r in handler.received)
    got = by_rcpt(handler)
    assert set(got) == {"anna@region.se", "ce@region.se", "chef@region.se"}

    mailbox = got["ce@region.se"].message
    assert mailbox["Subject"] == "riskreg: påminnelse om 2 ärenden (1 försenat)"
    assert mailbox.get_content_type() == "multipart/alternative"
    text_part, html_part = mailbox.get_body(("plain",)), mailbox.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()  # type: ignore[union-attr]
    assert "Återkrav från vårdgivare" in text and "Återkrav från vårdgivare" in html
    assert "Säkerställ behörighet för passerkort" in text
    assert "Öppna i riskreg: https://riskreg.region.se/actions/1" in text
    assert "Öppna i riskreg: https://riskreg.region.se/actions/2" in text
    assert '<a href="https://riskreg.region.se/actions/1">' in html
    assert "[FÖRSENAD]" in text

    anna = got["anna@region.se"].message
    assert anna["Subject"] == "riskreg: reminder about 1 item"
    assert anna["To"].addresses[0].display_name == "Anna Åström"

    boss = got["chef@region.se"].message
    assert boss["Subject"].startswith("[Eskalering] ")


def test_server_down_fails_every_digest_with_a_clear_message() -> None:
    port = free_port()  # bound and released: nothing listens there
    out = outgoing()
    result = send_digests(
        [o.message for o in out], {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}, timeout=5
    )
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(f"could not connect to SMTP server 127.0.0.1:{port} (plain)")
    assert "refused" in result.error.lower()
    assert [r.status for r in result.results] == ["failed"] * 3
    assert all(r.error == result.error for r in result.results)
    assert result.sent == ()
    assert result.summary().startswith("0 of 3 digests sent; could not connect")


def test_a_refused_recipient_fails_only_that_digest(
    plain_server: Controller, handler: RecordingHandler
) -> None:
    handler.refuse_rcpt["anna@region.se"] = "550 5.1.1 <anna@region.se>: Recipient unknown"
    result = send_digests([o.message for o in outgoing()], config(plain_server))

    assert not result.ok
    assert result.error is None  # not a connection problem
    anna, mailbox, boss = result.results
    assert (anna.status, anna.code) == ("failed", 550)
    assert anna.error == (
        "recipient refused: anna@region.se: 550 5.1.1 <anna@region.se>: Recipient unknown"
    )
    assert mailbox.ok and boss.ok
    assert set(by_rcpt(handler)) == {"ce@region.se", "chef@region.se"}
    assert result.summary().startswith("2 of 3 digests sent")
    assert "failed: anna@region.se: recipient refused" in result.summary()


def test_a_refused_message_body_fails_only_that_digest(
    plain_server: Controller, handler: RecordingHandler
) -> None:
    handler.refuse_data_containing = "Subject: [Eskalering]"
    result = send_digests([o.message for o in outgoing()], config(plain_server))
    assert [r.status for r in result.results] == ["sent", "sent", "failed"]
    boss = result.results[2]
    assert boss.code == 554
    assert boss.error == "message refused: 554 5.6.0 Message content rejected"


def test_connection_lost_mid_run_fails_the_rest(
    plain_server: Controller, handler: RecordingHandler
) -> None:
    # 421 makes smtplib close the connection; the remaining digests cannot be sent.
    handler.refuse_rcpt["ce@region.se"] = "421 4.3.2 Service shutting down"
    result = send_digests([o.message for o in outgoing()], config(plain_server))
    anna, mailbox, boss = result.results
    assert anna.ok
    assert (mailbox.status, mailbox.code) == ("failed", 421)
    assert boss.status == "failed"
    assert result.error == (
        f"connection to SMTP server 127.0.0.1:{plain_server.port} (plain) was closed by the server"
    )
    assert boss.error == result.error
    assert set(by_rcpt(handler)) == {"anna@region.se"}


def test_partially_refused_hand_made_message_is_reported_failed(
    plain_server: Controller, handler: RecordingHandler
) -> None:
    handler.refuse_rcpt["b@region.se"] = "550 5.1.1 Recipient unknown"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "n@region.se",
        "a@region.se, b@region.se",
        "x",
    )
    message.set_content("x")
    [res] = send_digests([message], config(plain_server)).results
    assert (res.status, res.code) == ("failed", 550)
    assert res.recipients == ("a@region.se", "b@region.se")
    assert "b@region.se: 550" in (res.error or "")


def test_a_malformed_message_fails_alone(
    plain_server: Controller, handler: RecordingHandler
) -> None:
    no_sender = EmailMessage()
    no_sender["To"], no_sender["Subject"] = "a@region.se", "x"
    no_sender.set_content("x")
    good = outgoing()[0].message
    first, second = send_digests([no_sender, good], config(plain_server)).results
    assert first.status == "failed" and (first.error or "").startswith("message not sendable:")
    assert second.ok
    assert set(by_rcpt(handler)) == {"anna@region.se"}


def test_internationalised_address_without_smtputf8_fails_alone(handler: RecordingHandler) -> None:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=False)
    controller.start()
    try:
        asa = Recipient("åsa@region.se", "Åsa", "sv", 5, 10)
        it = _item(3, "2025-10-12", "Kemikalieriskbedömning")
        messages = [
            o.message
            for o in build_messages(
                [
                    DueReminder(it, "before", 3, asa, it.due_date, it.due_date),
                    DueReminder(it, "before", 3, MAILBOX, it.due_date, it.due_date),
                ],
                base_url=BASE,
                sender=SENDER,
                now=NOW,
            )
        ]
        results = send_digests(messages, config(controller)).results
    finally:
        controller.stop()
    assert [r.recipients for r in results] == [("ce@region.se",), ("åsa@region.se",)]
    assert [r.status for r in results] == ["sent", "failed"]
    assert "SMTPUTF8" in (results[1].error or "")


def test_internationalised_address_with_smtputf8(
    plain_server: Controller, handler: RecordingHandler
) -> None:
    asa = Recipient("åsa@region.se", 'Åsa "Kemi" Ek', "sv", 5, 10)
    it = _item(3, "2025-10-12", "Kemikalieriskbedömning")
    [out] = build_messages(
        [DueReminder(it, "before", 3, asa, it.due_date, it.due_date)],
        base_url=BASE,
        sender=SENDER,
        now=NOW,
    )
    result = send_digests([out.message], config(plain_server))
    assert result.ok, result.summary()
    [received] = handler.received
    assert received.rcpt_tos == ["åsa@region.se"]
    to = received.message["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ('Åsa "Kemi" Ek', "åsa@region.se")


def test_no_messages_means_no_connection() -> None:
    result = send_digests([], {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()})
    assert result.ok and result.results == () and result.error is None


def test_starttls_with_login(
    starttls_server: Controller, handler: RecordingHandler, cert: Cert
) -> None:
    result = send_digests(
        [o.message for o in outgoing()],
        config(starttls_server, MAIL_USE_TLS=True, MAIL_USERNAME=USER, MAIL_PASSWORD=PASSWORD),
        ssl_context=cert.client_context(),
    )
    assert result.ok, result.summary()
    assert len(handler.received) == 3
    assert all(r.tls and r.login == USER.encode() for r in handler.received)


def test_starttls_trusting_the_ca_through_ssl_cert_file(
    starttls_server: Controller,
    handler: RecordingHandler,
    cert: Cert,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The production path: default context, regional CA supplied via SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert_file))
    result = send_digests(
        [o.message for o in outgoing()],
        config(starttls_server, MAIL_USE_TLS="true", MAIL_USERNAME=USER, MAIL_PASSWORD=PASSWORD),
    )
    assert result.ok, result.summary()
    assert all(r.tls for r in handler.received)


def test_starttls_with_an_untrusted_certificate_fails_clearly(
    starttls_server: Controller, handler: RecordingHandler
) -> None:
    # The default context trusts the system CAs, which did not sign the test certificate.
    untrusting = ssl.create_default_context()
    result = send_digests(
        [o.message for o in outgoing()],
        config(starttls_server, MAIL_USE_TLS=True),
        ssl_context=untrusting,
    )
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(
        f"TLS with SMTP server 127.0.0.1:{starttls_server.port} (STARTTLS) failed"
    )
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert handler.received == []


def test_starttls_with_a_certificate_for_another_host_fails(
    handler: RecordingHandler, tmp_path: Path
) -> None:
    # Trusted issuer, but issued to another name: host-name verification must reject it.
    other = make_cert(tmp_path, [x509.DNSName("smtp.other.example")])
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=other.server_context(),
        require_starttls=True,
    )
    controller.start()
    try:
        result = send_digests(
            [o.message for o in outgoing()],
            config(controller, MAIL_USE_TLS=True),
            ssl_context=other.client_context(),
        )
    finally:
        controller.stop()
    assert not result.ok
    assert result.error is not None and "TLS with SMTP server" in result.error
    assert "mismatch" in result.error or "match" in result.error
    assert handler.received == []


def test_without_starttls_a_server_that_requires_it_refuses_each_message(
    starttls_server: Controller, handler: RecordingHandler
) -> None:
    result = send_digests([o.message for o in outgoing()], config(starttls_server))
    assert [r.code for r in result.results] == [530, 530, 530]
    assert all("STARTTLS" in (r.error or "") for r in result.results)
    assert handler.received == []


def test_wrong_password_fails_every_digest(
    starttls_server: Controller, handler: RecordingHandler, cert: Cert
) -> None:
    result = send_digests(
        [o.message for o in outgoing()],
        config(starttls_server, MAIL_USE_TLS=True, MAIL_USERNAME=USER, MAIL_PASSWORD="wrong-4711"),
        ssl_context=cert.client_context(),
    )
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("SMTP login as 'riskreg' refused by 127.0.0.1:")
    assert "535" in result.error
    assert "4711" not in result.summary()  # never echo the password
    assert len(result.failed) == 3
    assert handler.received == []


def test_implicit_tls(smtps_server: Controller, handler: RecordingHandler, cert: Cert) -> None:
    result = send_digests(
        [o.message for o in outgoing()],
        config(smtps_server, MAIL_USE_SSL=True, MAIL_USERNAME=USER, MAIL_PASSWORD=PASSWORD),
        ssl_context=cert.client_context(),
    )
    assert result.ok, result.summary()
    assert all(r.tls and r.login == USER.encode() for r in handler.received)


def test_plain_client_against_implicit_tls_server_fails_cleanly(smtps_server: Controller) -> None:
    result = send_digests([o.message for o in outgoing()], config(smtps_server), timeout=2)
    assert not result.ok
    assert result.error is not None and "127.0.0.1" in result.error


# --- configuration --------------------------------------------------------------------------


def test_config_defaults_follow_flask_mail() -> None:
    assert SmtpConfig.from_mapping({}) == SmtpConfig(server="localhost", port=25)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("", False),
        (None, False),
        (1, True),
        (0, False),
        ("yes", True),
        (" off ", False),
    ],
)
def test_config_booleans_from_environment_strings(raw: object, expected: bool) -> None:
    assert SmtpConfig.from_mapping({"MAIL_USE_TLS": raw}).use_tls is expected


@pytest.mark.parametrize(
    "bad",
    [
        {"MAIL_USE_TLS": True, "MAIL_USE_SSL": True},
        {"MAIL_USE_TLS": "perhaps"},
        {"MAIL_PORT": "smtp"},
        {"MAIL_PORT": 0},
        {"MAIL_PORT": 70000},
        {"MAIL_USERNAME": "u"},
        {"MAIL_USERNAME": "u", "MAIL_PASSWORD": "hemligt-lösenord"},
        {"MAIL_USERNAME": "användare", "MAIL_PASSWORD": "p"},
    ],
)
def test_invalid_config_raises_before_connecting(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SmtpConfig.from_mapping(bad)


def test_config_port_as_string_and_describe() -> None:
    cfg = SmtpConfig.from_mapping(
        {
            "MAIL_SERVER": "smtp.region.se",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": "1",
            "MAIL_USERNAME": "u",
            "MAIL_PASSWORD": "p",
        }
    )
    assert cfg.port == 587
    assert cfg.describe() == "smtp.region.se:587 (STARTTLS)"
