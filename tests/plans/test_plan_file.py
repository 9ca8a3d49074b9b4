"""Tests for riskreg.plans.plan_file: the shipped plan, Excel's variants, and bad plan files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from riskreg.plans.plan_file import (
    MAX_PLAN_ROWS,
    PlanRow,
    RowError,
    parse_plan,
    read_plan,
)
from riskreg.tabular import Cell, TableError, TableRow, open_table

TESTS = Path(__file__).parent.parent
DATA = TESTS / "data"
SHIPPED = TESTS.parent / "riskreg" / "demo" / "internkontrollplan-2025.csv"
SHARED = Path("/work/shared/data/internkontrollplan-2025.csv")
UNITS = {"CE", "CHR", "Staben", "Smittskydd", "POU staben"}
HEADER = ("section,risk,review_area,regulation,method,probability,consequence,risk_value,"
          "deadline,responsible")
GOOD = "region,Risk för fel,Kontroll av X,Avtal,Stickprov,4,3,12,2025-08-15,CE"


def plan_csv(tmp_path: Path, *lines: str, name: str = "plan.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def xlsx(tmp_path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    path = tmp_path / "plan.xlsx"
    workbook.save(path)
    return path


class MemoryTable:
    """Any object with a header and TableRows will do: parse_plan is not tied to files."""

    def __init__(self, header: tuple[str, ...], rows: list[dict[str, Cell]]) -> None:
        self.header = header
        self._rows = rows

    def __iter__(self) -> Iterator[TableRow]:
        for index, values in enumerate(self._rows, start=2):
            yield TableRow(index, values)


@pytest.fixture(scope="module")
def shipped_rows() -> list[PlanRow]:
    result = read_plan(SHIPPED, None, UNITS)
    assert result.errors == []
    return result.rows


# --------------------------------------------------------------------------------------------
# The shipped plan
# --------------------------------------------------------------------------------------------


def test_demo_copy_is_byte_identical_to_the_shared_plan() -> None:
    if not SHARED.exists():
        pytest.skip("shared/ not present")
    assert SHIPPED.read_bytes() == SHARED.read_bytes()


def test_shipped_plan_parses_to_seven_rows(shipped_rows: list[PlanRow]) -> None:
    assert len(shipped_rows) == 7
    assert [r.section for r in shipped_rows] == ["region"] * 5 + ["administration"] * 2
    assert [r.line for r in shipped_rows] == list(range(2, 9))
    first = shipped_rows[0]
    assert first == PlanRow(
        line=2,
        section="region",
        title="Avtal gällande personal följs inte vilket leder till merkostnader",
        review_area="Kontroll av ny lön vid förändrad anställningsform i samma uppdrag.",
        regulation="Avtal, riktlinjer",
        method=("Kontroll av avslutade tillsvidareanställningar som har följts av "
                "timanställning under perioden 2024-06-01 – 2025-05-31."),
        probability=4,
        consequence=3,
        deadline=date(2025, 8, 15),
        responsible_code="CHR",
    )
    assert first.risk_value == 12
    assert [r.responsible_code for r in shipped_rows] == [
        "CHR", "Staben", "CE", "CE", "Staben", "Smittskydd", "POU staben"]
    assert [r.risk_value for r in shipped_rows] == [12, 12, 9, 12, 12, 12, 9]
    assert shipped_rows[5].regulation == "Riktlinje 21774-6"
    assert "Följsamhet till riktlinje" in shipped_rows[5].review_area
    assert "remisshantering" in shipped_rows[6].title


def test_plan_rows_are_frozen(shipped_rows: list[PlanRow]) -> None:
    with pytest.raises(FrozenInstanceError):
        shipped_rows[0].title = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("plan-excel-semikolon-cp1252.csv", "cp1252"),
        ("plan-excel-semikolon-utf8.csv", "utf-8"),
        ("plan-excel-semikolon-utf8-bom.csv", "utf-8"),
        ("plan-svenska-rubriker-cp1252.csv", "cp1252"),
    ],
)
def test_excel_variants_give_the_same_rows(
    name: str, encoding: str, shipped_rows: list[PlanRow]
) -> None:
    with open_table(DATA / name) as table:
        assert table.encoding == encoding
        assert table.delimiter == ";"
        result = parse_plan(table, UNITS, create_missing_units=False)
    assert result.errors == []
    assert result.rows == shipped_rows
    assert [r.line for r in result.rows] == list(range(2, 9))
    assert result.new_unit_codes == []


def test_swedish_headings_and_unit_case_are_normalised(shipped_rows: list[PlanRow]) -> None:
    raw = (DATA / "plan-svenska-rubriker-cp1252.csv").read_bytes().decode("cp1252")
    assert "POU STABEN" in raw and "Regionövergripande kontrollområden" in raw
    result = read_plan(DATA / "plan-svenska-rubriker-cp1252.csv", None, UNITS)
    assert result.rows[-1].responsible_code == "POU staben"


def test_heading_aliases_are_case_and_punctuation_insensitive(tmp_path: Path) -> None:
    path = plan_csv(
        tmp_path,
        "AVSNITT;risk;GRANSKNINGSOMRÅDE;Berört reglemente / policy / regler;"
        "metod för granskning;Sannolikhet (S);Konsekvens (K);Risktal (S×K);"
        "Granskning klar;Ansvarig för granskning;Kommentar",
        "Förvaltningens kontrollområden;R;G;P;M;2;2;4;2025-09-30;smittskydd;fri text",
    )
    result = read_plan(path, None, UNITS)
    assert result.errors == []
    assert result.ignored_columns == ["Kommentar"]
    row = result.rows[0]
    assert (row.section, row.probability, row.consequence, row.deadline, row.responsible_code) \
        == ("administration", 2, 2, date(2025, 9, 30), "Smittskydd")


def test_parse_plan_accepts_any_table() -> None:
    header = ("section", "risk", "review_area", "regulation", "method", "probability",
              "consequence", "deadline", "responsible")
    table = MemoryTable(header, [dict(zip(header, [
        "region", "R", "G", "", "", 1, 4.0, datetime(2025, 8, 15), "ce"], strict=True))])
    result = parse_plan(table, UNITS)
    assert result.errors == []
    assert result.rows[0].probability == 1 and result.rows[0].consequence == 4
    assert result.rows[0].responsible_code == "CE"
    assert result.rows[0].deadline == date(2025, 8, 15)


def test_optional_values(tmp_path: Path) -> None:
    path = plan_csv(tmp_path, HEADER, "region,R,G,,,1,1,,,CE")
    result = read_plan(path, None, UNITS)
    assert result.errors == []
    row = result.rows[0]
    assert (row.regulation, row.method, row.deadline, row.risk_value) == ("", "", None, 1)


def test_risk_value_column_is_optional(tmp_path: Path) -> None:
    header = HEADER.replace(",risk_value", "")
    path = plan_csv(tmp_path, header, "region,R,G,P,M,3,3,2025-08-15,CE")
    result = read_plan(path, None, UNITS)
    assert result.errors == [] and result.rows[0].risk_value == 9


# --------------------------------------------------------------------------------------------
# Bad plans: every error, with the right line
# --------------------------------------------------------------------------------------------


def test_bad_plan_file_reports_every_bad_row_with_its_physical_line() -> None:
    result = read_plan(DATA / "plan-fel.csv", None, UNITS)
    assert result.rows == []
    assert result.new_unit_codes == []
    by_line = {e.line: e for e in result.errors}
    # Line 2-3 hold a valid row with a two-line cell, so the first bad row is on line 4.
    assert sorted(by_line) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert len(result.errors) == 8
    assert by_line[4].message == "Rad 4: Sannolikhet (S) måste vara ett heltal 1–4, fick 5."
    assert by_line[4].column == "probability"
    assert by_line[5].message == "Rad 5: Konsekvens (K) måste vara ett heltal 1–4, fick ”tre”."
    assert by_line[6].message == "Rad 6: Risktal 11 stämmer inte med S × K = 4 × 3 = 12."
    assert "Rad 7: Granskning klar" in by_line[7].message
    assert "månad 13 finns inte" in by_line[7].message
    assert "”Ekonomi” finns inte som enhet" in by_line[8].message
    assert "12 fält" in by_line[9].message and "rubrikraden har 10" in by_line[9].message
    assert "februari 2025 har 28 dagar" in by_line[10].message
    assert by_line[11].message == "Rad 11: Risk saknas."
    assert str(by_line[11]) == by_line[11].message


def test_create_missing_units_removes_only_the_unit_error() -> None:
    result = read_plan(DATA / "plan-fel.csv", None, UNITS, create_missing_units=True)
    assert sorted(e.line for e in result.errors) == [4, 5, 6, 7, 9, 10, 11]
    assert result.rows == [] and result.new_unit_codes == []  # all-or-nothing


def test_unknown_units_are_listed_when_they_may_be_created(tmp_path: Path) -> None:
    path = plan_csv(
        tmp_path, HEADER,
        GOOD.replace(",CE", ",Ekonomistaben"),
        GOOD.replace(",CE", ",EKONOMISTABEN"),
        GOOD.replace(",CE", ",IT-enheten"),
        GOOD.replace(",CE", ",chr"),
    )
    refused = read_plan(path, None, UNITS)
    assert [e.line for e in refused.errors] == [2, 3, 4]
    assert "kända enheter: CE, CHR, POU staben, Smittskydd, Staben" in refused.errors[0].message

    accepted = read_plan(path, None, UNITS, create_missing_units=True)
    assert accepted.errors == []
    assert accepted.new_unit_codes == ["Ekonomistaben", "IT-enheten"]
    assert [r.responsible_code for r in accepted.rows] == [
        "Ekonomistaben", "Ekonomistaben", "IT-enheten", "CHR"]


def test_missing_columns_are_listed_in_one_message() -> None:
    result = read_plan(DATA / "plan-saknar-kolumner.csv", None, UNITS)
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.line == 1
    assert error.message.startswith("Rad 1: kolumner saknas: Sannolikhet (S), Granskning klar.")
    assert "Filen har kolumnerna: section, risk" in error.message


def test_two_columns_meaning_the_same_is_an_error(tmp_path: Path) -> None:
    path = plan_csv(tmp_path, HEADER + ",Sannolikhet", GOOD + ",4")
    result = read_plan(path, None, UNITS)
    assert len(result.errors) == 1
    message = result.errors[0].message
    assert "”probability” och ”Sannolikhet” betyder båda Sannolikhet (S)" in message


def test_several_problems_in_one_row_are_all_reported(tmp_path: Path) -> None:
    path = plan_csv(tmp_path, HEADER, "kommun,,,P,M,0,9,,1/9/2025,Okänd")
    result = read_plan(path, None, UNITS)
    columns = [e.column for e in result.errors]
    assert columns == ["section", "risk", "review_area", "probability", "consequence",
                       "deadline", "responsible"]
    assert all(e.line == 2 for e in result.errors)
    assert "Avsnitt ”kommun” är okänt" in result.errors[0].message


@pytest.mark.parametrize(
    ("probability", "consequence", "fragment"),
    [
        ("5", "3", "Sannolikhet (S) måste vara ett heltal 1–4, fick 5."),
        ("0", "3", "Sannolikhet (S) måste vara ett heltal 1–4, fick 0."),
        ("-1", "3", "Sannolikhet (S) måste vara ett heltal 1–4, fick -1."),
        ('"2,5"', "3", "Sannolikhet (S) måste vara ett heltal 1–4, fick ”2,5”."),
        ("", "3", "Sannolikhet (S) saknas"),
        ("4", "tre", "Konsekvens (K) måste vara ett heltal 1–4, fick ”tre”."),
        ("4", "", "Konsekvens (K) saknas"),
    ],
)
def test_probability_and_consequence_range(
    tmp_path: Path, probability: str, consequence: str, fragment: str
) -> None:
    line = f"region,R,G,P,M,{probability},{consequence},,2025-08-15,CE"
    result = read_plan(plan_csv(tmp_path, HEADER, line), None, UNITS)
    assert len(result.errors) == 1
    assert result.errors[0].message.startswith(f"Rad 2: {fragment}")


def test_risk_value_must_be_an_integer(tmp_path: Path) -> None:
    result = read_plan(plan_csv(tmp_path, HEADER, GOOD.replace(",12,", ",tolv,")), None, UNITS)
    assert [e.message for e in result.errors] == [
        "Rad 2: Risktal måste vara ett heltal, fick ”tolv”."]


def test_text_too_long(tmp_path: Path) -> None:
    result = read_plan(plan_csv(tmp_path, HEADER, GOOD.replace("Risk för fel", "x" * 1001)),
                       None, UNITS)
    assert [e.message for e in result.errors] == [
        "Rad 2: Risk är för lång (1001 tecken, högst 1000)."]


def test_excel_error_value_in_text(tmp_path: Path) -> None:
    result = read_plan(plan_csv(tmp_path, HEADER, GOOD.replace("Avtal", "#REF!")), None, UNITS)
    assert [e.message for e in result.errors] == [
        "Rad 2: Berört reglemente/policy/regler innehåller Excels felvärde #REF!."]


def test_formula_guard_from_our_own_export_is_removed(tmp_path: Path) -> None:
    path = plan_csv(tmp_path, HEADER, GOOD.replace("Stickprov", "'=1+1").replace(
        "Kontroll av X", "'-5 % avvikelse"))
    row = read_plan(path, None, UNITS).rows[0]
    assert row.method == "=1+1"
    assert row.review_area == "-5 % avvikelse"
    kept = read_plan(plan_csv(tmp_path, HEADER, GOOD.replace("Stickprov", "'citat'")),
                     None, UNITS).rows[0]
    assert kept.method == "'citat'"


def test_header_only_file() -> None:
    result = read_plan(DATA / "bara-rubrik.csv", None, UNITS)
    assert [e.message for e in result.errors] == [
        "Rad 1: filen har bara en rubrikrad och inga planrader."]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("tom.csv", "Filen är tom"),
        ("plan-trunkerad.xlsx", "skadad eller ofullständig"),
        ("bild-omdopt.csv", "bild (PNG)"),
        ("bild-omdopt.xlsx", "bild (PNG)"),
        ("program-omdopt.csv", "program (.exe)"),
        ("gammal-excel.xls", "gamla format (.xls)"),
        ("skrap.csv", "ingen textfil"),
    ],
)
def test_unreadable_files_give_exactly_one_clear_error(name: str, fragment: str) -> None:
    result = read_plan(DATA / name, None, UNITS)
    assert result.rows == []
    assert len(result.errors) == 1
    assert fragment in result.errors[0].message
    assert "Traceback" not in result.errors[0].message


def test_renamed_upload_keeps_users_filename_in_messages() -> None:
    stream = io.BytesIO((DATA / "skrap.csv").read_bytes())
    result = read_plan(stream, "internkontrollplan.csv", UNITS)
    assert result.errors[0].message.startswith("internkontrollplan.csv är ingen textfil")


def test_broken_quote_mid_file_is_reported_after_earlier_row_errors(tmp_path: Path) -> None:
    path = plan_csv(tmp_path, HEADER, GOOD.replace(",4,3,12,", ",5,3,15,"),
                    'region,"never closed,G,P,M,4,3,12,2025-08-15,CE', GOOD)
    result = read_plan(path, None, UNITS)
    assert [e.line for e in result.errors] == [2, 3]
    assert "avslutas aldrig" in result.errors[1].message


def test_table_error_during_iteration_becomes_an_error() -> None:
    class Broken(MemoryTable):
        def __iter__(self) -> Iterator[TableRow]:
            raise TableError("arbetsboken är skadad", 40)

    header = tuple(HEADER.split(","))
    result = parse_plan(Broken(header, []), UNITS)
    assert result.errors == [RowError(40, "Rad 40: arbetsboken är skadad")]


def test_too_many_rows_is_refused() -> None:
    header = tuple(HEADER.split(","))
    values = dict(zip(header, GOOD.split(","), strict=True))
    result = parse_plan(MemoryTable(header, [values] * (MAX_PLAN_ROWS + 5)), UNITS)
    assert len(result.errors) == 1 and "fler än 2000 rader" in result.errors[0].message


def test_error_list_is_capped() -> None:
    header = tuple(HEADER.split(","))
    values = dict(zip(header, GOOD.replace(",4,3,", ",9,9,").split(","), strict=True))
    result = parse_plan(MemoryTable(header, [values] * 1000), UNITS)
    assert len(result.errors) == 501
    assert result.errors[-1].line is None and "resten visas inte" in result.errors[-1].message


# --------------------------------------------------------------------------------------------
# XLSX plans
# --------------------------------------------------------------------------------------------


def test_xlsx_plan_with_typed_cells_and_errors_on_excel_rows(tmp_path: Path) -> None:
    header = ["Avsnitt", "Risk", "Granskningsområde", "Berört reglemente/policy/regler",
              "Metod för granskning", "S", "K", "Risktal", "Granskning klar",
              "Ansvarig för granskning"]
    path = xlsx(tmp_path, [
        header,
        ["Regionövergripande kontrollområden", "R1", "G", "P", "M", 4, 3, 12,
         datetime(2025, 8, 15), "ce"],
        [None] * 10,
        ["region", "R2", "G", "P", "M", 4.5, 3.0, None, "2025-08-15 00:00:00", "CE"],
        ["region", "R3", "G", "P", "M", 2, 2, 4, datetime(2025, 8, 15, 12, 0), 1234],
    ])
    result = read_plan(path, None, UNITS)
    assert [(e.line, e.column) for e in result.errors] == [
        (4, "probability"), (5, "deadline"), (5, "responsible")]
    assert "fick 4.5" in result.errors[0].message
    assert "klockslag" in result.errors[1].message
    assert "”1234” finns inte som enhet" in result.errors[2].message
