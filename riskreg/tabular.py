"""Framework-free, streaming reading of the tables that Swedish offices really produce.

Over 600 lines on purpose: one reader for CSV and XLSX with its encoding detection, delimiter
sniffing and ZIP checks, which only make sense together (value parsing is in
:mod:`riskreg.cellvalues`).

Every import in riskreg (the yearly plan today, populations of a million payment rows later)
goes through :func:`open_table`.  It exists as one module, free of Flask and the database,
because the hard part of an import is not the domain rules but the file: Excel's CSV flavours
(``;`` and cp1252 on a Swedish Windows, ``,`` and UTF-8 elsewhere, with or without BOM),
XLSX workbooks that are truncated, renamed or hostile, and users who need the *line number they
can see* when something is wrong.

Design rules, each for a reason:

* **Streaming, constant memory.**  Rows are yielded one by one from an ``io.TextIOWrapper`` or
  an openpyxl ``read_only`` worksheet.  Nothing holds the whole file; a population of a million
  rows is read in the same memory as a plan of seven.  (XLSX caveats, both inside openpyxl: the
  shared-strings table is loaded whole, and a sheet without a leading ``<dimension>`` element
  is parsed once at open to size it.  Excel writes ``<dimension>``.)
* **Decide by content, not by name.**  Users rename files; the extension only improves the
  error message.  ZIP magic means XLSX (after zip-bomb checks), other known binary formats are
  refused with a message that says what the file actually is.
* **Refuse rather than guess.**  A file that mixes UTF-8 and cp1252, a header where two
  separators are equally likely, an amount like ``12,345``: each raises a Swedish message that
  tells the user how to fix the file, instead of importing something subtly wrong.
* **Structural problems of a single row do not stop the read.**  A row with more fields than
  the header comes back as a :class:`TableRow` with ``problem`` set, so the caller can collect
  every error of the file in one pass.  Only problems after which no later row can be trusted
  (a broken quote, a corrupt ZIP stream) raise :class:`TableError`.

Encoding detection for CSV (documented rule):

1. A UTF-16 BOM means UTF-16 (Excel's "Unicode-text").  A UTF-8 BOM means UTF-8.
2. Otherwise the *whole* file is pre-scanned in chunks with a strict incremental UTF-8 decoder
   (constant memory, and a multi-byte character split across chunk boundaries is handled by the
   decoder's state).  Valid UTF-8 means UTF-8.
3. If it is not valid UTF-8 and no non-ASCII UTF-8 character was seen before the first invalid
   byte, the file is Windows-1252 (what Excel writes for "CSV (semikolonavgränsad)" on a Swedish
   Windows).  If valid non-ASCII UTF-8 *was* seen first, the file mixes encodings and is refused.
   Bytes that are undefined in Windows-1252 are refused with their line number.

The cell values are parsed by :mod:`riskreg.cellvalues` (amounts, dates, J/N); the amount
rule is documented on :func:`riskreg.cellvalues.parse_decimal_sek`.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Final, Literal, NamedTuple, Protocol, Self

from riskreg.cellvalues import Cell, parse_text
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _

__all__ = [
    "DEFAULT_LIMITS",
    "Cell",
    "Table",
    "TableError",
    "TableLimits",
    "TableReader",
    "TableRow",
    "cell_is_blank",
    "open_table",
]



class TableError(Exception):
    """A file-level problem, with a message meant for the end user: Swedish source, translated
    for the reader when raised inside the app (:func:`riskreg.i18n.gettext_now`).

    ``line`` is set when the problem sits at a known line/row of the file.  ``str(error)``
    includes it ("Rad 7: ..."), ``error.message`` does not.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        # message: already translated for the reader (gettext_now), as every caller passes it
        self.message = message
        self.line = line
        super().__init__(
            _("Rad %(line)s: %(text)s", line=line, text=message)
            if line is not None
            else message
        )


class TableRow(NamedTuple):
    """One data row.

    ``line`` is what the user sees: the physical line in a text editor where the row *starts*
    (header = line 1, quoted multi-line cells counted), or the Excel row number for XLSX.
    ``problem`` is a Swedish message (without the "Rad N:" prefix) when the row itself is
    malformed, e.g. has more fields than the header; ``values`` then holds what could be read.
    """

    line: int
    values: dict[str, Cell]
    problem: str | None = None


