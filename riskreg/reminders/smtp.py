"""Send digest messages over one SMTP connection and report the outcome of each.

Why plain ``smtplib`` and not Flask-Mail: the sender runs from the CLI outside a request, and
Flask-Mail's ``send`` raises on the first refused recipient, so a run could not tell which
digests went out. Here every message gets its own result; only messages the server accepted
may be logged as sent. The configuration keys are Flask-Mail's, so one config serves both.

Failure model
-------------
* Cannot connect, TLS handshake fails, login refused: nothing was sent, every message is
  reported failed with one clear message (``SendResult.error``); the caller exits non-zero.
* The server refuses a recipient (e.g. 550), the sender or the data of one message: that
  message is failed with the server's code and text, the others are still sent.
* The connection drops mid-run: the current and all remaining messages are failed. A message
  whose DATA was accepted just before the drop would be reported failed and re-sent next run;
  for reminders, a rare duplicate is better than a lost one.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, Literal

__all__ = [
    "MessageResult",
    "SendResult",
    "SmtpConfig",
    "send_digests",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _as_bool(name: str, value: Any) -> bool:
    """Config values may come from environment variables as strings; "False" must be False."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name} must be a boolean, got {value!r}")


@dataclass(frozen=True)
class SmtpConfig:
    """The Flask-Mail keys this sender understands, validated.

    Defaults follow Flask-Mail (localhost:25, no TLS). ``MAIL_USE_TLS`` means STARTTLS on a
    plain connection (usually port 587), ``MAIL_USE_SSL`` implicit TLS (usually port 465);
    both at once is a configuration error, not something to guess about.
    """

    server: str = "localhost"
    port: int = 25
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> SmtpConfig:
        use_tls = _as_bool("MAIL_USE_TLS", config.get("MAIL_USE_TLS"))
        use_ssl = _as_bool("MAIL_USE_SSL", config.get("MAIL_USE_SSL"))
        if use_tls and use_ssl:
            raise ValueError(
                "MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (implicit TLS) exclude "
                "each other; set only one"
            )
        raw_port = config.get("MAIL_PORT")
        try:
            port = 25 if raw_port in (None, "") else int(raw_port)
        except (TypeError, ValueError):
            raise ValueError(f"MAIL_PORT must be a number, got {raw_port!r}") from None
        if not 0 < port < 65536:
            raise ValueError(f"MAIL_PORT out of range: {port}")
        server = str(config.get("MAIL_SERVER") or "localhost").strip()
        username = config.get("MAIL_USERNAME") or None
        password = config.get("MAIL_PASSWORD")
        if username is not None and password is None:
            raise ValueError("MAIL_USERNAME is set but MAIL_PASSWORD is not")
        for key, value in (("MAIL_USERNAME", username), ("MAIL_PASSWORD", password)):
            # smtplib encodes AUTH responses as ASCII and raises UnicodeEncodeError mid-session
            # otherwise; say so before connecting instead.
            if value is not None and not str(value).isascii():
                raise ValueError(f"{key} must contain only ASCII characters (an smtplib limit)")
        return cls(
            server=server,
            port=port,
            use_tls=use_tls,
            use_ssl=use_ssl,
            username=username,
            password=password,
        )

    def describe(self) -> str:
        """Where we connect, for error messages (never includes the password)."""
        mode = "implicit TLS" if self.use_ssl else "STARTTLS" if self.use_tls else "plain"
        return f"{self.server}:{self.port} ({mode})"


@dataclass(frozen=True)
class MessageResult:
    """Outcome of one message. ``code``/``error`` carry the server's reply when refused."""

    index: int
    message_id: str | None
    recipients: tuple[str, ...]
    status: Literal["sent", "failed"]
    code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "sent"


