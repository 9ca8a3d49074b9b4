"""Parse and validate an internkontrollplan (yearly control plan) file: all-or-nothing, no DB.

Why all-or-nothing: a plan is adopted by the nämnd as a whole.  Importing the five good rows of
a seven-row plan would create a plan that nobody adopted, so :func:`parse_plan` either returns
every row or returns none plus *every* error, each with the line the user sees in Excel or an
editor, so the file can be fixed in one round instead of one error per upload.

The file may use the English column keys of the shipped CSV (``section,risk,...``) or the
Swedish headings of the real document ("Granskningsområde", "Sannolikhet (S)", ...), matched
case-insensitively and ignoring punctuation.  Framework-free: no Flask, no database; the caller
passes the unit codes it knows and decides what to do with ``new_unit_codes``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Final, Literal

from riskreg.cellvalues import parse_date, parse_int, parse_text
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.tabular import (
    DEFAULT_LIMITS,
    Cell,
    Table,
    TableError,
    TableLimits,
    TableRow,
    open_table,
)

__all__ = [
    "COLUMNS",
    "COLUMN_LABELS",
    "MAX_PLAN_ROWS",
    "SECTIONS",
    "SECTION_TITLES",
    "PlanParseResult",
    "PlanRow",
    "RowError",
    "Section",
    "parse_plan",
    "read_plan",
]

Section = Literal["region", "administration"]
SECTIONS: Final[tuple[Section, ...]] = ("region", "administration")
SECTION_TITLES: Final[dict[Section, str]] = {
    "region": N_("Regionövergripande kontrollområden"),
    "administration": N_("Förvaltningens kontrollområden"),
}

#: Column keys in the order of the shipped CSV (and of every export).
COLUMNS: Final = (
    "section", "risk", "review_area", "regulation", "method",
    "probability", "consequence", "risk_value", "deadline", "responsible",
)
#: Swedish headings, as in the adopted plan document; the XLSX export writes them as they are,
#: messages translate them for the reader.
COLUMN_LABELS: Final[dict[str, str]] = {
    "section": N_("Avsnitt"),
    "risk": N_("Risk"),
    "review_area": N_("Granskningsområde"),
    "regulation": N_("Berört reglemente/policy/regler"),
    "method": N_("Metod för granskning"),
    "probability": N_("Sannolikhet (S)"),
    "consequence": N_("Konsekvens (K)"),
    "risk_value": N_("Risktal (S×K)"),
    "deadline": N_("Granskning klar"),
    "responsible": N_("Ansvarig för granskning"),
}
_REQUIRED_COLUMNS: Final = tuple(c for c in COLUMNS if c != "risk_value")
_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "section": ("section", "avsnitt", "sektion"),
    "risk": ("risk", "risker"),
    "review_area": ("review area", "granskningsområde"),
    "regulation": (
        "regulation", "berört reglemente policy regler", "berört reglemente policy eller regler",
        "berörda reglementen policyer regler", "reglemente policy regler", "styrdokument",
    ),
    "method": ("method", "metod för granskning", "metod", "granskningsmetod"),
    "probability": ("probability", "sannolikhet", "s", "sannolikhet s"),
    "consequence": ("consequence", "konsekvens", "k", "konsekvens k"),
    "risk_value": ("risk value", "risktal", "risktal s k", "risktal s x k", "riskvärde"),
    "deadline": ("deadline", "granskning klar", "granskning klar datum", "klar"),
    "responsible": (
        "responsible", "ansvarig för granskning", "ansvarig för granskningen", "ansvarig",
        "ansvarig enhet", "ansvarig funktion", "responsible code",
    ),
}
#: Longest text accepted per column.  The adopted plan's longest cell is ~200 characters; these
#: leave room for real prose while stopping a broken file (one cell swallowing the rest of the
#: file) from becoming a "risk".
MAX_LENGTHS: Final[dict[str, int]] = {
    "risk": 1000, "review_area": 1000, "regulation": 500, "method": 2000, "responsible": 64,
}
#: A plan has tens of rows; thousands mean the wrong file (e.g. a population) was chosen.
MAX_PLAN_ROWS: Final = 2000
#: Errors shown are capped so a wrong file cannot produce a megabyte of messages.
MAX_ERRORS: Final = 500
#: The exporter prefixes formula-like text with ' (see exporter), also after a ; or , inside a
#: text (riskreg.exports.neutralise_cell); undo that on import so a plan survives
#: export → import unchanged.
_FORMULA_GUARD: Final = re.compile(r"\A'(?=[=+\-@\t\r])|(?<=[,;])'(?=\"*[=+\-@\t\r])")
_Fail = Callable[[str | None, str], None]


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One validated control of the plan.

    ``line`` is where the row sits in the source file, for messages; it takes no part in
    equality, so the same plan read from CSV and from XLSX compares equal.
    ``title`` is the risk text (column ``risk``).  ``responsible_code`` is spelled as the known
    unit's code (or as first written, for a unit to be created).
    """

    line: int = field(compare=False)
    section: Section
    title: str
    review_area: str
    regulation: str
    method: str
    probability: int
    consequence: int
    deadline: date | None
    responsible_code: str

    @property
    def risk_value(self) -> int:
        """Risktal = S × K, always derived so it can never disagree with S and K."""
        return self.probability * self.consequence


