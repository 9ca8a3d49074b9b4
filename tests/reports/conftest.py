"""Fixtures for the report tests: report data, poppler tools, temporary folders, the signing
scenario (an approved control with its signers' certificates) and signed-in clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from report_helpers import (
    Pki,
    SignedReport,
    sign_as_approver,
    sign_as_controller,
    signing_time,
)
from report_samples import PASSPHRASE, make_followup_report, make_review_report

from riskreg.reports.data import FollowupReport, ReviewReport
from riskreg.reports.keys import KeyAlgorithm, create_dev_pki
from riskreg.reports.pdf import build_review_report
from tests.conftest import login
from tests.reports.scenario import ClientAs, Scenario, build, settings_for


@pytest.fixture(scope="session")
def review_data() -> ReviewReport:
    return make_review_report()


@pytest.fixture(scope="session")
def followup_data() -> FollowupReport:
    return make_followup_report()


@pytest.fixture(scope="session")
def poppler() -> Callable[[str], str]:
    """Path of a poppler tool; skips if poppler-utils is missing."""

    def find(tool: str) -> str:
        path = shutil.which(tool)
        if path is None:
            pytest.skip(f"{tool} (poppler-utils) is not installed")
        return path

    return find


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    p12 = create_dev_pki(tmp_path_factory.mktemp("pki"), "Region Västmanland", PASSPHRASE)
    return Pki(p12=p12, ca=p12.parent / "ca.pem")


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A look-alike PKI: same organisation name, other keys. Must not be trusted by ours."""
    p12 = create_dev_pki(tmp_path_factory.mktemp("foreign"), "Region Västmanland", PASSPHRASE)
    return Pki(p12=p12, ca=p12.parent / "ca.pem")


@pytest.fixture(scope="session")
def foreign_ec_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A look-alike PKI with EC keys (our CA is RSA)."""
    p12 = create_dev_pki(
        tmp_path_factory.mktemp("foreign-ec"),
        "Region Västmanland",
        PASSPHRASE,
        key_algorithm=KeyAlgorithm.EC_P256,
    )
    return Pki(p12=p12, ca=p12.parent / "ca.pem")


@pytest.fixture(scope="session")
def signed_report(review_data: ReviewReport, pki: Pki) -> SignedReport:
    unsigned = build_review_report(review_data)
    controller_time, approver_time = signing_time(minutes_ago=3), signing_time()
    certified = sign_as_controller(unsigned, pki, controller_time)
    cosigned = sign_as_approver(certified, pki, approver_time)
    return SignedReport(unsigned, certified, cosigned, controller_time, approver_time)


@pytest.fixture()
def demo(app):  # type: ignore[no-untyped-def]
    """The foundation demo only: these tests build their own approved controls and reports."""
    from tests.conftest import load_demo_data

    return load_demo_data(app, ())


@pytest.fixture()
def archive(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Signed reports of this test go to their own folder."""
    folder = tmp_path / "archive"
    monkeypatch.setitem(app.config, "REPORTS_DIR", str(folder))
    return folder


@pytest.fixture()
def uncertified_scenario(app: Flask, demo: dict[str, str], archive: Path) -> Scenario:
    """An approved control ready for its report; no signer has a certificate yet."""
    return build(app)


@pytest.fixture()
def scenario(app: Flask, uncertified_scenario: Scenario) -> Scenario:
    """An approved control ready for its report, the dev keys made and every active user
    holding a personal certificate (``settings_for``)."""
    settings_for(app)
    return uncertified_scenario


@pytest.fixture()
def client_as(app: Flask, demo: dict[str, str]) -> ClientAs:
    """``client_as("revisor")``: a test client signed in as that demo user."""

    def signed_in(username: str) -> FlaskClient:
        client = app.test_client()
        assert login(client, username, demo[username]).status_code == 302
        return client

    return signed_in
