"""Personal signatures: each signer's own certificate, PKCS#11 (SoftHSM2), step-up, verification.

The review report is signed by two people; poppler's pdfsig must show two different
certificate subjects, and riskreg's verification (page and CLI) must name who signed each
signature and whether the certificate was theirs when they signed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from flask import Flask
from sqlalchemy import select

from riskreg.auth.throttle import EXTENSION_KEY, LoginThrottle
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.reports.keys import (
    KeyAlgorithm,
    create_dev_pki,
    issue_personal_certificate,
    load_ca,
    new_key,
    personal_pkcs12,
)
from riskreg.reports.models import Report, SigningCertificate
from riskreg.reports.signers import active_certificate, identify
from riskreg.reports.verify import Verdict, verify_pdf
from tests.reports.scenario import ClientAs, Scenario, build, settings_for, sign_both, user

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL = "riskreg-test"
TOKEN_PIN = "4711-test"


def final_pdf(app: Flask, report_id: int) -> bytes:
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None and report.final_file is not None
        return settings_for(app).store().path(report.final_file).read_bytes()


def pdfsig_signers(poppler: Callable[[str], str], pdf: bytes, tmp_path: Path) -> dict[str, str]:
    """Field name → signer certificate common name, for signatures pdfsig calls valid."""
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    output = subprocess.run(
        [poppler("pdfsig"), str(path)], capture_output=True, text=True, check=False
    ).stdout
    blocks = re.split(r"^Signature #\d+:", output, flags=re.MULTILINE)[1:]
    found = {}
    for block in blocks:
        assert "Signature Validation: Signature is Valid." in block, output
        field = re.search(r"Signature Field Name: (.+)", block)
        name = re.search(r"Signer Certificate Common Name: (.+)", block)
        assert field and name, output
        found[field.group(1).strip()] = name.group(1).strip()
    return found


# ---------------------------------------------------------------- two people, two certificates


def test_pdfsig_shows_the_two_people_who_signed_the_review_report(
    app: Flask, scenario: Scenario, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    content = final_pdf(app, sign_both(app, scenario))
    assert pdfsig_signers(poppler, content, tmp_path) == {
        "Granskare": "Karin Åström",
        "Godkannare": "Göran Förvaltningschef",
    }
    result = verify_pdf(content, settings_for(app).trust_roots())
    assert result.verdict is Verdict.VALID
    subjects = {sig.certificate_subject for sig in result.signatures}
    assert len(subjects) == 2 and all("dokumentsignering" not in s for s in subjects)
    path = tmp_path / "rapport.pdf"
    path.write_bytes(content)
    text = subprocess.run(
        [poppler("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = re.sub(r"\s+", " ", text)
    # The stamp says what the signature is: electronic, with a certificate from the CA.
    assert "Signerad elektroniskt av Karin Åström, granskare" in text
    assert "Certifikat: Karin Åström, utfärdat av Region Västmanland riskreg utvecklings-CA" in text
    assert "underskrift" not in text.lower() and "avancerade" not in text
    assert "signerar rapporten elektroniskt (PAdES) med ett personligt certifikat" in text


# ---------------------------------------------------------------- verification names the signers


def test_verify_page_and_cli_name_who_signed_and_whether_the_certificate_was_theirs(
    app: Flask, scenario: Scenario, tmp_path: Path, client_as: ClientAs
) -> None:
    content = final_pdf(app, sign_both(app, scenario))
    client = client_as("revisor")
    page = client.post(
        "/reports/verify",
        data={"file": (BytesIO(content), "rapport.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    page = re.sub(r"\s+", " ", page)
    assert (
        "Signerad elektroniskt av Karin Åström (granskare) med certifikatet" in page
        and "certifikatet tillhörde granskare när signaturen gjordes" in page
    )
    assert "Signerad elektroniskt av Göran Förvaltningschef (godkännare)" in page
    assert "certifikatet tillhörde chef när signaturen gjordes" in page

    path = tmp_path / "rapport.pdf"
    path.write_bytes(content)
    cli = app.test_cli_runner().invoke(args=["reports", "verify", str(path)])
    assert cli.exit_code == 0, cli.output
    assert "Signerare [Granskare]: Signerad elektroniskt av Karin Åström (granskare)" in cli.output
    assert "certifikatet tillhörde chef när signaturen gjordes" in cli.output

    # A new certificate for the controller later does not undo what was hers at the time.
    runner = app.test_cli_runner()
    issued = runner.invoke(args=["keys", "issue", "granskare", "--key-type", "ec-p256"])
    assert issued.exit_code == 0, issued.output
    with app.app_context():
        by_field = {who.field_name: who for who in identify(db.session, content)}
        controller, approver = by_field["Granskare"], by_field["Godkannare"]
        assert (controller.username, controller.role, controller.belonged) == (
            "granskare",
            "granskare",
            True,
        )
        assert (approver.username, approver.role, approver.belonged) == (
            "chef",
            "godkännare",
            True,
        )
        # A certificate registered to the person only after the signature: not theirs then.
        row = db.session.scalar(
            select(SigningCertificate).where(
                SigningCertificate.fingerprint_sha256 == approver.fingerprint_sha256
            )
        )
        assert row is not None
        row.registered_at = now_utc() + timedelta(hours=1)
        db.session.commit()
    again = app.test_cli_runner().invoke(args=["reports", "verify", str(path)])
    assert "men certifikatet tillhörde INTE chef vid signeringstiden" in again.output


# ---------------------------------------------------------------- step-up at signing


@pytest.fixture()
def throttled(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoginThrottle]:
    """The login throttle switched on (the session's test app runs without it)."""
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "memory://")
    limits = LoginThrottle(app)
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, limits)
    yield limits