@dataclass(frozen=True)
class SendResult:
    """Per-message results in input order, plus a run-level error when nothing could be sent."""

    results: tuple[MessageResult, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.ok for r in self.results)

    @property
    def sent(self) -> tuple[MessageResult, ...]:
        return tuple(r for r in self.results if r.ok)

    @property
    def failed(self) -> tuple[MessageResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def summary(self) -> str:
        """One paragraph for the CLI's exit message."""
        text = f"{len(self.sent)} of {len(self.results)} digests sent"
        if self.error:
            text += f"; {self.error}"
        for failure in self.failed:
            if failure.error != self.error:
                text += f"\n  failed: {', '.join(failure.recipients)}: {failure.error}"
        return text


def _recipients(message: EmailMessage) -> tuple[str, ...]:
    found: list[str] = []
    for header in ("To", "Cc", "Bcc"):
        for value in message.get_all(header, []):
            found.extend(a.addr_spec for a in getattr(value, "addresses", ()))
    return tuple(found)


def _message_id(message: EmailMessage) -> str | None:
    value = message.get("Message-ID")
    return None if value is None else str(value)


def _sender_problem(message: EmailMessage) -> str | None:
    """Why the envelope sender cannot be taken from the message, if it cannot.

    smtplib derives MAIL FROM from Sender/From and, without either, sends ``MAIL FROM:<None>``,
    which some servers accept. Such a message is refused here instead.
    """
    header = "Sender" if "Sender" in message else "From"
    addresses: tuple[Address, ...] = (
        getattr(message[header], "addresses", ()) if header in message else ()
    )
    if len(addresses) != 1 or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
        return f"the message needs exactly one {header} address"
    return None


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _connect(config: SmtpConfig, context: ssl.SSLContext, timeout: float) -> smtplib.SMTP:
    smtp: smtplib.SMTP
    if config.use_ssl:
        smtp = smtplib.SMTP_SSL(config.server, config.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(config.server, config.port, timeout=timeout)
    try:
        smtp.ehlo()
        if config.use_tls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _connection_error(config: SmtpConfig, exc: BaseException) -> str:
    where = config.describe()
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"SMTP login as {config.username!r} refused by {where}: "
            f"{exc.smtp_code} {_decode(exc.smtp_error)}"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"SMTP server {where} does not support what the configuration asks for: {exc}"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS with SMTP server {where} failed: {exc}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP server {where} refused the session: {exc.smtp_code} {_decode(exc.smtp_error)}"
    return f"could not connect to SMTP server {where}: {exc}"


def send_digests(
    messages: Sequence[EmailMessage],
    config: Mapping[str, Any],
    *,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> SendResult:
    """Send ``messages`` over one connection; never raises for SMTP or network errors.

    ``config`` holds the Flask-Mail keys (``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_USE_TLS``,
    ``MAIL_USE_SSL``, ``MAIL_USERNAME``, ``MAIL_PASSWORD``); an invalid configuration raises
    ``ValueError`` before connecting. The envelope sender is the message's ``From``
    (``build_message`` sets it from ``MAIL_DEFAULT_SENDER``).

    ``ssl_context`` defaults to ``ssl.create_default_context()``: certificates and host names are
    verified against the system trust store (``SSL_CERT_FILE`` can add a regional CA). Passing a
    context is for tests and unusual CAs, never for switching verification off.

    No messages, no connection: a day without reminders does not touch the server.
    """
    smtp_config = SmtpConfig.from_mapping(config)
    if not messages:
        return SendResult(results=())
    context = ssl_context if ssl_context is not None else ssl.create_default_context()

    def failed(index: int, error: str, code: int | None = None) -> MessageResult:
        message = messages[index]
        return MessageResult(
            index=index,
            message_id=_message_id(message),
            recipients=_recipients(message),
            status="failed",
            code=code,
            error=error,
        )

    try:
        smtp = _connect(smtp_config, context, timeout)
    except (OSError, UnicodeError, smtplib.SMTPException) as exc:
        # OSError covers refused/unreachable/timeouts and ssl.SSLError; UnicodeError a host name
        # that IDNA cannot encode.
        error = _connection_error(smtp_config, exc)
        return SendResult(
            results=tuple(failed(i, error) for i in range(len(messages))), error=error
        )

    results: list[MessageResult] = []
    run_error: str | None = None
    try:
        for index, message in enumerate(messages):
            if run_error is not None:
                results.append(failed(index, run_error))
                continue
            sender_problem = _sender_problem(message)
            if sender_problem is not None:
                results.append(failed(index, f"message not sendable: {sender_problem}"))
                continue
            try:
                refused = smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                code = next(iter(exc.recipients.values()), (None, b""))[0]
                text = "; ".join(
                    f"{addr}: {c} {_decode(r)}" for addr, (c, r) in exc.recipients.items()
                )
                results.append(failed(index, f"recipient refused: {text}", code))
            except smtplib.SMTPSenderRefused as exc:
                results.append(
                    failed(
                        index,
                        f"sender {exc.sender} refused: {exc.smtp_code} {_decode(exc.smtp_error)}",
                        exc.smtp_code,
                    )
                )
            except smtplib.SMTPServerDisconnected:
                # smtplib's own text ("please run connect() first") confuses operators.
                run_error = (
                    f"connection to SMTP server {smtp_config.describe()} was closed by the server"
                )
                results.append(failed(index, run_error))
            except smtplib.SMTPResponseException as exc:
                # SMTPDataError and friends: this message only.
                results.append(
                    failed(
                        index,
                        f"message refused: {exc.smtp_code} {_decode(exc.smtp_error)}",
                        exc.smtp_code,
                    )
                )
            except (smtplib.SMTPNotSupportedError, ValueError) as exc:
                # A problem with this message (an internationalised address the server cannot
                # take, no From header): the session is fine, the other digests can go.
                results.append(failed(index, f"message not sendable: {exc}"))
            except (OSError, smtplib.SMTPException) as exc:
                run_error = f"connection to SMTP server {smtp_config.describe()} failed: {exc}"
                results.append(failed(index, run_error))
            else:
                if refused:
                    # Some recipients refused, some accepted. Digests have one recipient, so
                    # this only happens with hand-made messages; report it as failed so the
                    # caller notices instead of silently logging a partial delivery.
                    text = "; ".join(
                        f"{addr}: {c} {_decode(r)}" for addr, (c, r) in refused.items()
                    )
                    first_code = next(iter(refused.values()))[0]
                    results.append(failed(index, f"recipient refused: {text}", first_code))
                else:
                    results.append(
                        MessageResult(
                            index=index,
                            message_id=_message_id(message),
                            recipients=_recipients(message),
                            status="sent",
                        )
                    )
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            # Messages already accepted stay accepted; a failing QUIT changes nothing.
            smtp.close()

    return SendResult(results=tuple(results), error=run_error)
