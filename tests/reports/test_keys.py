"""The development PKI: files, permissions, certificate profile, overwrite protection."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from report_helpers import Pki
from report_samples import PASSPHRASE

from riskreg.reports.keys import (
    DOCUMENT_SIGNING,
    KeyAlgorithm,
    create_dev_pki,
    load_pem_certificates,
)


def _load(p12: Path, passphrase: bytes = PASSPHRASE) -> pkcs12.PKCS12KeyAndCertificates:
    return pkcs12.load_pkcs12(p12.read_bytes(), passphrase)


def test_creates_ca_and_pkcs12_with_0600(pki: Pki) -> None:
    assert pki.p12.name == "signing.p12" and pki.ca.name == "ca.pem"
    for path in (pki.p12, pki.ca):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_pkcs12_loads_with_passphrase_and_holds_chain(pki: Pki) -> None:
    bundle = _load(pki.p12)
    assert isinstance(bundle.key, rsa.RSAPrivateKey)
    assert bundle.key.key_size == 3072
    assert bundle.cert is not None
    [ca] = load_pem_certificates(pki.ca)
    assert [c.certificate for c in bundle.additional_certs] == [ca]
    bundle.cert.certificate.verify_directly_issued_by(ca)


def test_pkcs12_rejects_wrong_passphrase(pki: Pki) -> None:
    with pytest.raises(ValueError):
        _load(pki.p12, b"fel")


def test_signing_certificate_profile(pki: Pki) -> None:
    cert = _load(pki.p12).cert
    assert cert is not None
    certificate = cert.certificate
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert DOCUMENT_SIGNING in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is False
    org = certificate.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    assert org[0].value == "Region Västmanland"


def test_ca_certificate_profile(pki: Pki) -> None:
    [ca] = load_pem_certificates(pki.ca)
    assert ca.issuer == ca.subject
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True and constraints.path_length == 0
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_refuses_to_overwrite(pki: Pki) -> None:
    before = pki.p12.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        create_dev_pki(pki.p12.parent, "Region Västmanland", PASSPHRASE)
    assert pki.p12.read_bytes() == before


def test_refuses_when_only_ca_exists(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("gammal")
    with pytest.raises(FileExistsError):
        create_dev_pki(tmp_path, "Region Västmanland", PASSPHRASE)
    assert not (tmp_path / "signing.p12").exists()


def test_force_replaces_keys_and_fixes_mode(tmp_path: Path) -> None:
    first = create_dev_pki(
        tmp_path, "Region Västmanland", PASSPHRASE, key_algorithm=KeyAlgorithm.EC_P256
    )
    old_key = _load(first).key
    first.chmod(0o644)
    second = create_dev_pki(
        tmp_path, "Region Västmanland", PASSPHRASE, force=True, key_algorithm=KeyAlgorithm.EC_P256
    )
    assert second == first
    assert stat.S_IMODE(second.stat().st_mode) == 0o600
    new_key = _load(second).key
    assert isinstance(new_key, ec.EllipticCurvePrivateKey)
    assert isinstance(old_key, ec.EllipticCurvePrivateKey)
    assert new_key.private_numbers() != old_key.private_numbers()


def test_creates_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "instance" / "keys"
    p12 = create_dev_pki(
        target, "Region Västmanland", PASSPHRASE, key_algorithm=KeyAlgorithm.EC_P256
    )
    assert p12.exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


@pytest.mark.parametrize(("organisation", "passphrase"), [("Region X", b""), (" ", b"x")])
def test_rejects_empty_inputs(tmp_path: Path, organisation: str, passphrase: bytes) -> None:
    with pytest.raises(ValueError):
        create_dev_pki(tmp_path, organisation, passphrase)
    assert list(tmp_path.iterdir()) == []
