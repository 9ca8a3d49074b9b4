"""Checkpoints: the audit trail's head, signed with the organisation's key, kept outside the
database.

A checkpoint is a small JSON document (entry number, its hash and time, when the checkpoint was
made) and a detached CMS signature over its exact bytes (``.json.p7s``, DER), made with the same
organisational certificate that signs the reports (``SIGNING_PKCS12``; read only). With
``TIMESTAMP_URL`` set, the signature carries an RFC 3161 timestamp token from that service, so
the time does not rest on the server's clock alone.

Both files go to ``AUDIT_CHECKPOINT_DIR`` (default ``instance/audit-checkpoints``), which
should be a place the database's administrators cannot rewrite (another host's share, WORM
storage); optionally they are e-mailed to ``AUDIT_CHECKPOINT_EMAILS`` (the revisorer). Anyone
can check one without riskreg::

    openssl cms -verify -binary -inform DER -in X.json.p7s -content X.json -CAfile ca.pem \\
        -purpose any

`riskreg audit verify` reads every checkpoint in the folder and checks the trail against it
(riskreg/audit/verify.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.audit.models import AuditEntry
from riskreg.audit.trail import GENESIS_HASH, canonical
from riskreg.errors import ServiceError

__all__ = [
    "Checkpoint",
    "CheckpointSettings",
    "chain_problems",
    "email_checkpoint",
    "newest_checkpoint",
    "read_checkpoints",
    "write_checkpoint",
]

FORMAT = "riskreg-audit-checkpoint/1"
DEFAULT_DIR = "audit-checkpoints"
SIGNATURE_SUFFIX = ".p7s"


@dataclass(frozen=True)
class CheckpointSettings:
    directory: Path
    pkcs12_path: Path
    passphrase: bytes | None
    trust_roots_path: Path
    timestamp_url: str | None
    emails: tuple[str, ...]

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], instance_path: str | Path
    ) -> CheckpointSettings:
        from riskreg.reports.services import SigningSettings

        signing = SigningSettings.from_config(config, instance_path)
        configured = config.get("AUDIT_CHECKPOINT_DIR")
        directory = Path(str(configured)) if configured else Path(instance_path) / DEFAULT_DIR
        if not directory.is_absolute():
            directory = Path(instance_path) / directory
        raw = config.get("AUDIT_CHECKPOINT_EMAILS") or ()
        emails = raw.split(",") if isinstance(raw, str) else list(raw)
        return cls(
            directory=directory,
            pkcs12_path=signing.pkcs12_path,
            passphrase=signing.passphrase,
            trust_roots_path=signing.trust_roots_path,
            timestamp_url=signing.timestamp_url,
            emails=tuple(e.strip() for e in emails if str(e).strip()),
        )


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file as read back, with the verdict on its signature."""

    path: Path
    entry: int
    hash: str
    created_at: datetime
    signature: str  # "valid", "untrusted" (intact, no trust root to check), "invalid", "missing"
    problem: str | None = None
    previous: dict[str, Any] | None = None  # {"file": name, "sha256": …} of the one before

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def usable(self) -> bool:
        """Only a checkpoint whose signature holds is evidence; others are findings."""
        return self.signature in ("valid", "untrusted")


def head(session: Session) -> tuple[int, str, datetime | None]:
    row = session.execute(
        select(AuditEntry.id, AuditEntry.hash, AuditEntry.at)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1], row[2]) if row else (0, GENESIS_HASH, None)


def _document(
    session: Session, now: datetime, organisation: str | None, previous: Path | None
) -> dict[str, Any]:
    entry, digest, entry_at = head(session)
    return {
        "format": FORMAT,
        "organisation": organisation,
        "entry": entry,
        "hash": digest,
        "entry_at": entry_at.isoformat() if entry_at else None,
        "created_at": now.astimezone(UTC).isoformat(),
        # The checkpoints chain too: a deleted or replaced earlier checkpoint file shows.
        "previous": None
        if previous is None
        else {"file": previous.name, "sha256": hashlib.sha256(previous.read_bytes()).hexdigest()},
    }