def test_a_wrong_password_refuses_to_sign_and_counts_towards_the_lockout(
    app: Flask,
    demo: dict[str, str],
    scenario: Scenario,
    throttled: LoginThrottle,
    client_as: ClientAs,
) -> None:
    url = f"/reports/controls/{scenario.control_id}"
    client = client_as("granskare")
    page = client.get(url).get_data(as_text=True)
    assert 'name="password"' in page and "mitt personliga signeringscertifikat" in page
    assert "Du signerar med certifikatet UID=granskare,CN=Karin Åström" in page
    with app.app_context():
        before = throttled.remaining("granskare")
    wrong = client.post(
        f"{url}/sign",
        data={"confirm": "y", "password": "inte-mitt-lösenord", "next": url},
        follow_redirects=True,
    )
    assert "Fel lösenord. Rapporten har inte signerats." in wrong.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Report)) is None
        assert throttled.remaining("granskare") == before - 1
    # No password at all: the form says what is missing, nothing is signed.
    empty = client.post(f"{url}/sign", data={"confirm": "y", "next": url}, follow_redirects=True)
    assert "Ange ditt lösenord för att signera." in empty.get_data(as_text=True)
    # Used up: even the right password no longer signs until the lockout ends.
    for _attempt in range(before - 1):
        client.post(f"{url}/sign", data={"confirm": "y", "password": "fel", "next": url})
    locked = client.post(
        f"{url}/sign",
        data={"confirm": "y", "password": demo["granskare"], "next": url},
        follow_redirects=True,
    )
    assert "tillfälligt spärrade" in locked.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Report)) is None


def test_the_right_password_signs(
    app: Flask,
    demo: dict[str, str],
    scenario: Scenario,
    throttled: LoginThrottle,
    client_as: ClientAs,
) -> None:
    url = f"/reports/controls/{scenario.control_id}"
    client = client_as("granskare")
    client.post(f"{url}/sign", data={"confirm": "y", "password": "fel", "next": url})
    signed = client.post(
        f"{url}/sign",
        data={"confirm": "y", "password": demo["granskare"], "next": url},
        follow_redirects=True,
    )
    assert "väntar på medsignatur av Göran Förvaltningschef" in signed.get_data(as_text=True)
    with app.app_context():
        assert throttled.remaining("granskare") == throttled.account_limit.amount


