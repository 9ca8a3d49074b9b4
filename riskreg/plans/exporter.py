"""Export plan rows as CSV (the shipped format, byte for byte) and as a readable XLSX.

Why byte-identical CSV: the adopted plan is a document of record.  Reading the shipped
``internkontrollplan-2025.csv`` and writing it back must give the very same bytes, so that a
checksum, a diff or an auditor can confirm that riskreg did not alter the plan.  The shipped
file is UTF-8 without BOM, comma-separated, minimal quoting (only cells containing a comma,
quote or line break), **CRLF line endings** (including after the last row), integers for S, K
and risktal and ISO dates; :func:`plan_rows_to_csv` writes exactly that.  Encode the returned
``str`` as UTF-8 and write it in binary mode (text mode on Windows would turn CRLF into CRCRLF).

Formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR could be
run as a formula when the CSV is opened in Excel.  Such cells are written with a leading ``'``
(OWASP's advice).  The importer removes exactly that prefix again, so riskreg's own
export → import keeps the text unchanged; only the *bytes* differ from a source file that had
such a cell unprefixed (the shipped plan has none).  In the XLSX such cells are stored as
plain strings (never formulas) with Excel's quote-prefix flag, so no ``'`` is added there.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from riskreg.exports import FORMULA_START, neutralise_cell, xlsx_safe_text
from riskreg.plans.plan_file import COLUMN_LABELS, COLUMNS, SECTION_TITLES, PlanRow

__all__ = ["neutralise_formula", "plan_excel_csv_rows", "plan_rows_to_csv", "plan_rows_to_xlsx"]

_FORMULA_START: Final = FORMULA_START  # shared with every export: riskreg/exports.py
#: Column widths (characters) chosen for the real plan's texts on an A4-landscape print.
_WIDTHS: Final[dict[str, float]] = {
    "section": 22, "risk": 45, "review_area": 40, "regulation": 24, "method": 50,
    "probability": 11, "consequence": 11, "risk_value": 10, "deadline": 13, "responsible": 16,
}


def neutralise_formula(text: str) -> str:
    """Prefix ``'`` to text that a spreadsheet would otherwise evaluate as a formula.

    The rule lives in :func:`riskreg.exports.neutralise_cell`, shared by every export.
    """
    result: str = neutralise_cell(text, delimiter=",")  # the plan CSV is comma-separated
    return result


def _csv_values(row: PlanRow) -> list[str]:
    return [
        row.section,
        neutralise_formula(row.title),
        neutralise_formula(row.review_area),
        neutralise_formula(row.regulation),
        neutralise_formula(row.method),
        str(row.probability),
        str(row.consequence),
        str(row.risk_value),
        row.deadline.isoformat() if row.deadline else "",
        neutralise_formula(row.responsible_code),
    ]


def plan_rows_to_csv(rows: Iterable[PlanRow]) -> str:
    """The plan in the shipped CSV format (see module doc); rows in the given order."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_csv_values(row))
    return buffer.getvalue()


def plan_excel_csv_rows(
    rows: Iterable[PlanRow], *, english: bool = False
) -> tuple[list[str], list[list[object]]]:
    """Heading and rows of the plan's CSV for people (exports.csv_response writes it with a
    BOM, ``;`` and CRLF, as Swedish Excel opens it): Swedish headings and section titles as
    in the XLSX, or in an English session the shipped file's column names and section keys.
    Either way riskreg's importer reads the file back. The byte-identical record format is
    :func:`plan_rows_to_csv`."""
    header = list(COLUMNS) if english else [COLUMN_LABELS[key] for key in COLUMNS]
    body: list[list[object]] = [
        [
            row.section if english else SECTION_TITLES[row.section],
            row.title,
            row.review_area,
            row.regulation,
            row.method,
            row.probability,
            row.consequence,
            row.risk_value,
            row.deadline,
            row.responsible_code,
        ]
        for row in rows
    ]
    return header, body


def plan_rows_to_xlsx(rows: Iterable[PlanRow]) -> bytes:
    """The plan as an Excel workbook for people: Swedish headings (bold, frozen, filterable),
    section titles in words, S/K/risktal as numbers, deadlines as real dates, wrapped text.

    It re-imports to the same rows (the importer accepts the Swedish headings and titles).
    """
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Internkontrollplan"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE4EE")
    top_wrap = Alignment(wrap_text=True, vertical="top")
    sheet.append([COLUMN_LABELS[key] for key in COLUMNS])
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = top_wrap
    for row in rows:
        values: list[object] = [
            SECTION_TITLES[row.section], row.title, row.review_area, row.regulation, row.method,
            row.probability, row.consequence, row.risk_value, row.deadline,
            row.responsible_code,
        ]
        sheet.append([_xlsx_safe(v) if isinstance(v, str) else v for v in values])
        for cell in sheet[sheet.max_row]:
            cell.alignment = top_wrap
            if isinstance(cell.value, str):
                # openpyxl would store "=..." as a formula and "#N/A" as an error value;
                # a plan text is always just text.
                if cell.data_type != "s":
                    cell.data_type = "s"
                if cell.value.startswith(_FORMULA_START):
                    cell.quotePrefix = True
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    for index, key in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS[key]
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.print_options.gridLines = True
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    page_setup = sheet.sheet_properties.pageSetUpPr
    assert page_setup is not None  # a new worksheet has one; the stub allows None
    page_setup.fitToPage = True
    sheet.print_title_rows = "1:1"
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _xlsx_safe(text: str) -> str:
    """XML cannot carry most control characters; openpyxl would raise.  The importer never
    lets them in, but rows may come from elsewhere (the database), so drop them here."""
    return xlsx_safe_text(text)
