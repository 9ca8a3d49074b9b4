"""`riskreg keys init` and the demo step, each on a fresh instance folder (no keys yet)."""

from __future__ import annotations

import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.db import now_utc
from riskreg.demo import load_demo
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.reports import demo as reports_demo
from riskreg.reports.models import Report, ReportState, SigningCertificate
from riskreg.reports.services import SigningSettings
from riskreg.reports.verify import Verdict, verify_pdf
from tests.conftest import login, make_app
from tests.reports.scenario import build_approved_control


@pytest.fixture()
def fresh(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A second app on the test database with an empty instance folder of its own."""
    instance = tmp_path / "instance"
    other = make_app(database_url, instance)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_keys_init_creates_a_usable_dev_pki(fresh: Flask) -> None:
    runner = fresh.test_cli_runner()
    result = runner.invoke(args=["keys", "init", "--organisation", "Region Västmanland – HSF"])
    assert result.exit_code == 0, result.output
    keys = Path(fresh.instance_path) / "keys"
    for name in ("signing.p12", "ca.pem", "passphrase"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600, name
    assert f"lösenfras (läsbar bara för ägaren, 0600): {keys / 'passphrase'}" in result.output
    settings = SigningSettings.from_config(fresh.config, fresh.instance_path)
    assert settings.pkcs12_path == keys / "signing.p12"
    assert settings.passphrase == (keys / "passphrase").read_bytes().strip()
    (root,) = settings.trust_roots()
    assert "Region Västmanland" in root.subject.rfc4514_string()

    again = runner.invoke(args=["keys", "init"])
    assert again.exit_code == 0 and "inget ändrat" in again.output
    before = (keys / "signing.p12").read_bytes()
    forced = runner.invoke(args=["keys", "init", "--force"])
    assert forced.exit_code == 0 and (keys / "signing.p12").read_bytes() != before


def test_configured_passphrase_wins_over_the_file(fresh: Flask) -> None:
    fresh.config["SIGNING_PASSPHRASE"] = 123456  # the environment parser makes digits an int
    fresh.config["SIGNING_PKCS12"] = "region/signing.p12"
    settings = SigningSettings.from_config(fresh.config, fresh.instance_path)
    assert settings.passphrase == b"123456"
    assert settings.pkcs12_path == Path(fresh.instance_path) / "region" / "signing.p12"


def test_demo_step_without_an_approved_control_signs_nothing_but_issues_certificates(
    fresh: Flask,
) -> None:
    with fresh.app_context():
        # Controls planned but none approved (the sampling step, which approves one, left out).
        load_demo(
            db.session,
            now=now_utc(),
            feature_demos=("riskreg.controls.demo", "riskreg.reports.demo"),
        )
        db.session.commit()
        assert db.session.scalar(select(Report)) is None
        signers = {
            u.username
            for u in db.session.scalars(select(User))
            if u.active and u.role in ("controller", "approver", "admin")
        }
        holders = {c.user.username for c in db.session.scalars(select(SigningCertificate))}
    assert signers and holders == signers
    assert (Path(fresh.instance_path) / "keys" / "ca-key.pem").exists()


def test_demo_step_signs_approved_controls_on_a_fresh_machine(
    fresh: Flask, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    with fresh.app_context():
        result = load_demo(db.session, now=now_utc(), feature_demos=())
        db.session.commit()
        build_approved_control(db.session, now=now_utc())
        plan = db.session.scalar(select(Plan))
        assert plan is not None
        reports_demo.load(db.session, now=now_utc(), users={}, units={}, plan=plan)
        db.session.commit()
        report = db.session.scalar(select(Report))
        assert report is not None and report.state == ReportState.SIGNED
        assert report.certified_by_name == "Karin Åström"
        assert report.cosigner_name == "Göran Förvaltningschef"
        report_id = report.id
        # Running the step again signs nothing twice.
        reports_demo.load(db.session, now=now_utc(), users={}, units={}, plan=plan)
        assert len(db.session.scalars(select(Report)).all()) == 1
    assert (Path(fresh.instance_path) / "keys" / "signing.p12").exists()

    client = fresh.test_client()
    assert login(client, "revisor", result.passwords["revisor"]).status_code == 302
    content = client.get(f"/reports/{report_id}/download").data
    settings = SigningSettings.from_config(fresh.config, fresh.instance_path)
    assert verify_pdf(content, settings.trust_roots()).verdict is Verdict.VALID
    path = tmp_path / "demo.pdf"
    path.write_bytes(content)
    output = subprocess.run(
        [poppler("pdfsig"), str(path)], capture_output=True, text=True, check=False
    ).stdout
    assert output.count("Signature Validation: Signature is Valid.") == 2
    # Two different people, each named by their own certificate, not the organisation's.
    signers = dict(
        re.findall(
            r"Signature Field Name: (.+)\n\s*- Signer Certificate Common Name: (.+)", output
        )
    )
    assert signers == {"Granskare": "Karin Åström", "Godkannare": "Göran Förvaltningschef"}