class Table(Protocol):
    """What importers need: the header (to report missing columns) and the rows."""

    @property
    def header(self) -> tuple[str, ...]: ...

    def __iter__(self) -> Iterator[TableRow]: ...


@dataclass(frozen=True, slots=True)
class TableLimits:
    """Upper bounds that keep a hostile or accidental file from exhausting the server.

    The defaults fit a million-row population (about 150 MB as CSV) with room to spare.
    ``max_xlsx_ratio`` only applies to members larger than ``xlsx_ratio_min_bytes``: real sheet
    XML compresses 5-50x, zip bombs 1000x and more.
    """

    max_file_bytes: int = 1024 * 1024 * 1024
    max_xlsx_uncompressed_bytes: int = 1024 * 1024 * 1024
    max_xlsx_ratio: int = 250
    xlsx_ratio_min_bytes: int = 1024 * 1024
    max_xlsx_entries: int = 10_000
    max_header_bytes: int = 64 * 1024


DEFAULT_LIMITS: Final = TableLimits()

_CHUNK: Final = 256 * 1024
_SPOOL_MEMORY: Final = 8 * 1024 * 1024
_CP1252_UNDEFINED: Final = b"\x81\x8d\x8f\x90\x9d"
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_MAGIC: Final = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     N_("Filen är i Excels gamla format (.xls) eller en lösenordsskyddad Excel-fil. "
        "Öppna den i Excel och spara som Excel-arbetsbok (.xlsx) eller CSV.")),
    (b"\x89PNG\r\n\x1a\n", N_("Filen är en bild (PNG), inte en tabell.")),
    (b"\xff\xd8\xff", N_("Filen är en bild (JPEG), inte en tabell.")),
    (b"GIF8", N_("Filen är en bild (GIF), inte en tabell.")),
    (b"%PDF-", N_("Filen är en PDF, inte en tabell. Exportera tabellen som .xlsx eller CSV.")),
    (b"\x1f\x8b", N_("Filen är komprimerad (gzip). Packa upp den först.")),
    (b"7z\xbc\xaf\x27\x1c", N_("Filen är ett 7-Zip-arkiv, inte en tabell.")),
    (b"Rar!", N_("Filen är ett RAR-arkiv, inte en tabell.")),
    (b"{\\rtf", N_("Filen är ett RTF-dokument, inte en tabell.")),
)
_SUPPORTED_HINT: Final = N_("Tillåtna format är Excel-arbetsbok (.xlsx) och CSV.")


def cell_is_blank(value: Cell) -> bool:
    """True for an empty or whitespace-only cell; typed XLSX values are never blank."""
    return isinstance(value, str) and not value.strip()


_is_blank = cell_is_blank


# --------------------------------------------------------------------------------------------
# Opening
# --------------------------------------------------------------------------------------------


class _BorrowedRaw(io.RawIOBase):
    """Read-only view of a caller's binary stream that never closes it.

    ``io.TextIOWrapper`` closes its buffer when it is closed *or garbage collected*; the
    caller's upload stream must survive us, so the wrapper gets this view instead.
    """

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


def open_table(
    source: str | os.PathLike[str] | IO[bytes],
    filename: str | None = None,
    *,
    limits: TableLimits = DEFAULT_LIMITS,
) -> TableReader:
    """Open a CSV or XLSX table for streaming, reading and checking its header at once.

    ``source`` is a path or a binary file object (e.g. Flask's ``FileStorage.stream``); a
    caller's stream is never closed by us, a path we open is closed by :meth:`TableReader.close`.
    ``filename`` is the user's name for the file; it only shapes error messages, because the
    format is decided by content.  Use the result as a context manager.

    Raises :class:`TableError` (its message in the reader's language, see
    :func:`riskreg.i18n.gettext_now`) for anything the user must fix.
    """
    owned: IO[bytes] | None = None
    if isinstance(source, str | os.PathLike):
        filename = filename or os.path.basename(os.fspath(source))
        try:
            owned = open(source, "rb")  # noqa: SIM115 - closed by TableReader.close
        except OSError as exc:
            raise TableError(_("Filen ”%(name)s” kunde inte öppnas.", name=filename)) from exc
        stream: IO[bytes] = owned
    else:
        stream = source
    filename = filename or "Filen"
    try:
        if not _is_seekable(stream):
            spool = _spool(stream, limits)
            if owned is not None:
                owned.close()
            owned = stream = spool
        reader = TableReader._open(stream, owned, filename, limits)
    except BaseException:
        if owned is not None:
            owned.close()
        raise
    return reader


