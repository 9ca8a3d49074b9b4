"""The yearly follow-up: page, signing by the coordinator and an approver, XLSX export."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.controls.models import Control
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.reports import services
from riskreg.reports.models import Report, ReportKind, ReportState
from riskreg.reports.verify import Verdict, verify_pdf
from tests.reports.scenario import ClientAs, Scenario, settings_for, user


def plan_id(app: Flask) -> int:
    with app.app_context():
        plan = db.session.scalar(select(Plan))
        assert plan is not None
        return plan.id


def chef_id(app: Flask) -> int:
    with app.app_context():
        return user(db.session, "chef").id


def test_followup_page_lists_every_plan_row_with_a_light(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    client = client_as("revisor")
    page = client.get(f"/reports/plans/{plan_id(app)}/followup").get_data(as_text=True)
    rows = page.count('data-testid="followup-row"')
    assert rows == 7  # six plan rows without a control and the approved payments control
    assert "Utbetalningar till privata vårdgivare 2025" in page
    assert "Ingen granskning planerad" in page
    assert page.count('data-testid="traffic-light"') == 7
    # 1 deviation in 12 items is beyond 5 % tolerable at 95 %: red, with the reason.
    assert "Avvikelser över tolerabel nivå" in page
    assert 'data-testid="heatmap"' in page
    assert "Signera uppföljningen" not in page  # the auditor only reads


def test_coordinator_signs_and_approver_cosigns_the_followup(
    app: Flask,
    demo: dict[str, str],
    scenario: Scenario,
    poppler: Callable[[str], str],
    tmp_path: Path, client_as: ClientAs,
) -> None:
    url = f"/reports/plans/{plan_id(app)}/followup"
    admin = client_as("admin")
    assert "Signera uppföljningen som samordnare" in admin.get(url).get_data(as_text=True)
    assert admin.post(f"{url}/sign", data={"cosigner": chef_id(app)}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Report)) is None  # not confirmed: nothing signed
    done = admin.post(
        f"{url}/sign",
        data={"cosigner": chef_id(app), "confirm": "y", "password": demo["admin"]},
        follow_redirects=True,
    )
    assert "väntar på medsignatur av Göran Förvaltningschef" in done.get_data(as_text=True)
    with app.app_context():
        report = db.session.scalar(select(Report))
        assert report is not None and report.kind == ReportKind.FOLLOWUP
        assert report.certified_role == "internkontrollsamordnare"
        report_id = report.id

    approver = client_as("chef")
    assert "Medsignera uppföljningen" in approver.get(url).get_data(as_text=True)
    approver.post(
        f"/reports/{report_id}/cosign", data={"confirm": "y", "password": demo["chef"]}
    )
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None and report.state == ReportState.SIGNED

    content = client_as("revisor").get(f"/reports/{report_id}/download").data
    assert verify_pdf(content, settings_for(app).trust_roots()).verdict is Verdict.VALID
    path = tmp_path / "uppfoljning.pdf"
    path.write_bytes(content)
    signatures = subprocess.run(
        [poppler("pdfsig"), str(path)], capture_output=True, text=True, check=False
    ).stdout
    assert signatures.count("Signature is Valid.") == 2
    text = subprocess.run(
        [poppler("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = re.sub(r"\s+", " ", text)
    assert "Uppföljning av internkontrollplanen 2025" in text
    assert "Utbetalningar till privata vårdgivare 2025" in text
    assert "Riskkarta" in text and "Sannolik" in text and "Allvarlig" in text
    assert "Signerad elektroniskt av Ingrid Samordnare, internkontrollsamordnare" in text
    # The coordinator certifies the follow-up: the signature box says so, not "Granskare".
    assert "Samordnare: Ingrid Samordnare" in text and "Granskare:" not in text


def test_only_one_followup_waits_for_a_cosignature(app: Flask, scenario: Scenario) -> None:
    settings = settings_for(app)
    with app.app_context():
        plan = db.session.scalar(select(Plan))
        assert plan is not None
        admin, chef = user(db.session, "admin"), user(db.session, "chef")
        services.sign_followup(
            db.session, plan, actor=admin, cosigner=chef, now=now_utc(), settings=settings
        )
        with pytest.raises(ServiceError, match="väntar redan"):
            services.sign_followup(
                db.session, plan, actor=admin, cosigner=chef, now=now_utc(), settings=settings
            )
        with pytest.raises(ServiceError, match="godkännare"):
            services.sign_followup(
                db.session,
                plan,
                actor=admin,
                cosigner=user(db.session, "revisor"),
                now=now_utc(),
                settings=settings,
            )
        db.session.rollback()


def test_xlsx_export_neutralises_formulas(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    with app.app_context():
        control = db.session.get(Control, scenario.control_id)
        assert control is not None
        control.title = '=HYPERLINK("http://evil.example","Klicka")'
        control.actions[0].description = "+SUM(A1:A9)"
        control.responsible_unit.code = "@CE"
        db.session.commit()
    response = client_as("revisor").get(f"/reports/plans/{plan_id(app)}/followup.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    sheet = book["Uppföljning"]
    header = [cell.value for cell in sheet[1]]
    assert header[:2] == ["Avsnitt", "Granskning"] and "Trafikljus" in header
    values = {cell.value: cell for row in sheet.iter_rows(min_row=2) for cell in row}
    title = values['\'=HYPERLINK("http://evil.example","Klicka")']
    assert title.data_type == "s"
    assert "'@CE" in values
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in values)
    actions = [cell.value for row in book["Åtgärder"].iter_rows(min_row=2) for cell in row]
    assert "'+SUM(A1:A9)" in actions
    heat = book["Riskkarta"]
    assert heat["A1"].value.startswith("Sannolikhet")
    assert heat.max_row == 5 and heat.max_column == 5


def test_followup_is_not_for_unit_members(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    client = client_as("smittskydd")
    assert client.get(f"/reports/plans/{plan_id(app)}/followup").status_code == 403
    assert client.get(f"/reports/plans/{plan_id(app)}/followup.xlsx").status_code == 403


def test_preview_is_marked_as_draft(app: Flask, scenario: Scenario, client_as: ClientAs) -> None:
    response = client_as("chef").get(
        f"/reports/plans/{plan_id(app)}/followup/preview.pdf"
    )
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert "inline" in response.headers["Content-Disposition"]
    with app.app_context():
        assert db.session.scalar(select(Report)) is None
        assert db.session.scalar(select(User).where(User.username == "chef")) is not None