@dataclass(frozen=True, slots=True)
class RowError:
    """A message for the user (in the reader's language, made with gettext_now); ``message``
    already starts with "Rad N:" when ``line``
    is known, so the UI can list messages as they are.  ``column`` is the column key."""

    line: int | None
    message: str
    column: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class PlanParseResult:
    """``rows`` is empty whenever ``errors`` is not: nothing of a bad file may be imported.

    ``new_unit_codes`` (units to create, only with ``create_missing_units``) is in order of
    first appearance.  ``ignored_columns`` are headings we did not recognise, so the UI can
    say so instead of silently dropping a column the user cared about.
    """

    rows: list[PlanRow]
    errors: list[RowError]
    new_unit_codes: list[str]
    ignored_columns: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _normalise_heading(name: str) -> str:
    text = unicodedata.normalize("NFC", name).casefold()
    text = re.sub(r"[^\w]+|_", " ", text)
    return " ".join(text.split())


_HEADING_TO_KEY: Final[dict[str, str]] = {
    _normalise_heading(alias): key for key, aliases in _ALIASES.items() for alias in aliases
}


def _parse_section(text: str) -> Section | None:
    folded = " ".join(text.casefold().split())
    if folded in {"region", "regionen", "regionövergripande"} or folded.startswith(
        "regionövergripande"
    ):
        return "region"
    if folded in {"administration", "förvaltning", "förvaltningen"} or folded.startswith(
        "förvaltningens"
    ):
        return "administration"
    return None


def _label(key: str) -> str:
    return _(COLUMN_LABELS[key])


def _on_line(line: int | None, message: str) -> str:
    return _("Rad %(line)s: %(text)s", line=line, text=message)


def parse_plan(
    table: Table,
    known_unit_codes: Collection[str],
    create_missing_units: bool = False,
) -> PlanParseResult:
    """Validate every row of ``table`` and return all rows or all errors.

    Checks: required columns present (one message naming all missing ones); section known;
    risk and review area non-empty; S and K integers 1-4; risktal, if given, equals S×K;
    deadline a real date; responsible unit known (case-insensitive, returned in the known
    spelling) unless ``create_missing_units``; text lengths sane; structurally broken rows
    (too many fields) reported with their line.  A :class:`TableError` raised while reading
    (broken quote, corrupt workbook) becomes one more error rather than an exception.
    """
    errors: list[RowError] = []
    known = {unicodedata.normalize("NFC", c).casefold(): c for c in known_unit_codes}
    header_line = getattr(table, "header_line", 1)

    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for heading in table.header:
        if not heading:
            continue
        key = _HEADING_TO_KEY.get(_normalise_heading(heading))
        if key is None:
            ignored.append(heading)
        elif key in mapping:
            errors.append(RowError(
                header_line,
                _on_line(
                    header_line,
                    _(
                        "kolumnerna ”%(first)s” och ”%(second)s” betyder båda %(label)s; ta bort "
                        "den ena.",
                        first=mapping[key],
                        second=heading,
                        label=_label(key),
                    ),
                ),
                key,
            ))
        else:
            mapping[key] = heading
    missing = [k for k in _REQUIRED_COLUMNS if k not in mapping]
    if missing:
        errors.append(RowError(
            header_line,
            _on_line(
                header_line,
                _(
                    "kolumner saknas: %(missing)s. Filen har kolumnerna: %(present)s.",
                    missing=", ".join(_label(k) for k in missing),
                    present=", ".join(h for h in table.header if h) or _("(inga)"),
                ),
            ),
        ))
    if errors:
        return PlanParseResult([], errors, [], ignored)

    rows: list[PlanRow] = []
    new_units: dict[str, str] = {}
    count = 0
    try:
        for table_row in table:
            count += 1
            if count > MAX_PLAN_ROWS:
                errors.append(RowError(
                    table_row.line,
                    _on_line(
                        table_row.line,
                        _(
                            "planen har fler än %(n)s rader; är det rätt fil?", n=MAX_PLAN_ROWS
                        ),
                    ),
                ))
                break
            row = _parse_row(table_row, mapping, known, create_missing_units, new_units, errors)
            if row is not None:
                rows.append(row)
            if len(errors) >= MAX_ERRORS:
                errors.append(
                    RowError(None, _("Fler än %(n)s fel; resten visas inte.", n=MAX_ERRORS))
                )
                break
    except TableError as exc:
        errors.append(RowError(exc.line, str(exc)))
    if not errors and not rows:
        errors.append(RowError(
            header_line,
            _on_line(header_line, _("filen har bara en rubrikrad och inga planrader.")),
        ))
    if errors:
        return PlanParseResult([], errors, [], ignored)
    return PlanParseResult(rows, [], list(new_units.values()), ignored)


