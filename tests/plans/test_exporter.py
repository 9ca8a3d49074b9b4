"""Tests for riskreg.plans.exporter: byte-identical CSV round trip, XLSX round trip, injection."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from riskreg.plans.exporter import neutralise_formula, plan_rows_to_csv, plan_rows_to_xlsx
from riskreg.plans.plan_file import PlanRow, read_plan
from riskreg.tabular import open_table

TESTS = Path(__file__).parent.parent
DATA = TESTS / "data"
SHIPPED = TESTS.parent / "riskreg" / "demo" / "internkontrollplan-2025.csv"
UNITS = {"CE", "CHR", "Staben", "Smittskydd", "POU staben"}


@pytest.fixture(scope="module")
def rows() -> list[PlanRow]:
    result = read_plan(SHIPPED, None, UNITS)
    assert result.errors == []
    return result.rows


def row(**changes: object) -> PlanRow:
    base = PlanRow(line=2, section="region", title="Risk", review_area="Område",
                   regulation="Avtal", method="Stickprov", probability=2, consequence=3,
                   deadline=date(2025, 8, 15), responsible_code="CE")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def test_shipped_plan_round_trips_byte_identically(rows: list[PlanRow]) -> None:
    exported = plan_rows_to_csv(rows).encode("utf-8")
    assert exported == SHIPPED.read_bytes()


@pytest.mark.parametrize("name", ["plan-excel-semikolon-cp1252.csv",
                                  "plan-svenska-rubriker-cp1252.csv"])
def test_excel_variant_exports_to_the_canonical_file(name: str) -> None:
    result = read_plan(DATA / name, None, UNITS)
    assert plan_rows_to_csv(result.rows).encode("utf-8") == SHIPPED.read_bytes()


def test_csv_format_details() -> None:
    text = plan_rows_to_csv([row(title='Risk, "citat"', method="rad 1\nrad 2", deadline=None)])
    lines = text.split("\r\n")
    assert lines[0] == ("section,risk,review_area,regulation,method,probability,consequence,"
                        "risk_value,deadline,responsible")
    assert text.endswith("\r\n") and "\r\n" not in text.replace("\r\n", "", 3)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[1] == ["region", 'Risk, "citat"', "Område", "Avtal", "rad 1\nrad 2",
                         "2", "3", "6", "", "CE"]
    assert '"Risk, ""citat"""' in text


def test_empty_plan_is_just_the_header() -> None:
    assert plan_rows_to_csv([]).count("\r\n") == 1


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_formula(start: str) -> None:
    assert neutralise_formula(start + "1+1") == "'" + start + "1+1"
    assert neutralise_formula("Risk " + start) == "Risk " + start


def test_formula_injection_is_neutralised_in_csv_and_survives_reimport(tmp_path: Path) -> None:
    evil = row(title='=HYPERLINK("http://example.invalid","klicka")', method="-5 % avvikelse",
               regulation="@SUM(A1)", responsible_code="+CE")
    text = plan_rows_to_csv([evil])
    record = list(csv.reader(io.StringIO(text, newline="")))[1]
    assert record[1].startswith("'=HYPERLINK")
    assert record[3] == "'@SUM(A1)"
    assert record[4] == "'-5 % avvikelse"
    assert record[9] == "'+CE"
    assert record[5:8] == ["2", "3", "6"]  # numbers are never prefixed
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("utf-8"))
    result = read_plan(path, None, {"+CE"})
    assert result.errors == []
    assert result.rows == [evil]


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------


def test_xlsx_reimports_to_the_same_rows(rows: list[PlanRow]) -> None:
    data = plan_rows_to_xlsx(rows)
    result = read_plan(io.BytesIO(data), "plan.xlsx", UNITS)
    assert result.errors == []
    assert result.rows == rows
    assert [r.line for r in result.rows] == [r.line for r in rows]
    assert plan_rows_to_csv(result.rows).encode() == SHIPPED.read_bytes()


def test_xlsx_cells_are_typed_and_formatted(rows: list[PlanRow]) -> None:
    workbook = load_workbook(io.BytesIO(plan_rows_to_xlsx(rows)))
    sheet = workbook.active
    assert sheet.title == "Internkontrollplan"
    header = [c.value for c in sheet[1]]
    assert header == ["Avsnitt", "Risk", "Granskningsområde", "Berört reglemente/policy/regler",
                      "Metod för granskning", "Sannolikhet (S)", "Konsekvens (K)",
                      "Risktal (S×K)", "Granskning klar", "Ansvarig för granskning"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:J8"
    assert sheet.column_dimensions["B"].width >= 40
    assert sheet.column_dimensions["F"].width < sheet.column_dimensions["E"].width
    first = list(sheet[2])
    assert first[0].value == "Regionövergripande kontrollområden"
    assert sheet["A7"].value == "Förvaltningens kontrollområden"
    assert first[1].value == rows[0].title
    assert (first[5].value, first[6].value, first[7].value) == (4, 3, 12)
    assert all(first[i].data_type == "n" for i in (5, 6, 7))
    assert first[8].is_date and first[8].value == datetime(2025, 8, 15)
    assert first[8].number_format == "yyyy-mm-dd"
    assert first[1].alignment.wrap_text
    assert first[9].value == "CHR"
    workbook.close()


def test_xlsx_formula_like_text_is_stored_as_text(tmp_path: Path) -> None:
    evil = row(title="=1+1", method="#N/A", regulation="-5", deadline=None)
    data = plan_rows_to_xlsx([evil])
    workbook = load_workbook(io.BytesIO(data))
    cells = workbook.active[2]
    assert cells[1].value == "=1+1" and cells[1].data_type == "s"
    assert cells[1].quotePrefix
    assert cells[4].value == "#N/A" and cells[4].data_type == "s"
    assert cells[8].value is None
    workbook.close()
    with open_table(io.BytesIO(data), "plan.xlsx") as table:
        values = next(iter(table)).values
    assert values["Risk"] == "=1+1"  # a string, not a formula with no cached value
    result = read_plan(io.BytesIO(data), "plan.xlsx", UNITS)
    # "#N/A" as a plan text is refused on import, by design: it is never what a user meant.
    assert len(result.errors) == 1 and "felvärde #N/A" in result.errors[0].message


def test_xlsx_drops_control_characters_instead_of_failing() -> None:
    data = plan_rows_to_xlsx([row(method="före\x0befter")])
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.active["E2"].value == "föreefter"
    workbook.close()


def test_xlsx_is_readable_by_open_table_with_native_types(rows: list[PlanRow]) -> None:
    with open_table(io.BytesIO(plan_rows_to_xlsx(rows)), "plan.xlsx") as table:
        assert table.kind == "xlsx"
        first = next(iter(table))
    assert first.line == 2
    assert first.values["Sannolikhet (S)"] == 4
    assert first.values["Granskning klar"] == datetime(2025, 8, 15)
