"""Personal signing certificates: who may sign with which key, and who signed a PDF.

Every signature on a report is made with a certificate that names the person signing:

* **issued** by the organisation's CA (``riskreg keys issue USERNAME``; in development and the
  demo by the dev CA of ``riskreg keys init``), or
* **imported** from the region's own PKI as PKCS#12 (``riskreg keys import USERNAME FILE.p12``).

The private key is kept either in a PKCS#12 file under ``instance/keys/users/`` (encrypted with
the server's signing passphrase) or, when ``SIGNING_PKCS11_MODULE`` is configured, in an HSM or
token through PKCS#11 (then it never leaves the token). Each certificate is recorded in
:class:`~riskreg.reports.models.SigningCertificate` with its fingerprint, serial number and the
period it belonged to its user; issuing or importing a new one ends the previous one's period.

Signing (see ``services._sign``) refuses a user who is deactivated or has no current
certificate; the web form asks for the user's password first (step-up, in the views).
Verification (:func:`identify`) looks every signature's certificate up by fingerprint and says
whose it was and whether it was theirs when the signature was made.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskreg.auth.models import User
from riskreg.auth.passwords import verify_password
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.reports.models import CertificateStorage, SigningCertificate

__all__ = [
    "USERS_DIR",
    "SignerIdentity",
    "active_certificate",
    "confirm_password",
    "identify",
    "import_certificate",
    "issue_certificate",
    "issue_missing_certificates",
    "open_signer",
    "signing_certificate_for",
]

USERS_DIR = "users"
ISSUED = "issued"
IMPORTED = "imported"


# ============================================================== which certificate


def active_certificate(
    session: Session, user: User, at: datetime | None = None
) -> SigningCertificate | None:
    """The user's current (not revoked) certificate, valid at ``at`` if given."""
    rows = session.scalars(
        select(SigningCertificate)
        .where(SigningCertificate.user_id == user.id, SigningCertificate.revoked_at.is_(None))
        .order_by(SigningCertificate.registered_at.desc(), SigningCertificate.id.desc())
    ).all()
    for row in rows:
        if at is None or row.not_before <= at <= row.not_after:
            return row
    return None


def signing_certificate_for(session: Session, user: User, at: datetime) -> SigningCertificate:
    """The certificate ``user`` signs with at ``at``, or a ServiceError saying what to do."""
    if not user.active:
        raise ServiceError(
            _(
                "Användaren %(username)s är inaktiverad; hens signeringsnyckel kan inte längre "
                "användas för att signera.",
                username=user.username,
            )
        )
    row = active_certificate(session, user, at)
    if row is None:
        raise ServiceError(
            _(
                "%(value)s har inget giltigt personligt signeringscertifikat. Be administratören "
                "utfärda ett (`riskreg keys issue %(username)s`) eller importera ditt certifikat "
                "från regionens PKI (`riskreg keys import %(username)s FIL.p12`).",
                value=user.full_name or user.username,
                username=user.username,
            )
        )
    return row


def confirm_password(user: User, password: str) -> bool:
    """Step-up: the signer's own password, checked again at the moment of signing."""
    return bool(password) and user.active and verify_password(user.password_hash, password)


# ============================================================== issuing and importing


@dataclass(frozen=True)
class Pkcs11Token:
    """Where HSM-held keys live: module, token label and the user PIN (from the config)."""

    module: str
    token_label: str
    pin: str | None


def issue_certificate(
    session: Session,
    user: User,
    *,
    keys_dir: Path,
    passphrase: bytes,
    organisation: str,
    now: datetime,
    token: Pkcs11Token | None = None,
    key_algorithm: str = "rsa3072",
    valid_days: int = 730,
) -> SigningCertificate:
    """Issue ``user`` a personal certificate from the dev CA in ``keys_dir`` and register it.

    With ``token`` the key pair is generated inside the PKCS#11 token and only its public
    half leaves it; otherwise the key is stored as PKCS#12 in ``keys_dir/users/``.
    """
    from riskreg.reports.keys import KeyAlgorithm, issue_personal_certificate, load_ca, new_key

    _check_can_hold_key(user)
    try:
        ca_key, ca_cert = load_ca(keys_dir, passphrase)
    except FileNotFoundError:
        raise ServiceError(
            _(
                "Ingen CA-nyckel i %(keys_dir)s. Kör `riskreg keys init` (eller `riskreg keys init "
                "--force` för nycklar skapade före personliga certifikat), eller importera "
                "certifikat från regionens PKI med `riskreg keys import`.",
                keys_dir=keys_dir,
            )
        ) from None
    except ValueError as exc:
        raise ServiceError(_("CA-nyckeln kunde inte öppnas (%(exc)s).", exc=exc)) from exc
    algorithm = KeyAlgorithm(key_algorithm)
    if token is not None:
        label = _token_label(user, now)
        public_key = _generate_in_token(token, label, algorithm)
        cert = issue_personal_certificate(
            ca_key,
            ca_cert,
            public_key,
            full_name=user.full_name,
            username=user.username,
            organisation=_organisation_of(ca_cert),
            now=now,
            valid_days=valid_days,
        )
        return _register(session, user, cert, ISSUED, CertificateStorage.PKCS11, label, now)
    key = new_key(algorithm)
    cert = issue_personal_certificate(
        ca_key,
        ca_cert,
        key.public_key(),
        full_name=user.full_name,
        username=user.username,
        organisation=organisation or _organisation_of(ca_cert),
        now=now,
        valid_days=valid_days,
    )
    return _store_file(session, user, key, cert, [ca_cert], keys_dir, passphrase, ISSUED, now)