def _parse_row(
    table_row: TableRow,
    mapping: dict[str, str],
    known: dict[str, str],
    create_missing_units: bool,
    new_units: dict[str, str],
    errors: list[RowError],
) -> PlanRow | None:
    line = table_row.line
    before = len(errors)

    def fail(key: str | None, message: str) -> None:
        errors.append(RowError(line, _on_line(line, message), key))

    if table_row.problem:
        fail(None, table_row.problem)
        return None

    def raw(key: str) -> Cell:
        heading = mapping.get(key)
        return table_row.values.get(heading, "") if heading is not None else ""

    def text(key: str, *, required: bool) -> str:
        try:
            value = _FORMULA_GUARD.sub("", parse_text(raw(key)))
        except ValueError as exc:
            fail(key, _("%(label)s %(text)s", label=_label(key), text=exc))
            return ""
        if required and not value:
            fail(key, _("%(label)s saknas.", label=_label(key)))
        limit = MAX_LENGTHS.get(key)
        if limit is not None and len(value) > limit:
            fail(
                key,
                _(
                    "%(label)s är för lång (%(length)s tecken, högst %(limit)s).",
                    label=_label(key),
                    length=len(value),
                    limit=limit,
                ),
            )
        return value

    section_text = text("section", required=True)
    section = _parse_section(section_text) if section_text else None
    if section_text and section is None:
        fail(
            "section",
            _(
                "Avsnitt ”%(value)s” är okänt; ange region (%(region)s) eller administration "
                "(%(administration)s).",
                value=section_text,
                region=_(SECTION_TITLES["region"]),
                administration=_(SECTION_TITLES["administration"]),
            ),
        )
    title = text("risk", required=True)
    review_area = text("review_area", required=True)
    regulation = text("regulation", required=False)
    method = text("method", required=False)
    probability = _score(raw("probability"), "probability", fail)
    consequence = _score(raw("consequence"), "consequence", fail)

    risk_value_raw = raw("risk_value")
    if not (isinstance(risk_value_raw, str) and not risk_value_raw.strip()):
        try:
            risk_value = parse_int(risk_value_raw)
        except ValueError:
            fail(
                "risk_value",
                _("Risktal måste vara ett heltal, fick ”%(value)s”.", value=risk_value_raw),
            )
        else:
            if (probability is not None and consequence is not None
                    and risk_value != probability * consequence):
                fail(
                    "risk_value",
                    _(
                        "Risktal %(value)s stämmer inte med S × K = %(s)s × %(k)s = %(product)s.",
                        value=risk_value,
                        s=probability,
                        k=consequence,
                        product=probability * consequence,
                    ),
                )

    deadline: date | None = None
    deadline_raw = raw("deadline")
    if not (isinstance(deadline_raw, str) and not deadline_raw.strip()):
        try:
            deadline = parse_date(deadline_raw)
        except ValueError as exc:
            fail("deadline", _("%(label)s: %(text)s", label=_label("deadline"), text=exc))

    responsible = text("responsible", required=True)
    if responsible:
        folded = responsible.casefold()
        if folded in known:
            responsible = known[folded]
        elif create_missing_units:
            responsible = new_units.setdefault(folded, responsible)
        else:
            shown = ", ".join(sorted(known.values(), key=str.casefold)[:12]) or _("inga")
            fail(
                "responsible",
                _(
                    "Ansvarig för granskning ”%(value)s” finns inte som enhet (kända enheter: "
                    "%(known)s).",
                    value=responsible,
                    known=shown,
                ),
            )

    if len(errors) > before:
        return None
    assert section is not None and probability is not None and consequence is not None
    return PlanRow(
        line=line,
        section=section,
        title=title,
        review_area=review_area,
        regulation=regulation,
        method=method,
        probability=probability,
        consequence=consequence,
        deadline=deadline,
        responsible_code=responsible,
    )


def _score(value: Cell, key: str, fail: _Fail) -> int | None:
    """S or K: an integer 1-4 (the default 4×4 matrix)."""
    shown = value.strip() if isinstance(value, str) else value
    if shown == "":
        fail(key, _("%(label)s saknas; ange ett heltal 1–4.", label=_label(key)))
        return None
    try:
        score = parse_int(value)
    except ValueError:
        score = None
    if score is None or not 1 <= score <= 4:
        got = f"”{shown}”" if score is None and isinstance(shown, str) else str(shown)
        fail(
            key,
            _(
                "%(label)s måste vara ett heltal 1–4, fick %(value)s.",
                label=_label(key),
                value=got,
            ),
        )
        return None
    return score


def read_plan(
    source: str | os.PathLike[str] | IO[bytes],
    filename: str | None,
    known_unit_codes: Collection[str],
    create_missing_units: bool = False,
    *,
    limits: TableLimits = DEFAULT_LIMITS,
) -> PlanParseResult:
    """Open ``source`` (CSV or XLSX) and :func:`parse_plan` it; file-level problems (empty,
    binary, corrupt, wrong encoding) come back as errors, never as exceptions, so a web view
    has exactly one thing to render."""
    try:
        with open_table(source, filename, limits=limits) as table:
            return parse_plan(table, known_unit_codes, create_missing_units)
    except TableError as exc:
        return PlanParseResult([], [RowError(exc.line, str(exc))], [], [])