# ---------------------------------------------------------------- keys issue / import


def test_keys_import_registers_a_certificate_from_the_regions_pki(
    app: Flask, scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = tmp_path / "region-pki"
    create_dev_pki(
        region, "Region PKI", b"ca-secret", keep_ca_key=True, key_algorithm=KeyAlgorithm.EC_P256
    )
    ca_key, ca_cert = load_ca(region, b"ca-secret")
    key = new_key(KeyAlgorithm.EC_P256)
    cert = issue_personal_certificate(
        ca_key,
        ca_cert,
        key.public_key(),
        full_name="Karin Åström",
        username="karin.astrom",
        organisation="Region PKI",
        now=now_utc(),
    )
    p12 = tmp_path / "karin.p12"
    p12.write_bytes(personal_pkcs12(key, cert, [ca_cert], "hemligt-lösen".encode()))

    runner = app.test_cli_runner()
    monkeypatch.setenv("RISKREG_IMPORT_PASSPHRASE", "fel")
    wrong = runner.invoke(args=["keys", "import", "granskare", str(p12)])
    assert wrong.exit_code == 1 and "kunde inte öppnas" in wrong.output
    monkeypatch.setenv("RISKREG_IMPORT_PASSPHRASE", "hemligt-lösen")
    with app.app_context():
        previous = active_certificate(db.session, user(db.session, "granskare"))
        assert previous is not None
        previous_id = previous.id
    done = runner.invoke(args=["keys", "import", "granskare", str(p12)])
    assert done.exit_code == 0, done.output
    assert "CN=Karin Åström" in done.output and "Region PKI" in done.output
    with app.app_context():
        row = active_certificate(db.session, user(db.session, "granskare"))
        assert row is not None and row.source == "imported" and row.storage == "file"
        assert "Region PKI" in row.issuer
        old = db.session.get(SigningCertificate, previous_id)
        assert old is not None and old.revoked_at is not None  # replaced, kept on record
        stored = settings_for(app).personal_keys_dir / "users" / row.location
        # Re-encrypted with the server's passphrase, not the file's.
        passphrase = settings_for(app).passphrase
        _key, loaded, _chain = pkcs12.load_key_and_certificates(stored.read_bytes(), passphrase)
        assert loaded == cert
    # The same certificate cannot belong to a second person.
    twice = runner.invoke(args=["keys", "import", "chef", str(p12)])
    assert twice.exit_code == 1 and "redan registrerat för granskare" in twice.output


def test_the_sign_form_tells_a_user_without_a_certificate_how_to_get_one(
    uncertified_scenario: Scenario, client_as: ClientAs
) -> None:
    scenario = uncertified_scenario
    page = client_as("granskare").get(f"/reports/controls/{scenario.control_id}")
    text = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert "Du har inget personligt signeringscertifikat och kan inte signera ännu" in text
    assert "riskreg keys issue granskare" in text


def test_keys_issue_refuses_an_unknown_user(app: Flask, scenario: Scenario) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "issue", "ingen-sådan"])
    assert result.exit_code == 1 and "ingen användare heter ingen-sådan" in result.output