def _signer(settings: CheckpointSettings) -> Any:
    from pyhanko.sign import signers

    if not settings.pkcs12_path.is_file():
        raise ServiceError(
            f"Signeringsnyckeln {settings.pkcs12_path} finns inte; kör `riskreg keys init` "
            "(utveckling) eller ange SIGNING_PKCS12 och SIGNING_PASSPHRASE."
        )
    if not settings.passphrase:
        raise ServiceError("Lösenfrasen till signeringsnyckeln saknas (SIGNING_PASSPHRASE).")
    try:
        return signers.SimpleSigner.load_pkcs12_data(
            settings.pkcs12_path.read_bytes(), other_certs=(), passphrase=settings.passphrase
        )
    except ValueError as exc:
        raise ServiceError("Signeringsnyckeln kunde inte öppnas (fel lösenfras?).") from exc


def sign_detached(data: bytes, settings: CheckpointSettings) -> bytes:
    """A detached CMS SignedData (DER) over ``data``; timestamped when TIMESTAMP_URL is set."""
    from pyhanko.sign import timestamps
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    signer = _signer(settings)
    timestamper = (
        timestamps.HTTPTimeStamper(settings.timestamp_url) if settings.timestamp_url else None
    )
    try:
        content = asyncio.run(
            signer.async_sign_general_data(
                data, "sha256", detached=True, use_cades=True, timestamper=timestamper
            )
        )
    except TimestampRequestError as exc:
        raise ServiceError(f"Tidsstämpeltjänsten {settings.timestamp_url} svarade inte.") from exc
    return bytes(content.dump())


def _write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet, durably: temp file, fsync, rename."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            raise FileExistsError(path)
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


def write_checkpoint(
    session: Session,
    settings: CheckpointSettings,
    *,
    now: datetime,
    organisation: str | None = None,
) -> tuple[Path, Path, dict[str, Any]]:
    """Sign the chain's current head and write ``checkpoint-…json`` and its ``.p7s``.

    The signature is written last: a crash in between leaves a JSON file without a signature,
    which verify reports as an unsigned checkpoint and ignores.
    """
    newest = newest_checkpoint(settings)
    document = _document(session, now, organisation, newest[2] if newest else None)
    data = (canonical(document) + "\n").encode("utf-8")
    signature = sign_detached(data, settings)
    settings.directory.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    json_path = settings.directory / f"checkpoint-{stamp}-{document['entry']:09d}.json"
    sig_path = json_path.with_name(json_path.name + SIGNATURE_SUFFIX)
    _write_new(json_path, data)
    _write_new(sig_path, signature)
    return json_path, sig_path, document


def _verify_signature(
    data: bytes, signature: bytes, trust_roots: Sequence[Any]
) -> tuple[str, str | None]:
    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    try:
        content = cms.ContentInfo.load(signature)
        signed_data = content["content"]
        context = ValidationContext(trust_roots=list(trust_roots)) if trust_roots else None
        status = asyncio.run(
            async_validate_detached_cms(data, signed_data, signer_validation_context=context)
        )
    except Exception as exc:  # any parse error means: not a valid signature
        return "invalid", f"signaturen kunde inte läsas ({type(exc).__name__})"
    if not (status.intact and status.valid):
        return "invalid", "signaturen stämmer inte med filens innehåll"
    if not trust_roots:
        return "untrusted", "inget rotcertifikat att pröva signaturen mot"
    if not status.trusted:
        return "invalid", "signaturen är inte gjord med organisationens certifikat"
    return "valid", None


def read_checkpoints(settings: CheckpointSettings) -> list[Checkpoint]:
    """Every checkpoint in the folder, oldest first, each with its signature's verdict."""
    from riskreg.reports.keys import load_pem_certificates

    if not settings.directory.is_dir():
        return []
    trust_roots: list[Any] = []
    if settings.trust_roots_path.is_file():
        from asn1crypto import x509 as asn1_x509
        from cryptography.hazmat.primitives.serialization import Encoding

        trust_roots = [
            asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
            for cert in load_pem_certificates(settings.trust_roots_path)
        ]
    found: list[Checkpoint] = []
    for path in sorted(settings.directory.glob("checkpoint-*.json")):
        data = path.read_bytes()
        try:
            document = json.loads(data)
            entry = int(document["entry"])
            digest = str(document["hash"])
            created = datetime.fromisoformat(document["created_at"])
            if document.get("format") != FORMAT:
                raise ValueError(document.get("format"))
        except (ValueError, KeyError, TypeError):
            found.append(
                Checkpoint(
                    path,
                    0,
                    "",
                    datetime.min.replace(tzinfo=UTC),
                    "invalid",
                    "filen är ingen kontrollpunkt riskreg kan läsa",
                )
            )
            continue
        sig_path = path.with_name(path.name + SIGNATURE_SUFFIX)
        if not sig_path.is_file():
            found.append(Checkpoint(path, entry, digest, created, "missing", "signaturfil saknas"))
            continue
        verdict, problem = _verify_signature(data, sig_path.read_bytes(), trust_roots)
        previous = document.get("previous")
        found.append(
            Checkpoint(
                path,
                entry,
                digest,
                created,
                verdict,
                problem,
                previous if isinstance(previous, dict) else None,
            )
        )
    found.sort(key=lambda c: (c.created_at, c.entry))
    return found


