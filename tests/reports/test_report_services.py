"""The signing flow through the service, checked on the real stored files (pdfsig, pdftotext)."""

from __future__ import annotations

import hashlib
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from riskreg.auth.models import Role
from riskreg.auth.services import create_user
from riskreg.controls.models import ControlStatus
from riskreg.controls.services import change_status
from riskreg.db import now_utc
from riskreg.errors import NotAllowed, ServiceError
from riskreg.extensions import db
from riskreg.reports import services
from riskreg.reports.models import Report, ReportState
from riskreg.reports.signers import active_certificate
from riskreg.reports.verify import Verdict, verify_pdf
from tests.conftest import TEST_PASSWORD
from tests.reports.scenario import (
    Scenario,
    append_text_revision,
    approved_control,
    build,
    flip_byte_in_first_page,
    settings_for,
    sign_both,
    user,
)


@pytest.fixture()
def signed(app: Flask, scenario: Scenario) -> Iterator[tuple[Report, bytes]]:
    """The scenario's report, certified and co-signed, with the stored final file's bytes."""
    report_id = sign_both(app, scenario)
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None and report.final_file is not None
        content = settings_for(app).store().path(report.final_file).read_bytes()
        yield report, content


def run(tool: str, *args: str) -> str:
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False).stdout


def pdfsig(poppler: Callable[[str], str], content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "checked.pdf"
    path.write_bytes(content)
    return run(poppler("pdfsig"), str(path))


def pdftotext(poppler: Callable[[str], str], content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "text.pdf"
    path.write_bytes(content)
    return run(poppler("pdftotext"), str(path), "-")


# ---------------------------------------------------------------- the good case


def test_pdfsig_sees_both_signatures_valid_and_the_document_unmodified(
    signed: tuple[Report, bytes], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    _report, content = signed
    output = pdfsig(poppler, content, tmp_path)
    blocks = re.split(r"^Signature #\d+:", output, flags=re.MULTILINE)[1:]
    assert len(blocks) == 2
    for block in blocks:
        assert "Signature Validation: Signature is Valid." in block
        assert "Signature Type: ETSI.CAdES.detached" in block
    newest, oldest = blocks
    assert "Signature Field Name: Godkannare" in newest
    assert "Total document signed" in newest and "Not total" not in newest
    assert "Signature Field Name: Granskare" in oldest


def test_riskreg_verifier_trusts_the_configured_root(
    app: Flask, signed: tuple[Report, bytes]
) -> None:
    _report, content = signed
    result = verify_pdf(content, settings_for(app).trust_roots())
    assert result.verdict is Verdict.VALID
    names = [(s.signer_name, s.role) for s in result.signatures]
    assert names == [("Karin Åström", "granskare"), ("Göran Förvaltningschef", "godkännare")]
    assert result.signatures[0].certifying and not result.signatures[1].certifying


def test_stored_file_sha256_matches_the_database_and_is_read_only(
    app: Flask, signed: tuple[Report, bytes]
) -> None:
    report, content = signed
    assert report.state == ReportState.SIGNED
    assert hashlib.sha256(content).hexdigest() == report.final_sha256
    store = settings_for(app).store()
    certified = store.path(report.certified_file).read_bytes()
    assert hashlib.sha256(certified).hexdigest() == report.certified_sha256
    assert content.startswith(certified)  # the co-signature is an incremental update
    for name in (report.final_file, report.certified_file):
        assert name is not None
        mode = stat.S_IMODE(store.path(name).stat().st_mode)
        assert mode & 0o222 == 0, f"{name} is writable ({oct(mode)})"


def test_pdftotext_has_the_swedish_risk_text_exactly(
    signed: tuple[Report, bytes], scenario: Scenario, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    _report, content = signed
    text = re.sub(r"\s+", " ", pdftotext(poppler, content, tmp_path))
    assert scenario.risk_title in text
    assert "Utbetalningar till privata vårdgivare 2025" in text
    assert "Signerad elektroniskt av Karin Åström, granskare" in text
    assert "Signerad elektroniskt av Göran Förvaltningschef, godkännare" in text
    assert "Sida 1 av" in text


def test_the_report_holds_population_sample_items_deviations_and_history(
    app: Flask, signed: tuple[Report, bytes], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    _report, content = signed
    text = re.sub(r"\s+", " ", pdftotext(poppler, content, tmp_path))
    for expected in (
        "Raindance, leverantörsreskontra",
        "2025-01-01 – 2025-06-30",
        "utbetalningar_vårdval_2025H1.csv",
        "Slumpfrö (seed) 20250805",
        "Obundet slumpmässigt urval",
        "UTB-00001",
        "Ersättning utbetald över avtalad nivå. Återkrav: 1 250,00 kr.",
        "Återkräva mellanskillnaden",
        "Centrum för ekonomi (CE)",
        "Övre avvikelsegräns (95 % konfidens)",
        "Lämnad för godkännande",
        "Godkänd",
        "Urval draget",
    ):
        assert expected in text, expected


# ---------------------------------------------------------------- the rules


def test_controller_cannot_cosign(app: Flask, scenario: Scenario) -> None:
    settings = settings_for(app)
    with app.app_context():
        control = approved_control(db.session, scenario)
        granskare = user(db.session, "granskare")
        report = services.sign_review(
            db.session, control, actor=granskare, now=now_utc(), settings=settings
        )
        with pytest.raises(NotAllowed):
            services.cosign_report(
                db.session, report, actor=granskare, now=now_utc(), settings=settings
            )
        # An approver who is also one of the control's controllers may not co-sign either.
        chef = user(db.session, "chef")
        control.controllers.append(chef)
        with pytest.raises(NotAllowed, match="utfört granskningen"):
            services.cosign_report(db.session, report, actor=chef, now=now_utc(), settings=settings)
        db.session.rollback()


def test_only_the_approver_who_approved_cosigns(app: Flask, scenario: Scenario) -> None:
    settings = settings_for(app)
    with app.app_context():
        other = create_user(
            db.session,
            username="chef2",
            email="chef2@example.org",
            full_name="Åsa Verksamhetschef",
            password=TEST_PASSWORD,
            role=Role.APPROVER,
            units=list(user(db.session, "chef").units),
        )
        control = approved_control(db.session, scenario)
        report = services.sign_review(
            db.session,
            control,
            actor=user(db.session, "granskare"),
            now=now_utc(),
            settings=settings,
        )
        with pytest.raises(NotAllowed, match="Göran Förvaltningschef"):
            services.cosign_report(
                db.session, report, actor=other, now=now_utc(), settings=settings
            )
        db.session.rollback()


def test_a_second_signing_is_refused_and_the_file_is_unchanged(
    app: Flask, signed: tuple[Report, bytes], scenario: Scenario
) -> None:
    report, content = signed
    settings = settings_for(app)
    final = settings.store().path(report.final_file or "")
    before = final.stat().st_mtime_ns
    with app.app_context():
        stored = db.session.get(Report, report.id)
        assert stored is not None
        with pytest.raises(ServiceError, match="redan medsignerad"):
            services.cosign_report(
                db.session, stored, actor=user(db.session, "chef"), now=now_utc(), settings=settings
            )
        with pytest.raises(ServiceError, match="redan signerad"):
            services.sign_review(
                db.session,
                approved_control(db.session, scenario),
                actor=user(db.session, "granskare"),
                now=now_utc(),
                settings=settings,
            )
        db.session.rollback()
        assert db.session.scalar(select(func.count(Report.id))) == 1
    assert final.read_bytes() == content and final.stat().st_mtime_ns == before


def test_signing_needs_an_approved_control_and_its_controller(
    app: Flask, scenario: Scenario
) -> None:
    settings = settings_for(app)
    with app.app_context():
        control = approved_control(db.session, scenario)
        with pytest.raises(NotAllowed):
            services.sign_review(
                db.session,
                control,
                actor=user(db.session, "admin"),
                now=now_utc(),
                settings=settings,
            )
        with pytest.raises(NotAllowed):
            services.sign_review(
                db.session,
                control,
                actor=user(db.session, "granskare2"),
                now=now_utc(),
                settings=settings,
            )
        change_status(
            db.session,
            control,
            ControlStatus.IN_PROGRESS,
            actor=user(db.session, "chef"),
            now=now_utc(),
            note="Fler poster behöver granskas.",
        )
        with pytest.raises(ServiceError, match="godkänd"):
            services.sign_review(
                db.session,
                control,
                actor=user(db.session, "granskare"),
                now=now_utc(),
                settings=settings,
            )
        db.session.rollback()


def test_reopened_control_gets_a_new_version_and_keeps_the_old(
    app: Flask, signed: tuple[Report, bytes], scenario: Scenario
) -> None:
    first, first_content = signed
    settings = settings_for(app)
    now = now_utc()
    with app.app_context():
        control = approved_control(db.session, scenario)
        granskare, chef = user(db.session, "granskare"), user(db.session, "chef")
        change_status(
            db.session, control, ControlStatus.IN_PROGRESS, actor=chef, now=now, note="Komplettera."
        )
        change_status(db.session, control, ControlStatus.READY_FOR_REVIEW, actor=granskare, now=now)
        change_status(
            db.session, control, ControlStatus.APPROVED, actor=chef, now=now + timedelta(minutes=1)
        )
        second = services.sign_review(
            db.session, control, actor=granskare, now=now + timedelta(minutes=2), settings=settings
        )
        db.session.commit()
        assert second.number == 2 and second.reference.endswith("-v2")
        assert services.current_review_report(db.session, control) == second
        versions = services.review_reports(db.session, control)
        assert [r.number for r in versions] == [2, 1]
    kept = settings.store().read_verified(first.final_file or "", first.final_sha256 or "")
    assert kept == first_content


def test_a_certified_report_of_a_reopened_control_cannot_be_cosigned(
    app: Flask, scenario: Scenario
) -> None:
    settings = settings_for(app)
    with app.app_context():
        control = approved_control(db.session, scenario)
        chef = user(db.session, "chef")
        report = services.sign_review(
            db.session,
            control,
            actor=user(db.session, "granskare"),
            now=now_utc(),
            settings=settings,
        )
        change_status(
            db.session,
            control,
            ControlStatus.IN_PROGRESS,
            actor=chef,
            now=now_utc(),
            note="Fel urval.",
        )
        with pytest.raises(ServiceError, match="öppnats igen"):
            services.cosign_report(db.session, report, actor=chef, now=now_utc(), settings=settings)
        db.session.rollback()


def test_a_signer_without_a_certificate_is_told_how_to_get_one(
    app: Flask, uncertified_scenario: Scenario
) -> None:
    scenario = uncertified_scenario
    settings = services.SigningSettings.from_config(app.config, app.instance_path)
    with app.app_context():
        with pytest.raises(ServiceError, match="riskreg keys issue granskare") as refused:
            services.sign_review(
                db.session,
                approved_control(db.session, scenario),
                actor=user(db.session, "granskare"),
                now=now_utc(),
                settings=settings,
            )
        assert "inget giltigt personligt signeringscertifikat" in refused.value.message
        db.session.rollback()
        assert db.session.scalar(select(Report)) is None


def test_a_deactivated_users_key_can_no_longer_sign(
    app: Flask, scenario: Scenario, archive: Path
) -> None:
    settings = settings_for(app)
    with app.app_context():
        controller = user(db.session, "granskare")
        assert active_certificate(db.session, controller) is not None  # has a key...
        controller.active = False  # ...but is deactivated
        db.session.flush()
        with pytest.raises(ServiceError, match="inaktiverad") as refused:
            services.sign_review(
                db.session,
                approved_control(db.session, scenario),
                actor=controller,
                now=now_utc(),
                settings=settings,
            )
        assert "signeringsnyckel kan inte längre användas" in refused.value.message
        db.session.rollback()
        assert db.session.scalar(select(Report)) is None
        assert not list(archive.rglob("*.pdf"))


def test_a_missing_personal_key_file_is_a_clear_error(
    app: Flask, scenario: Scenario, archive: Path
) -> None:
    settings = settings_for(app)
    with app.app_context():
        controller = user(db.session, "granskare")
        certificate = active_certificate(db.session, controller)
        assert certificate is not None
        (settings.personal_keys_dir / "users" / certificate.location).unlink()
        with pytest.raises(ServiceError, match="Signeringsnyckeln för granskare saknas"):
            services.sign_review(
                db.session,
                approved_control(db.session, scenario),
                actor=controller,
                now=now_utc(),
                settings=settings,
            )
        db.session.rollback()


def test_unreachable_timestamp_server_signs_nothing(
    app: Flask, scenario: Scenario, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_for(app)
    monkeypatch.setitem(app.config, "TIMESTAMP_URL", "http://127.0.0.1:9/tsa")
    settings = services.SigningSettings.from_config(app.config, app.instance_path)
    assert settings.timestamp_url == "http://127.0.0.1:9/tsa"
    with app.app_context():
        with pytest.raises(ServiceError, match=r"tidsstämpel|timestamp"):
            services.sign_review(
                db.session,
                approved_control(db.session, scenario),
                actor=user(db.session, "granskare"),
                now=now_utc(),
                settings=settings,
            )
        db.session.rollback()
    assert not archive.exists() or not any(archive.rglob("*.pdf"))


def test_a_changed_stored_file_is_not_handed_out(app: Flask, signed: tuple[Report, bytes]) -> None:
    report, content = signed
    store = settings_for(app).store()
    path = store.path(report.final_file or "")
    path.chmod(0o600)
    path.write_bytes(flip_byte_in_first_page(content))
    with pytest.raises(services.ReportFileError, match="stämmer inte"):
        store.read_verified(report.final_file or "", report.final_sha256 or "")


# ---------------------------------------------------------------- CLI: verify and export


def test_cli_verify_accepts_the_issued_report(
    app: Flask, signed: tuple[Report, bytes], tmp_path: Path
) -> None:
    report, content = signed
    path = tmp_path / "rapport.pdf"
    path.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["reports", "verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "Resultat: äkta, utfärdad av riskreg" in result.output
    assert f"slutliga, medsignerade rapporten {report.reference}" in result.output


def test_one_changed_byte_is_reported_by_pdfsig_and_cli_verify(
    app: Flask,
    signed: tuple[Report, bytes],
    poppler: Callable[[str], str],
    tmp_path: Path,
) -> None:
    _report, content = signed
    tampered = flip_byte_in_first_page(content)
    assert len(tampered) == len(content)
    output = pdfsig(poppler, tampered, tmp_path)
    assert output.count("Digest Mismatch") == 2
    assert "Signature is Valid." not in output

    path = tmp_path / "ändrad.pdf"
    path.write_bytes(tampered)
    result = app.test_cli_runner().invoke(args=["reports", "verify", str(path)])
    assert result.exit_code == 2
    assert "Resultat: ändrad efter signeringen" in result.output
    assert "hashvärdet stämmer inte" in result.output


def test_appended_revision_is_an_illegal_modification_for_cli_verify(
    app: Flask, signed: tuple[Report, bytes], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    _report, content = signed
    extended = append_text_revision(content)
    assert extended.startswith(content)
    # pdfsig alone still calls both signatures valid ...
    assert pdfsig(poppler, extended, tmp_path).count("Signature is Valid.") == 2
    # ... riskreg's verifier does not accept the document.
    path = tmp_path / "tillagd.pdf"
    path.write_bytes(extended)
    result = app.test_cli_runner().invoke(args=["reports", "verify", str(path)])
    assert result.exit_code == 2
    assert "Resultat: ändrad efter signeringen" in result.output
    assert "otillåtet sätt" in result.output
    assert "senare ändringar tillåtna: NEJ" in result.output


def test_cli_verify_refuses_what_is_not_a_pdf(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "rapport.pdf"
    path.write_bytes(b"PK\x03\x04 not a pdf at all")
    result = app.test_cli_runner().invoke(args=["reports", "verify", str(path)])
    assert result.exit_code == 1
    assert "inte en PDF" in result.output


def test_export_copies_every_signed_report(
    app: Flask, signed: tuple[Report, bytes], scenario: Scenario, tmp_path: Path
) -> None:
    report, content = signed
    # A second control, certified only: not exported (it is not a finished report).
    second = build(app, title="Utbetalningar, andra halvåret")
    with app.app_context():
        services.sign_review(
            db.session,
            approved_control(db.session, second),
            actor=user(db.session, "granskare"),
            now=now_utc(),
            settings=settings_for(app),
        )
        db.session.commit()
    target = tmp_path / "arkiv"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reports", "export", str(target), "--as", "revisor"])
    assert result.exit_code == 0, result.output
    assert "1 signerade rapporter" in result.output
    exported = target / f"{report.reference}.pdf"
    assert exported.read_bytes() == content
    assert sorted(p.name for p in target.iterdir()) == sorted(["SHA256SUMS", exported.name])
    assert (target / "SHA256SUMS").read_text() == f"{report.final_sha256}  {exported.name}\n"

    again = runner.invoke(args=["reports", "export", str(target), "--as", "revisor"])
    assert again.exit_code == 0 and "0 nya, 1 fanns redan" in again.output

    exported.write_bytes(b"%PDF-1.7 something else")
    clash = runner.invoke(args=["reports", "export", str(target), "--as", "revisor"])
    assert clash.exit_code == 1 and "skriver inte över" in clash.output