def issue_missing_certificates(
    session: Session,
    users: Iterable[User],
    *,
    keys_dir: Path,
    passphrase: bytes,
    organisation: str,
    now: datetime,
) -> list[SigningCertificate]:
    """A certificate (EC P-256, quick to make) for every active signer without a current one.

    Used by the demo ("every signer gets one") and development set-ups; production issues
    or imports certificates person by person.
    """
    from riskreg.auth.models import Role

    issued = []
    for user in users:
        if not user.active or user.role not in (Role.CONTROLLER, Role.APPROVER, Role.ADMIN):
            continue
        if active_certificate(session, user) is not None:
            continue
        issued.append(
            issue_certificate(
                session,
                user,
                keys_dir=keys_dir,
                passphrase=passphrase,
                organisation=organisation,
                now=now,
                key_algorithm="ec-p256",
            )
        )
    return issued


def import_certificate(
    session: Session,
    user: User,
    data: bytes,
    file_passphrase: bytes | None,
    *,
    keys_dir: Path,
    passphrase: bytes,
    now: datetime,
    token: Pkcs11Token | None = None,
) -> SigningCertificate:
    """Register a PKCS#12 from the region's PKI as ``user``'s signing certificate.

    The key is re-encrypted with the server's signing passphrase and stored in
    ``keys_dir/users/``, or, with ``token``, written into the PKCS#11 token as a sensitive,
    non-extractable key (the file should then be destroyed). Refused: a file that cannot be
    opened, one without a key, a certificate not valid now or not meant for signatures.
    """
    _check_can_hold_key(user)
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, file_passphrase or None)
    except ValueError:
        raise ServiceError(
            _("PKCS#12-filen kunde inte öppnas (fel lösenfras eller inte en PKCS#12-fil).")
        ) from None
    if key is None or cert is None:
        raise ServiceError(_("PKCS#12-filen innehåller ingen privat nyckel med certifikat."))
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ServiceError(_("Bara RSA- och EC-nycklar kan användas för att signera."))
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ServiceError(
            _(
                "Certifikatet gäller %(not_valid_before_utc)s–%(not_valid_after_utc)s, inte nu.",
                not_valid_before_utc=format(cert.not_valid_before_utc, "%Y-%m-%d"),
                not_valid_after_utc=format(cert.not_valid_after_utc, "%Y-%m-%d"),
            )
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise ServiceError(_("Certifikatet är inte avsett för signaturer (keyUsage)."))
    if token is not None:
        label = _token_label(user, now)
        _import_into_token(token, label, key)
        return _register(session, user, cert, IMPORTED, CertificateStorage.PKCS11, label, now)
    return _store_file(session, user, key, cert, list(chain), keys_dir, passphrase, IMPORTED, now)


def _check_can_hold_key(user: User) -> None:
    if not user.active:
        raise ServiceError(_("Användaren %(username)s är inaktiverad.", username=user.username))


def _organisation_of(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else "riskreg"


def _store_file(
    session: Session,
    user: User,
    key: Any,
    cert: x509.Certificate,
    chain: list[x509.Certificate],
    keys_dir: Path,
    passphrase: bytes,
    source: str,
    now: datetime,
) -> SigningCertificate:
    from riskreg.reports.keys import _write_private, personal_pkcs12

    fingerprint = _fingerprint(cert.public_bytes(serialization.Encoding.DER))
    name = f"{user.username}-{fingerprint[:16]}.p12"
    folder = keys_dir / USERS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    row = _register(session, user, cert, source, CertificateStorage.FILE, name, now)
    _write_private(folder / name, personal_pkcs12(key, cert, chain, passphrase), force=True)
    return row


def _register(
    session: Session,
    user: User,
    cert: x509.Certificate,
    source: str,
    storage: CertificateStorage,
    location: str,
    now: datetime,
) -> SigningCertificate:
    fingerprint = _fingerprint(cert.public_bytes(serialization.Encoding.DER))
    taken = session.scalar(
        select(SigningCertificate).where(SigningCertificate.fingerprint_sha256 == fingerprint)
    )
    if taken is not None:
        raise ServiceError(
            _(
                "Certifikatet är redan registrerat för %(username)s; samma certifikat kan inte "
                "tillhöra två användare.",
                username=taken.user.username,
            )
        )
    for previous in session.scalars(
        select(SigningCertificate).where(
            SigningCertificate.user_id == user.id, SigningCertificate.revoked_at.is_(None)
        )
    ):
        previous.revoked_at = now
        previous.revoked_reason = "ersatt av ett nytt certifikat"
    row = SigningCertificate(
        user=user,
        fingerprint_sha256=fingerprint,
        serial_number=format(cert.serial_number, "x"),
        subject=cert.subject.rfc4514_string()[:500],
        issuer=cert.issuer.rfc4514_string()[:500],
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        source=source,
        storage=storage.value,
        location=location,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        registered_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise ServiceError(_("Certifikatet är redan registrerat.")) from None
    return row


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


# ============================================================== PKCS#11


def _token_label(user: User, now: datetime) -> str:
    """A key label unique in the token (pyHanko finds the key by it)."""
    return f"riskreg-{user.username}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def _import_into_token(token: Pkcs11Token, label: str, key: Any) -> None:
    """Write an imported private key into the token: sensitive, not extractable, sign only."""
    import pkcs11
    from pkcs11 import Attribute
    from pkcs11.util.ec import decode_ec_private_key
    from pkcs11.util.rsa import decode_rsa_private_key

    # TraditionalOpenSSL: PKCS#1 for RSA, SEC 1 for EC, the forms python-pkcs11 decodes.
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    attributes = decode_rsa_private_key(der) if is_rsa else decode_ec_private_key(der)
    attributes.update(
        {
            Attribute.LABEL: label,
            Attribute.ID: hashlib.sha256(label.encode()).digest()[:16],
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.DECRYPT: False,
            Attribute.UNWRAP: False,
        }
    )
    try:
        lib = pkcs11.lib(token.module)
        with lib.get_token(token_label=token.token_label).open(
            rw=True, user_pin=token.pin
        ) as session:
            session.create_object(attributes)
    except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
        raise ServiceError(
            _(
                "Nyckeln kunde inte läggas in i PKCS#11-token %(token_label)s (%(name)s).",
                token_label=repr(token.token_label),
                name=type(exc).__name__,
            )
        ) from exc


def _generate_in_token(token: Pkcs11Token, label: str, algorithm: Any) -> Any:
    """Generate a key pair inside the token; return its public key (pyca)."""
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    from riskreg.reports.keys import KeyAlgorithm

    try:
        lib = pkcs11.lib(token.module)
        slot_token = lib.get_token(token_label=token.token_label)
        with slot_token.open(rw=True, user_pin=token.pin) as session:
            key_id = hashlib.sha256(label.encode()).digest()[:16]
            if algorithm is KeyAlgorithm.EC_P256:
                params = session.create_domain_parameters(
                    KeyType.EC,
                    {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True,
                )
                public, _private = params.generate_keypair(store=True, label=label, id=key_id)
                der = encode_ec_public_key(public)  # SubjectPublicKeyInfo
                return serialization.load_der_public_key(der)
            public, _private = session.generate_keypair(
                KeyType.RSA, 3072, store=True, label=label, id=key_id
            )
            modulus = int.from_bytes(public[Attribute.MODULUS], "big")
            exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
            return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
        raise ServiceError(
            _(
                "Nyckeln kunde inte skapas i PKCS#11-token %(token_label)s (%(name)s).",
                token_label=repr(token.token_label),
                name=type(exc).__name__,
            )
        ) from exc


@contextmanager
def open_signer(
    row: SigningCertificate,
    *,
    keys_dir: Path,
    passphrase: bytes | None,
    token: Pkcs11Token | None,
    chain: Sequence[x509.Certificate] = (),
) -> Iterator[Any]:
    """A pyHanko signer for the certificate ``row``, open for the duration of the block."""
    from pyhanko.sign import signers

    cert = asn1_x509.Certificate.load(
        x509.load_pem_x509_certificate(row.certificate_pem.encode("ascii")).public_bytes(
            serialization.Encoding.DER
        )
    )
    if row.storage == CertificateStorage.PKCS11:
        if token is None:
            raise ServiceError(
                _(
                    "Nyckeln finns i en HSM men ingen PKCS#11-modul är konfigurerad "
                    "(SIGNING_PKCS11_MODULE, SIGNING_PKCS11_TOKEN, SIGNING_PKCS11_PIN)."
                )
            )
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11 as hanko_pkcs11

        try:
            session = hanko_pkcs11.open_pkcs11_session(
                token.module,
                token_criteria=TokenCriteria(label=token.token_label),
                user_pin=token.pin,
            )
        except Exception as exc:
            raise ServiceError(
                _(
                    "PKCS#11-token %(token_label)s kunde inte öppnas (%(name)s).",
                    token_label=repr(token.token_label),
                    name=type(exc).__name__,
                )
            ) from exc
        try:
            yield hanko_pkcs11.PKCS11Signer(
                session,
                key_label=row.location,
                signing_cert=cert,
                ca_chain=[_as_asn1(c) for c in chain],
                bulk_fetch=False,
            )
        finally:
            session.close()
        return
    if passphrase is None:
        raise ServiceError(_("Lösenfrasen till signeringsnycklarna saknas (SIGNING_PASSPHRASE)."))
    path = keys_dir / USERS_DIR / row.location
    if not path.is_file():
        raise ServiceError(
            _(
                "Signeringsnyckeln för %(username)s saknas (%(path)s).",
                username=row.user.username,
                path=path,
            )
        )
    from riskreg.reports.signing import load_pkcs12_signer

    signer: signers.Signer = load_pkcs12_signer(path, passphrase)
    yield signer


def _as_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


# ============================================================== who signed a PDF


@dataclass(frozen=True)
class SignerIdentity:
    """Who made one signature, as riskreg's register of certificates knows it."""

    field_name: str
    certificate_subject: str
    certificate_issuer: str
    fingerprint_sha256: str
    signing_time: datetime | None
    role: str  # as written into the signature (/Reason) at signing time
    person: str | None  # full name of the registered user, None when unknown
    username: str | None
    belonged: bool  # the certificate was registered to that user at signing time

    @property
    def message(self) -> str:
        role = f" ({self.role})" if self.role else ""
        if self.person is None:
            return (
                f"Signaturen i fältet {self.field_name} är gjord med certifikatet "
                f'"{self.certificate_subject}", som inte är registrerat för någon användare '
                "i riskreg."
            )
        if self.belonged:
            return (
                f"Signerad elektroniskt av {self.person}{role} med certifikatet "
                f'"{self.certificate_subject}", utfärdat av {self.certificate_issuer}; '
                f"certifikatet tillhörde {self.username} när signaturen gjordes."
            )
        return (
            f"Signaturen i fältet {self.field_name} är gjord med certifikatet "
            f'"{self.certificate_subject}" som är registrerat för {self.person} '
            f"({self.username}), men certifikatet tillhörde INTE {self.username} vid "
            "signeringstiden."
        )


def identify(session: Session, pdf: bytes) -> list[SignerIdentity]:
    """Each signature's certificate looked up in the register; unreadable files give []."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        embedded = list(PdfFileReader(BytesIO(pdf)).embedded_regular_signatures)
    except Exception:  # an unreadable file: the verification verdict already says so
        return []
    found: list[SignerIdentity] = []
    for sig in embedded:
        try:
            cert = sig.signer_cert
            when = sig.self_reported_timestamp
        except Exception:  # noqa: S112 - a broken signature: the verdict says so
            continue
        fingerprint = _fingerprint(cert.dump())
        row = session.scalar(
            select(SigningCertificate).where(SigningCertificate.fingerprint_sha256 == fingerprint)
        )
        reason = sig.sig_object.get("/Reason")
        found.append(
            SignerIdentity(
                field_name=str(sig.field_name),
                certificate_subject=cert.subject.human_friendly,
                certificate_issuer=_common_name(cert.issuer),
                fingerprint_sha256=fingerprint,
                signing_time=when,
                role=str(reason) if reason is not None else "",
                person=(row.user.full_name or row.user.username) if row else None,
                username=row.user.username if row else None,
                belonged=bool(row and when and row.belonged_at(when)),
            )
        )
    return found


def _common_name(name: asn1_x509.Name) -> str:
    return str(name.native.get("common_name") or name.human_friendly)