def chain_problems(checkpoints: Sequence[Checkpoint]) -> list[str]:
    """Each signed checkpoint names the file before it: a missing or changed one is a finding
    (only the newest checkpoint can be deleted without a trace; the mailed copies show it)."""
    problems: list[str] = []
    for checkpoint in checkpoints:
        if not checkpoint.usable or not checkpoint.previous:
            continue
        name = str(checkpoint.previous.get("file", ""))
        earlier = checkpoint.path.with_name(name)
        if not name or "/" in name or not earlier.is_file():
            problems.append(
                f"kontrollpunkten {checkpoint.name} bygger på {name}, som saknas i mappen"
            )
        elif hashlib.sha256(earlier.read_bytes()).hexdigest() != checkpoint.previous.get("sha256"):
            problems.append(
                f"kontrollpunkten {checkpoint.name} bygger på {name}, som har ändrats sedan dess"
            )
    return problems


def newest_checkpoint(settings: CheckpointSettings) -> tuple[datetime, int, Path] | None:
    """When the newest checkpoint file was made and the entry it names (read from the file
    name, without checking the signature: for the trail page and the "is one due" test)."""
    if not settings.directory.is_dir():
        return None
    newest: tuple[datetime, int, Path] | None = None
    for path in settings.directory.glob("checkpoint-*.json"):
        parts = path.name.removesuffix(".json").split("-")
        try:
            moment = datetime.strptime(parts[1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
            entry = int(parts[2])
        except (ValueError, IndexError):
            continue
        if newest is None or moment > newest[0]:
            newest = (moment, entry, path)
    return newest


def due(
    settings: CheckpointSettings, now: datetime, max_age: timedelta = timedelta(days=1)
) -> bool:
    last = newest_checkpoint(settings)
    return last is None or now - last[0] >= max_age


def email_checkpoint(
    settings: CheckpointSettings,
    config: Mapping[str, Any],
    json_path: Path,
    sig_path: Path,
    document: Mapping[str, Any],
) -> str | None:
    """Send the two files to AUDIT_CHECKPOINT_EMAILS; returns an error text or None."""
    from riskreg.reminders.smtp import send_digests

    if not settings.emails:
        return None
    message = EmailMessage()
    message["From"] = str(config.get("MAIL_DEFAULT_SENDER") or "riskreg@localhost")
    message["To"] = ", ".join(settings.emails)
    message["Subject"] = f"riskreg: kontrollpunkt för granskningsspåret, post {document['entry']}"
    message.set_content(
        "Bifogat är en signerad kontrollpunkt för riskregs granskningsspår: spåret omfattade "
        f"då {document['entry']} poster och den sista hade hashen {document['hash']}.\n\n"
        "Spara båda filerna utanför riskreg. Signaturen kan prövas med\n"
        f"  openssl cms -verify -binary -inform DER -in {sig_path.name} "
        f"-content {json_path.name} -CAfile ca.pem -purpose any\n"
        "och spåret mot kontrollpunkten med `riskreg audit verify`.\n"
    )
    message.add_attachment(
        json_path.read_bytes(), maintype="application", subtype="json", filename=json_path.name
    )
    message.add_attachment(
        sig_path.read_bytes(), maintype="application", subtype="pkcs7-signature",
        filename=sig_path.name,
    )  # fmt: skip
    try:
        result = send_digests([message], config)
    except ValueError as exc:
        return str(exc)
    return None if result.ok else result.summary()