def _is_seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable()) and callable(getattr(stream, "read", None))
    except (AttributeError, OSError, ValueError):
        return False


def _spool(stream: IO[bytes], limits: TableLimits) -> IO[bytes]:
    """Copy a non-seekable stream to a temporary file (memory first, disk when large).

    Detection needs to look at the content twice (prescan, then parse); we cannot ask a
    socket to rewind, so we keep our own copy, bounded by ``max_file_bytes``.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
    total = 0
    try:
        while chunk := stream.read(_CHUNK):
            total += len(chunk)
            if total > limits.max_file_bytes:
                raise TableError(_too_large(limits))
            spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _too_large(limits: TableLimits) -> str:
    return _(
        "Filen är större än den tillåtna gränsen på %(mb)s MB.", mb=limits.max_file_bytes // 2**20
    )


class TableReader:
    """A header plus a one-shot, streaming iterator of :class:`TableRow`.

    Attributes describe what was detected, so an import log can say how the file was read:
    ``kind`` ("csv"/"xlsx"), ``encoding`` and ``delimiter`` (CSV), ``sheet_name`` (XLSX).
    """

    kind: Literal["csv", "xlsx"]
    filename: str
    header: tuple[str, ...]
    header_line: int
    encoding: str | None
    delimiter: str | None
    sheet_name: str | None

    def __init__(self) -> None:  # use open_table()
        self._owned: IO[bytes] | None = None
        self._text: io.TextIOWrapper | None = None
        self._workbook: object | None = None
        self._rows: Iterator[TableRow] | None = None
        self._started = False
        self._plain_header = True
        self.encoding = self.delimiter = self.sheet_name = None

    @classmethod
    def _open(
        cls, stream: IO[bytes], owned: IO[bytes] | None, filename: str, limits: TableLimits
    ) -> TableReader:
        self = cls()
        self._owned = owned
        self.filename = filename
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        if size > limits.max_file_bytes:
            raise TableError(_too_large(limits))
        head = stream.read(8192)
        stream.seek(start)
        if len(head) < 8192 and not head.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
            raise TableError(_("Filen är tom."))
        try:
            if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
                self._open_xlsx(stream, start, limits)
            else:
                _refuse_binary(head, filename)
                self._open_csv(stream, start, head, limits)
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    # -- CSV -----------------------------------------------------------------------------

    def _open_csv(self, stream: IO[bytes], start: int, head: bytes, limits: TableLimits) -> None:
        if _filename_ext(self.filename) in {".xlsx", ".xlsm"}:
            raise TableError(
                _(
                    "%(name)s heter .xlsx men är ingen Excel-arbetsbok; den kan vara omdöpt "
                    "eller skadad.",
                    name=self.filename,
                )
                + " "
                + _(_SUPPORTED_HINT)
            )
        encoding = _detect_encoding(stream, start, head)
        stream.seek(start)
        prefix_bytes = stream.read(limits.max_header_bytes)
        prefix = codecs.getincrementaldecoder(encoding)("replace").decode(prefix_bytes, False)
        delimiter = _sniff_delimiter(prefix, complete=len(prefix_bytes) < limits.max_header_bytes,
                                     limits=limits)
        stream.seek(start)
        # Always read through a non-closing view: closing (or garbage-collecting) the text
        # wrapper must never close a stream that belongs to the caller.
        buffered = io.BufferedReader(_BorrowedRaw(stream), buffer_size=_CHUNK)
        self._text = io.TextIOWrapper(buffered, encoding=encoding, newline="")
        self.kind = "csv"
        self.encoding = encoding.removesuffix("-sig")
        self.delimiter = delimiter
        self._rows = self._csv_rows(self._text, delimiter)

    def _csv_rows(self, text: io.TextIOWrapper, delimiter: str) -> Iterator[TableRow]:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        previous_end = 0
        header: tuple[str, ...] | None = None
        while True:
            start_line = previous_end + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise TableError(_csv_error_message(exc), start_line) from exc
            except UnicodeDecodeError as exc:
                raise TableError(
                    _(
                        "Filen innehåller tecken som inte kan läsas som %(encoding)s.",
                        encoding=self.encoding,
                    ),
                    reader.line_num + 1,
                ) from exc
            previous_end = reader.line_num
            if header is None:
                if all(not f.strip() for f in fields):
                    continue
                header = self._set_header(fields, start_line)
                yield TableRow(start_line, {})  # sentinel: header read
                continue
            row = self._make_row(start_line, fields)
            if row is not None:
                yield row

    # -- XLSX ----------------------------------------------------------------------------

    def _open_xlsx(self, stream: IO[bytes], start: int, limits: TableLimits) -> None:
        _check_zip(stream, self.filename, limits)
        stream.seek(start)
        from openpyxl import load_workbook  # local: keeps CSV-only users free of the import

        try:
            with warnings.catch_warnings():
                # Styles/extension warnings from other producers are irrelevant to the data.
                warnings.simplefilter("ignore")
                workbook = load_workbook(stream, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for malformed input
            raise TableError(
                _(
                    "%(name)s är en skadad eller ofullständig Excel-arbetsbok och kan inte "
                    "läsas. Spara om den i Excel och försök igen.",
                    name=self.filename,
                )
            ) from exc
        self._workbook = workbook
        if not workbook.worksheets:
            raise TableError(_("Excel-arbetsboken har inga kalkylblad."))
        sheet = workbook.worksheets[0]
        if not hasattr(sheet, "iter_rows"):
            raise TableError(_("Första bladet i arbetsboken är ett diagram, inte en tabell."))
        self.kind = "xlsx"
        self.sheet_name = sheet.title
        self._rows = self._xlsx_rows(sheet)

    def _xlsx_rows(self, sheet: object) -> Iterator[TableRow]:
        header: tuple[str, ...] | None = None
        line = 0
        try:
            for line, raw_row in _sheet_rows(sheet):
                fields = [_xlsx_value(v) for v in raw_row]
                if header is None:
                    if all(_is_blank(f) for f in fields):
                        continue
                    header = self._set_header([_header_text(f) for f in fields], line)
                    yield TableRow(line, {})
                    continue
                row = self._make_row(line, fields)
                if row is not None:
                    yield row
        except TableError:
            raise
        except Exception as exc:  # corrupt deflate stream, broken XML, ...
            raise TableError(
                _(
                    "%(name)s är skadad: arbetsboken kunde inte läsas efter rad %(line)s.",
                    name=self.filename,
                    line=line,
                ),
            ) from exc

    # -- shared ----------------------------------------------------------------------------

    def _set_header(self, fields: list[str], line: int) -> tuple[str, ...]:
        names = [_clean_header(f) for f in fields]
        while names and not names[-1]:
            names.pop()
        seen: set[str] = set()
        for name in names:
            if name and name in seen:
                raise TableError(
                    _("Kolumnen ”%(name)s” förekommer mer än en gång i rubrikraden.", name=name),
                    line,
                )
            seen.add(name)
        self.header = tuple(names)
        self.header_line = line
        self._plain_header = all(names)
        return self.header

    def _make_row(self, line: int, fields: list[Cell] | list[str]) -> TableRow | None:
        """Map fields to header names; ``None`` for a blank row.

        The fast path (all-text fields, no more fields than named columns) is what a
        million-row CSV takes; the general path handles unnamed columns and extra fields.
        """
        header = self.header
        if self.kind == "csv":
            if not "".join(fields).strip():  # type: ignore[arg-type]
                return None  # blank lines (also ";;;;" lines from Excel) carry no data
            if self._plain_header and len(fields) <= len(header):
                values: dict[str, Cell] = dict(zip(header, fields, strict=False))
                if len(fields) < len(header):
                    for name in header[len(fields):]:
                        values[name] = ""
                return TableRow(line, values)
        elif all(_is_blank(f) for f in fields):
            return None
        values = {}
        problem: str | None = None
        for index, name in enumerate(header):
            value: Cell = fields[index] if index < len(fields) else ""
            if name:
                values[name] = value
            elif not _is_blank(value) and problem is None:
                problem = _(
                    "värde i kolumn %(column)s som saknar rubrik (%(value)s).",
                    column=index + 1,
                    value=_preview(value),
                )
        if any(not _is_blank(f) for f in fields[len(header):]):
            used = len(fields)
            while used and _is_blank(fields[used - 1]):
                used -= 1
            problem = _(
                "raden har %(used)s fält men rubrikraden har %(header)s. Kontrollera avgränsare "
                "och citattecken.",
                used=used,
                header=len(header),
            )
        return TableRow(line, values, problem)

    def _start(self) -> None:
        """Read up to and including the header, so ``header`` is known before iteration."""
        assert self._rows is not None
        try:
            next(self._rows)
        except StopIteration:
            raise TableError(_("Filen är tom (ingen rubrikrad).")) from None

    def __iter__(self) -> Iterator[TableRow]:
        if self._started:
            raise RuntimeError("A TableReader can only be iterated once.")
        self._started = True
        assert self._rows is not None
        return self._rows

    def close(self) -> None:
        """Release the workbook/text wrapper; close the stream only if we opened it."""
        if self._rows is not None and hasattr(self._rows, "close"):
            self._rows.close()
        if self._text is not None:
            self._text.close()  # closes only the non-closing view, see _BorrowedRaw
            self._text = None
        if self._workbook is not None:
            self._workbook.close()  # type: ignore[attr-defined]
            self._workbook = None
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sheet_rows(sheet: object) -> Iterator[tuple[int, list[object]]]:
    """Yield ``(excel_row_number, values)`` of a read-only worksheet in constant memory.

    openpyxl's own ``iter_rows`` clears each parsed ``<row>`` element but leaves it attached to
    ``<sheetData>`` (and records row heights in a dict), so memory grows by ~70 bytes per row:
    70 MB for a million-row population.  This loop drives openpyxl's ``WorkSheetParser`` (same
    cell decoding: shared strings, dates by style, cached formula values) but detaches every
    row after use.  It relies on read-only internals that have been stable across openpyxl 3.x;
    the tests that read XLSX would fail loudly if they changed.
    """
    from openpyxl.worksheet._reader import DATA_TAG, ROW_TAG, WorkSheetParser
    from openpyxl.xml.functions import iterparse

    workbook = sheet.parent  # type: ignore[attr-defined]
    with sheet._get_source() as source:  # type: ignore[attr-defined]
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,  # type: ignore[attr-defined]
            data_only=workbook.data_only,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        sheet_data = None
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if element.tag == DATA_TAG:
                    sheet_data = element
                continue
            if element.tag != ROW_TAG:
                continue
            number, cells = parser.parse_row(element)
            parser.row_dimensions.clear()
            element.clear()
            if sheet_data is not None:
                sheet_data.remove(element)
            values: list[object] = []
            for cell in cells:
                column = cell["column"]
                if column > len(values):
                    values.extend([None] * (column - len(values)))
                values[column - 1] = cell["value"]
            yield number, values


def _filename_ext(filename: str) -> str:
    return os.path.splitext(filename.lower())[1]


def _preview(value: Cell, width: int = 30) -> str:
    text = str(value).replace("\n", " ")
    return "”" + (text if len(text) <= width else text[: width - 1] + "…") + "”"


def _clean_header(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def _header_text(value: Cell) -> str:
    if isinstance(value, str):
        return value
    try:
        return parse_text(value)
    except ValueError:
        return str(value)


def _xlsx_value(value: object) -> Cell:
    if value is None:
        return ""
    if isinstance(value, str | int | float | Decimal | bool | datetime | date | time | timedelta):
        return value
    return str(value)


def _csv_error_message(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return _(
            "ett citattecken (\") som börjar här avslutas aldrig; resten av filen kan inte läsas."
        )
    if "expected after" in text:
        return _("felaktig citering: efter ett avslutande citattecken måste en avgränsare "
                "eller radbrytning följa.")
    if "field larger than field limit" in text:
        return _("ett fält är orimligt långt (troligen ett citattecken som aldrig avslutas).")
    if "NUL" in text or "line contains NUL" in text:
        return _("raden innehåller NUL-tecken; filen är troligen inte en textfil.")
    return _("raden kunde inte tolkas som CSV (%(error)s).", error=text)


UTF16_WITHOUT_BOM: Final = N_("UTF-16 utan BOM stöds inte; spara som UTF-8.")


def looks_like_bomless_utf16(sample: bytes) -> bool:
    """Text in UTF-16 without a byte-order mark: NUL bytes on one parity of the positions only.

    Latin text (Swedish letters included) has a zero high byte in every code unit; a few
    characters outside Latin-1 (–, €, ’) do not, so a clear majority is enough, provided the
    other parity has (almost) no NUL bytes, which binary formats do not manage.
    """
    even, odd = sample[0::2], sample[1::2]
    if len(even) < 2 or len(odd) < 2:
        return False
    for zeros, other in ((odd, even), (even, odd)):
        if zeros.count(0) >= len(zeros) * 0.6 and other.count(0) <= len(other) * 0.02:
            return True
    return False


def _refuse_binary(head: bytes, filename: str) -> None:
    """Give binary files a message that says what they are, instead of CSV noise."""
    for magic, message in _BINARY_MAGIC:
        if head.startswith(magic):
            raise TableError(_(message))
    if any(head.startswith(bom) for bom, enc in _BOMS if enc == "utf-16"):
        return
    sample = head[:4096]
    if sample.startswith(b"MZ") and b"\x00" in sample:
        raise TableError(_("Filen är ett program (.exe), inte en tabell."))
    stripped = sample.lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<table")):
        raise TableError(
            _(
                "Filen är en HTML-sida (så exporterar vissa system \"Excel\"). Öppna den i "
                "Excel och spara som Excel-arbetsbok (.xlsx) eller CSV."
            )
        )
    if stripped.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        raise TableError(
            _(
                "Filen är i formatet XML-kalkylblad 2003. Öppna den i Excel och spara som "
                "Excel-arbetsbok (.xlsx)."
            )
        )
    if b"\x00" in sample:
        if looks_like_bomless_utf16(sample):
            raise TableError(_(UTF16_WITHOUT_BOM))
        raise TableError(_not_text(filename))
    controls = sum(1 for b in sample if b < 32 and b not in b"\t\r\n\x0c\x1a")
    if controls > max(8, len(sample) // 50):
        raise TableError(_not_text(filename))


def _not_text(filename: str) -> str:
    return (
        _("%(name)s är ingen textfil (binärt innehåll).", name=filename)
        + " "
        + _(_SUPPORTED_HINT)
    )


def _detect_encoding(stream: IO[bytes], start: int, head: bytes) -> str:
    """Pick UTF-8(-sig), UTF-16 or cp1252 by a full, chunked, strict pre-scan (see module doc)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            if encoding == "utf-16":
                return encoding
            break
    bom_utf8 = head.startswith(codecs.BOM_UTF8)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    stream.seek(start)
    newlines = 0
    saw_non_ascii = False
    utf8_ok = True
    while True:
        chunk = stream.read(_CHUNK)
        final = not chunk
        if utf8_ok:
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                utf8_ok = False
                # Position is relative to the decoder's buffer (pending bytes + chunk).
                pending = len(exc.object) - len(chunk)
                bad_at = max(0, exc.start - pending)
                valid_prefix = chunk[:bad_at]
                line = newlines + valid_prefix.count(b"\n") + 1
                try:
                    prefix_text = valid_prefix.decode("utf-8", "ignore")
                except UnicodeDecodeError:  # pragma: no cover - "ignore" cannot fail
                    prefix_text = ""
                if bom_utf8:
                    raise TableError(
                        _("Filen är märkt som UTF-8 men innehåller tecken som inte är UTF-8."),
                        line,
                    ) from exc
                if saw_non_ascii or not prefix_text.isascii():
                    raise TableError(
                        _(
                            "Filen blandar teckenkodningar (UTF-8 och Windows-1252), så å, ä och "
                            "ö kan inte läsas säkert. Spara om filen som \"CSV UTF-8\"."
                        ),
                        line,
                    ) from exc
                _check_cp1252(exc.object, newlines)
            else:
                if not saw_non_ascii and not text.isascii():
                    saw_non_ascii = True
        else:
            _check_cp1252(chunk, newlines)
        if final:
            break
        newlines += chunk.count(b"\n")
    if utf8_ok:
        return "utf-8-sig" if bom_utf8 else "utf-8"
    return "cp1252"


