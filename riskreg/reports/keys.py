"""A development PKI: a self-signed CA, personal signing certificates, PKCS#12 files.

Every signature on a report is made with a certificate naming the person who signs. In
production those come from the region's own PKI (imported as PKCS#12) or from an HSM; this
module lets developers, CI and demo installations issue them from a development CA
(``riskreg keys init`` creates it, ``riskreg keys issue USERNAME`` issues one per user).

``create_dev_pki`` also writes an organisational signing certificate (``signing.p12``); reports
are no longer signed with it (the audit trail's checkpoints are). Unless asked to keep
it (``keep_ca_key=True``, written encrypted to ``ca-key.pem``), the CA's private key is
discarded right after use, so a leaked ``ca.pem`` only lets someone *trust* these reports.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = [
    "CA_FILE",
    "CA_KEY_FILE",
    "PKCS12_FILE",
    "KeyAlgorithm",
    "create_dev_pki",
    "issue_personal_certificate",
    "load_ca",
    "load_pem_certificates",
    "new_key",
    "personal_pkcs12",
]

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
PKCS12_FILE = "signing.p12"

#: RFC 9336 id-kp-documentSigning: the purpose made for exactly this.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
#: Microsoft Document Signing; Adobe Acrobat accepts it (it predates RFC 9336).
MS_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyAlgorithm(StrEnum):
    """Key types offered. RSA 3072 is the most widely verifiable; P-256 is faster to make."""

    RSA_3072 = "rsa3072"
    EC_P256 = "ec-p256"


def create_dev_pki(
    directory: Path,
    organisation: str,
    passphrase: bytes,
    *,
    force: bool = False,
    key_algorithm: KeyAlgorithm = KeyAlgorithm.RSA_3072,
    valid_days: int = 730,
    keep_ca_key: bool = False,
) -> Path:
    """Create ``ca.pem`` and ``signing.p12`` in ``directory``; return the PKCS#12 path.

    ``ca.pem`` is the trust root to configure in riskreg's verifier (and, if wanted, in a PDF
    reader). ``signing.p12`` holds the signing key, its certificate and the CA certificate,
    encrypted with ``passphrase`` (PBES2, AES-256, SHA-256). Both files get mode 0600.

    Existing files are never replaced unless ``force=True``: overwriting the signing key would
    silently make every report signed so far unverifiable against the new ``ca.pem``.

    ``keep_ca_key=True`` also writes the CA's private key to ``ca-key.pem`` (PKCS#8, encrypted
    with ``passphrase``, mode 0600), so the CA can later issue personal certificates.
    """
    if not passphrase:
        raise ValueError("a non-empty passphrase is required to protect the signing key")
    if not organisation.strip():
        raise ValueError("organisation must not be empty")
    ca_path, p12_path = directory / CA_FILE, directory / PKCS12_FILE
    if not force:
        existing = [str(p) for p in (ca_path, p12_path) if p.exists()]
        if existing:
            raise FileExistsError(f"refusing to overwrite {', '.join(existing)} (use force=True)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    now = datetime.now(UTC).replace(microsecond=0)
    ca_key = _new_key(key_algorithm)
    ca_cert = _ca_certificate(ca_key, organisation, now, valid_days * 5)
    signing_key = _new_key(key_algorithm)
    signing_cert = _signing_certificate(signing_key, ca_key, ca_cert, organisation, now, valid_days)

    _write_private(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), force)
    _write_private(p12_path, _pkcs12(signing_key, signing_cert, [ca_cert], passphrase), force)
    if keep_ca_key:
        encrypted = ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        _write_private(directory / CA_KEY_FILE, encrypted, force)
    return p12_path


def load_ca(directory: Path, passphrase: bytes) -> tuple[PrivateKey, x509.Certificate]:
    """The development CA's key and certificate, to issue personal certificates.

    Raises ``FileNotFoundError`` when the CA key was not kept (keys made before personal
    certificates existed: ``riskreg keys init --force`` makes a CA that keeps it).
    """
    key = serialization.load_pem_private_key(
        (directory / CA_KEY_FILE).read_bytes(), password=passphrase
    )
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("unsupported CA key type")
    return key, load_pem_certificates(directory / CA_FILE)[0]


def new_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """A fresh private key of the given type (kept outside any HSM)."""
    return _new_key(algorithm)


def issue_personal_certificate(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    *,
    full_name: str,
    username: str,
    organisation: str,
    now: datetime,
    valid_days: int = 730,
) -> x509.Certificate:
    """A document-signing certificate naming one person (CN = full name, UID = username).

    Valid from five minutes before ``now`` and never beyond the CA's own validity.
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, (full_name.strip() or username)[:64]),
            x509.NameAttribute(NameOID.USER_ID, username[:64]),
        ]
    )
    not_after = min(now + timedelta(days=valid_days), ca_cert.not_valid_after_utc)
    return _end_entity(public_key, ca_key, ca_cert, subject, now, not_after)


def personal_pkcs12(
    key: PrivateKey, cert: x509.Certificate, chain: list[x509.Certificate], passphrase: bytes
) -> bytes:
    """PKCS#12 of a personal key, certificate and chain, encrypted like the others."""
    return _pkcs12(key, cert, chain, passphrase)


def load_pem_certificates(path: Path) -> list[x509.Certificate]:
    """Read every certificate in a PEM file, e.g. ``ca.pem`` as trust roots for verification."""
    return x509.load_pem_x509_certificates(path.read_bytes())


def _new_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm is KeyAlgorithm.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def _name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(
    key: PrivateKey, organisation: str, now: datetime, valid_days: int
) -> x509.Certificate:
    """Self-signed root: may sign certificates (path length 0), nothing else."""
    name = _name(organisation, f"{organisation} riskreg utvecklings-CA")
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def _signing_certificate(
    key: PrivateKey,
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    organisation: str,
    now: datetime,
    valid_days: int,
) -> x509.Certificate:
    """End-entity certificate for document signatures.

    keyUsage digitalSignature + nonRepudiation (contentCommitment) is what PAdES validators,
    pyHanko included, require of a signer. The extended key usages name document signing
    (RFC 9336 and Microsoft's) and emailProtection, the purpose Adobe Acrobat and NSS-based
    readers (poppler's pdfsig) look for on signing certificates.
    """
    subject = _name(organisation, f"{organisation} – dokumentsignering (riskreg)")
    return _end_entity(
        key.public_key(), ca_key, ca_cert, subject, now, now + timedelta(days=valid_days)
    )


def _end_entity(
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    subject: x509.Name,
    now: datetime,
    not_after: datetime,
) -> x509.Certificate:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [DOCUMENT_SIGNING, MS_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _pkcs12(
    key: PrivateKey, cert: x509.Certificate, chain: list[x509.Certificate], passphrase: bytes
) -> bytes:
    """PKCS#12 with modern encryption (PBES2/AES-256, SHA-256 MAC), not legacy RC2/3DES."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(200_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    return pkcs12.serialize_key_and_certificates(
        name=b"riskreg-signing",
        key=key,
        cert=cert,
        cas=chain,
        encryption_algorithm=encryption,
    )


def _write_private(path: Path, data: bytes, force: bool) -> None:
    """Write ``data`` to a file created with mode 0600 (no window where others can read it).

    Without ``force`` the file is opened with O_EXCL, so a file that appeared since the check
    in :func:`create_dev_pki` is not clobbered either.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file (force=True) would keep its old mode otherwise
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
