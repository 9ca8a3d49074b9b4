from __future__ import annotations

import io
import re

from flask import Flask
from sqlalchemy import func, select

from riskreg.demo import PLAN_FILE
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk
from tests.conftest import login


def _plan_id(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(Plan.id))


def _risk_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Risk.id)))


def test_plan_page_shows_both_sections_with_document_columns(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    html = client.get(f"/plans/{_plan_id(app)}").get_data(as_text=True)
    for heading in (
        "Regionövergripande kontrollområden",
        "Förvaltningens kontrollområden",
        "Granskningsområde",
        "Berört reglemente/policy/regler",
        "Metod för granskning",
        "Riskvärden",
        "Granskning klar",
        "Ansvarig för granskning",
    ):
        assert heading in html
    region = html.split('data-testid="section-region"')[1].split("</table>")[0]
    administration = html.split('data-testid="section-administration"')[1].split("</table>")[0]
    assert region.count('data-testid="risk-row"') == 5
    assert administration.count('data-testid="risk-row"') == 2
    assert "Risk för ej ändamålsenlig remisshantering" in administration
    assert "Fastställd" in html


def test_export_csv_from_the_web_equals_the_shipped_file(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    response = client.get(f"/plans/{_plan_id(app)}/export.source.csv")
    assert response.status_code == 200
    assert response.data == PLAN_FILE.read_bytes()


def test_export_xlsx_is_a_workbook(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    response = client.get(f"/plans/{_plan_id(app)}/export.xlsx")
    assert response.status_code == 200
    assert response.data[:2] == b"PK"


def _upload(client, content: bytes, filename: str, **fields: object):  # type: ignore[no-untyped-def]
    data = {
        "organisation": "Region Västmanland – Hälso- och sjukvårdsförvaltningen",
        "year": "2026",
        "file": (io.BytesIO(content), filename),
    }
    data.update(dict(fields.items()))
    return client.post("/plans/import", data=data, content_type="multipart/form-data")


def test_upload_of_a_bad_file_lists_each_bad_row_and_writes_nothing(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    lines = PLAN_FILE.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",4,3,12,", ",5,3,15,")  # S = 5 on line 3
    lines[4] = lines[4].replace("2025-08-15", "2025-13-01")  # impossible date on line 5
    before = _risk_count(app)
    response = _upload(client, ("\n".join(lines) + "\n").encode("utf-8"), "plan.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Inget har sparats" in html
    assert re.search(r"Rad 3\b", html) and re.search(r"Rad 5\b", html)
    assert _risk_count(app) == before
    with app.app_context():
        assert db.session.scalar(select(func.count(Plan.id)).where(Plan.year == 2026)) == 0


def test_upload_of_the_shipped_csv_as_excel_export_creates_the_plan(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    text = PLAN_FILE.read_text(encoding="utf-8")
    import csv

    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    response = _upload(client, out.getvalue().encode("cp1252"), "plan-excel.csv")
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.year == 2026))
        assert plan is not None and len(plan.risks) == 7
        assert any("kemiska arbetsmiljö- och miljörisker" in r.title for r in plan.risks)


def test_unknown_unit_is_refused_unless_creation_is_asked_for(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    text = PLAN_FILE.read_text(encoding="utf-8").replace(",CHR\n", ",Ny enhet\n")
    response = _upload(client, text.encode("utf-8"), "plan.csv")
    assert "Ny enhet" in response.get_data(as_text=True)
    assert _risk_count(app) == 7
    response = _upload(client, text.encode("utf-8"), "plan.csv", create_units="y")
    assert response.status_code == 302
    assert _risk_count(app) == 14


def test_adopt_form_locks_the_plan(app: Flask, make_user, make_unit) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from riskreg.db import now_utc
    from riskreg.plans.services import (
        RiskData,
        create_risk,
        get_or_create_organisation,
        get_or_create_plan,
    )

    unit = make_unit("CE")
    make_user("ik", "admin")
    with app.app_context():
        plan = get_or_create_plan(db.session, get_or_create_organisation(db.session, "Org"), 2025)
        create_risk(
            db.session,
            plan,
            RiskData("region", "R", "", "", "", 2, 2, date(2025, 8, 15), unit.id),
            actor=None,
            now=now_utc(),
        )
        db.session.commit()
        plan_id = plan.id
    client = app.test_client()
    login(client, "ik")
    response = client.post(
        f"/plans/{plan_id}/adopt",
        data={
            "decision_date": "2025-01-15",
            "decision_body": "HSN",
            "decision_paragraph": "§ 4",
            "diary_number": "HSN 2025/4",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "HSN 2025/4" in page and "§ 4" in page