def _check_cp1252(chunk: bytes, newlines_before: int) -> None:
    positions = [p for p in (chunk.find(bytes([b])) for b in _CP1252_UNDEFINED) if p >= 0]
    if positions:
        first = min(positions)
        raise TableError(
            _(
                "Filen är varken UTF-8 eller Windows-1252 (okänd teckenkodning). Spara om den "
                "som \"CSV UTF-8\"."
            ),
            newlines_before + chunk[:first].count(b"\n") + 1,
        )


def _sniff_delimiter(prefix: str, *, complete: bool, limits: TableLimits) -> str:
    """Choose ``;``, ``,`` or tab by counting them *outside quotes* in the header record.

    ``csv.Sniffer`` looks at many lines and guesses from consistency; on a Swedish header such
    as ``Risk;Berört reglemente, policy eller regler;...`` it can pick the comma.  Counting in
    the header alone is predictable, and a tie between two separators is refused.
    """
    prefix = prefix.lstrip("\ufeff")
    counts = {";": 0, ",": 0, "\t": 0}
    in_quotes = False
    ended = False
    seen_text = False
    for char in prefix:
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char in "\r\n":
            if seen_text:
                ended = True
                break
        elif not in_quotes:
            if char in counts:
                counts[char] += 1
            if not char.isspace():
                seen_text = True
    if not ended and not complete:
        raise TableError(
            _("Rubrikraden är orimligt lång (över %(kb)s kB).", kb=limits.max_header_bytes // 1024),
            1,
        )
    best = max(counts.values())
    if best == 0:
        return ","  # a single column: any delimiter reads it the same
    winners = [d for d, n in counts.items() if n == best]
    if len(winners) > 1:
        names = {";": _("semikolon"), ",": _("komma"), "\t": _("tabb")}
        raise TableError(
            _(
                "Rubrikraden har lika många %(delimiters)s; det går inte att avgöra vilket som "
                "är avgränsare.",
                delimiters=_(" och ").join(names[w] for w in winners),
            ),
            1,
        )
    return winners[0]


def _check_zip(stream: IO[bytes], filename: str, limits: TableLimits) -> None:
    """Refuse truncated archives, zip bombs and ZIPs that are not XLSX before openpyxl runs.

    ``zipfile`` never inflates a member beyond its *declared* size, so checking declared sizes
    and ratios here bounds what openpyxl can ever decompress.
    """
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, KeyError) as exc:
        raise TableError(
            _(
                "%(name)s ser ut som en Excel-arbetsbok men är skadad eller ofullständig "
                "(kanske avbruten uppladdning). Spara om den i Excel och försök igen.",
                name=filename,
            )
        ) from exc
    if len(infos) > limits.max_xlsx_entries:
        raise TableError(
            _("%(name)s innehåller orimligt många delar (%(count)s).", name=filename,
              count=len(infos))
        )
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.xlsx_ratio_min_bytes and ratio > limits.max_xlsx_ratio:
            raise TableError(
                _(
                    "%(name)s packas upp till orimligt mycket data (komprimeringsgrad "
                    "%(ratio)s:1) och avvisas som en möjlig zip-bomb.",
                    name=filename,
                    ratio=f"{ratio:.0f}",
                )
            )
    if total > limits.max_xlsx_uncompressed_bytes:
        raise TableError(
            _(
                "%(name)s packas upp till %(mb)s MB, mer än gränsen %(limit)s MB.",
                name=filename,
                mb=total // 2**20,
                limit=limits.max_xlsx_uncompressed_bytes // 2**20,
            )
        )
    if b"opendocument.spreadsheet" in mimetype:
        raise TableError(_("OpenDocument-kalkylblad (.ods) stöds inte. Spara som .xlsx eller CSV."))
    if "xl/workbook.bin" in names:
        raise TableError(_("Binära Excel-arbetsböcker (.xlsb) stöds inte. Spara som .xlsx."))
    if "word/document.xml" in names:
        raise TableError(_("Filen är ett Word-dokument, inte en tabell."))
    if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
        raise TableError(
            _("%(name)s är ett ZIP-arkiv men ingen Excel-arbetsbok.", name=filename)
            + " "
            + _(_SUPPORTED_HINT)
        )


