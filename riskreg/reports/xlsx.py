"""The plan's follow-up results as an Excel workbook (a pure function of the report data).

Formula injection: every text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return) gets a leading ``'`` and is stored as a plain string, so a spreadsheet never
evaluates text typed into riskreg (a control title, an action) as a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from riskreg.glossary import OBJECT_TYPES
from riskreg.reports.data import FollowupReport, TrafficLight

__all__ = ["followup_xlsx", "safe_text"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LIGHT_FILL = {
    TrafficLight.GREEN: "8BC34A",
    TrafficLight.YELLOW: "FFD54F",
    TrafficLight.RED: "E57373",
}
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")


def safe_text(value: str) -> str:
    """Text a spreadsheet shows as text: control characters dropped, formulas defused."""
    cleaned = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + cleaned if cleaned.startswith(_FORMULA_START) else cleaned


def _append(sheet: Worksheet, values: Iterable[Any]) -> None:
    sheet.append([safe_text(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(cell.value, str):
            cell.data_type = "s"  # never a formula or an error value
        elif isinstance(cell.value, date):
            cell.number_format = "yyyy-mm-dd"


def _header(sheet: Worksheet, titles: Sequence[str], widths: Sequence[float]) -> None:
    sheet.append(list(titles))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"


def followup_xlsx(report: FollowupReport) -> bytes:
    """Sheets: Uppföljning (one row per control), Åtgärder, Riskkarta."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Uppföljning"
    _header(
        sheet,
        (
            "Avsnitt",
            OBJECT_TYPES["control"],
            "Ansvarig enhet",
            "Risktal",
            "Klart senast",
            "Status",
            "Trafikljus",
            "Granskade poster",
            "Avvikelser",
            "Avvikelsefrekvens i urvalet",
            "Övre gräns",
            "Bedömning",
            "Ej verifierade åtgärder",
            "Verifierade åtgärder",
            "Kommentar",
        ),
        (24, 45, 12, 9, 13, 28, 11, 10, 11, 12, 16, 26, 10, 11, 40),
    )
    for row in report.rows:
        _append(
            sheet,
            (
                row.section_title,
                row.control_title,
                row.responsible_unit,
                row.risk_value,
                row.deadline,
                row.status,
                row.traffic_light.value,
                row.items_checked,
                row.deviations,
                row.deviation_rate,
                row.upper_limit,
                row.verdict,
                row.actions_open,
                row.actions_closed,
                row.comment,
            ),
        )
        light = sheet.cell(row=sheet.max_row, column=7)
        light.fill = PatternFill("solid", fgColor=_LIGHT_FILL[row.traffic_light])
    sheet.auto_filter.ref = sheet.dimensions

    actions = workbook.create_sheet("Åtgärder")
    _header(
        actions,
        (OBJECT_TYPES["control"], "Åtgärd", "Ansvarig enhet", "Klart senast", "Status"),
        (40, 50, 12, 13, 14),
    )
    for action in report.actions:
        _append(
            actions,
            (
                action.control_title,
                action.description,
                action.owner_unit,
                action.due_date,
                action.status.value,
            ),
        )

    heat = workbook.create_sheet("Riskkarta")
    size = report.heat_map.size
    heat.append(["Sannolikhet \\ Konsekvens", *report.heat_map.consequence_labels])
    for cell in heat[1]:
        cell.font = Font(bold=True)
    for p in range(size - 1, -1, -1):
        heat.append(
            [report.heat_map.probability_labels[p], *(c.count for c in report.heat_map.cells[p])]
        )
        for c, cell in enumerate(heat[heat.max_row][1:]):
            colour = report.heat_map.cells[p][c].colour.lstrip("#").upper()
            cell.fill = PatternFill("solid", fgColor=colour)
            cell.alignment = Alignment(horizontal="center")
    heat.column_dimensions["A"].width = 24
    for index in range(2, size + 2):
        heat.column_dimensions[get_column_letter(index)].width = 14

    meta = workbook.properties
    meta.title = f"Uppföljning av internkontrollplan {report.plan.year}"
    meta.creator = "riskreg"
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
