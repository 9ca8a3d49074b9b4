"""CSV downloads open cleanly in Swedish Excel: UTF-8 with BOM, ';', headings in the reader's
language, decimal comma in Swedish, ISO dates. The tests read the bytes."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from riskreg.exports import rows_to_csv_text
from riskreg.extensions import db
from riskreg.plans.models import Plan
from tests.conftest import login

BOM = b"\xef\xbb\xbf"


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith(BOM)
    text = content[len(BOM):].decode("utf-8")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_numbers_get_a_decimal_comma_dates_stay_iso() -> None:
    text = rows_to_csv_text(
        ["Belopp (kr)", "Andel", "Datum", "Antal"],
        [[Decimal("1250.50"), 0.25, date(2025, 8, 15), 3]],
    )
    assert text.startswith("\ufeff")
    assert text.splitlines()[1] == '"1250,50";"0,25";"2025-08-15";3'
    english = rows_to_csv_text(["Amount"], [[Decimal("1250.50")]], decimal=".")
    assert english.splitlines()[1] == "1250.50"


def test_the_audit_trail_csv(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    response = client.get("/audit/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = _rows(response.get_data())
    assert rows[0][:3] == ["Post", "Tid", "Användare"]
    assert len(rows) > 10 and all(len(r) == len(rows[0]) for r in rows)
    client.post("/language", data={"locale": "en", "next": "/audit/"})
    english = _rows(client.get("/audit/export.csv").get_data())
    assert english[0][:2] == ["Item", "Time"] and "Användare" not in english[0]


def test_the_plan_csv_opens_in_swedish_excel_and_reimports(
    app: Flask, demo: dict[str, str]
) -> None:
    from riskreg.plans.plan_file import read_plan

    with app.app_context():
        plan_id = db.session.scalars(select(Plan.id)).first()
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    content = client.get(f"/plans/{plan_id}/export.csv").get_data()
    rows = _rows(content)
    assert rows[0][:3] == ["Avsnitt", "Risk", "Granskningsområde"]
    assert rows[1][0] == "Regionövergripande kontrollområden"
    deadline = rows[1][8]
    assert len(deadline) == 10 and deadline[4] == "-" and deadline[7] == "-"
    # riskreg's own importer reads it back: 7 risks of the demo plan.
    codes = {row[9] for row in rows[1:]}
    parsed = read_plan(io.BytesIO(content), "plan.csv", codes)
    assert not parsed.errors and len(parsed.rows) == len(rows) - 1

    client.post("/language", data={"locale": "en", "next": "/"})
    english = _rows(client.get(f"/plans/{plan_id}/export.csv").get_data())
    assert english[0][:3] == ["section", "risk", "review_area"]
    assert english[1][0] == "region"