# ---------------------------------------------------------------- PKCS#11 through SoftHSM2


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SoftHSM2 token of its own (own config and token folder); yields the module path.

    SoftHSM reads SOFTHSM2_CONF when the module is first initialised in this process, so the
    variable is set for the rest of the session.
    """
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM_MODULE.exists():
        pytest.skip("SoftHSM2 (softhsm2-util, libsofthsm2.so) is not installed")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n",
        encoding="utf-8",
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        [
            util,
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--pin",
            TOKEN_PIN,
            "--so-pin",
            "so-" + TOKEN_PIN,
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        yield str(SOFTHSM_MODULE)


def test_an_ec_key_generated_in_softhsm_gets_a_p256_certificate(
    app: Flask, scenario: Scenario, softhsm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SIGNING_PKCS11_MODULE", softhsm)
    monkeypatch.setitem(app.config, "SIGNING_PKCS11_TOKEN", TOKEN_LABEL)
    monkeypatch.setitem(app.config, "SIGNING_PKCS11_PIN", TOKEN_PIN)
    issued = app.test_cli_runner().invoke(
        args=["keys", "issue", "granskare", "--key-type", "ec-p256"]
    )
    assert issued.exit_code == 0, issued.output
    assert "nyckel i HSM (PKCS#11)" in issued.output
    with app.app_context():
        row = active_certificate(db.session(), user(db.session(), "granskare"))
        assert row is not None and row.storage == "pkcs11"
        public = x509.load_pem_x509_certificate(row.certificate_pem.encode()).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"


def test_a_key_held_in_softhsm_signs_end_to_end(
    app: Flask,
    scenario: Scenario,
    softhsm: str,
    poppler: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "SIGNING_PKCS11_MODULE", softhsm)
    monkeypatch.setitem(app.config, "SIGNING_PKCS11_TOKEN", TOKEN_LABEL)
    monkeypatch.setitem(app.config, "SIGNING_PKCS11_PIN", TOKEN_PIN)
    issued = app.test_cli_runner().invoke(args=["keys", "issue", "granskare"])
    assert issued.exit_code == 0, issued.output
    assert "nyckel i HSM (PKCS#11)" in issued.output
    with app.app_context():
        row = active_certificate(db.session, user(db.session, "granskare"))
        assert row is not None and row.storage == "pkcs11"
        hsm_fingerprint = row.fingerprint_sha256
        # No key file: the key was generated in the token and stays there; the row names it.
        assert row.location.startswith("riskreg-granskare-")
        assert not (settings_for(app).personal_keys_dir / "users" / row.location).exists()

    # The approver's certificate comes as PKCS#12 (here from the same CA) and goes into the
    # token with `keys import --hsm`.
    settings = settings_for(app)
    assert settings.passphrase is not None
    ca_key, ca_cert = load_ca(settings.personal_keys_dir, settings.passphrase)
    key = new_key(KeyAlgorithm.RSA_3072)
    cert = issue_personal_certificate(
        ca_key,
        ca_cert,
        key.public_key(),
        full_name="Göran Förvaltningschef",
        username="chef",
        organisation="Region Västmanland",
        now=now_utc(),
    )
    p12 = tmp_path / "chef.p12"
    p12.write_bytes(personal_pkcs12(key, cert, [ca_cert], b"pki-secret"))
    monkeypatch.setenv("RISKREG_IMPORT_PASSPHRASE", "pki-secret")
    imported = app.test_cli_runner().invoke(args=["keys", "import", "chef", str(p12), "--hsm"])
    assert imported.exit_code == 0, imported.output
    assert "nyckel i HSM (PKCS#11)" in imported.output

    content = final_pdf(app, sign_both(app, scenario))
    assert pdfsig_signers(poppler, content, tmp_path) == {
        "Granskare": "Karin Åström",
        "Godkannare": "Göran Förvaltningschef",
    }
    assert verify_pdf(content, settings_for(app).trust_roots()).verdict is Verdict.VALID
    with app.app_context():
        by_field = {who.field_name: who for who in identify(db.session, content)}
        chef = active_certificate(db.session, user(db.session, "chef"))
        assert chef is not None and chef.storage == "pkcs11" and chef.source == "imported"
        assert by_field["Godkannare"].fingerprint_sha256 == chef.fingerprint_sha256
    assert by_field["Granskare"].fingerprint_sha256 == hsm_fingerprint
    assert by_field["Granskare"].belonged and by_field["Granskare"].username == "granskare"
    assert by_field["Godkannare"].belonged and by_field["Godkannare"].username == "chef"

    # A wrong PIN signs nothing and says the token could not be opened.
    monkeypatch.setitem(app.config, "SIGNING_PKCS11_PIN", "fel-pin")
    other = build(app, title="Utbetalningar, andra halvåret")
    with pytest.raises(Exception, match="PKCS#11-token 'riskreg-test' kunde inte öppnas"):
        sign_both(app, other)
