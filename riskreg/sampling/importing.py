"""All-or-nothing imports of populations and hygiene observations, streamed in batches.

Over 600 lines: two streamed imports (populations and hygiene observations) that share the
batching, header mapping and all-or-nothing error collection.

Why this shape: a population can hold a million payment rows, so the file is never held in
memory. Rows are read one by one from :func:`riskreg.tabular.open_table`, validated, and
written in batches of ``BATCH_SIZE`` inside the caller's transaction (``COPY`` on PostgreSQL,
``executemany`` on SQLite: :mod:`riskreg.sampling.population_store`).
Every bad row is reported with the line the user sees ("Rad 12: …"); if there is any, the
service raises :class:`ServiceError` and the caller rolls back, so nothing is half-written.
The file's SHA-256 is computed from the bytes as the reader streams them (see
:class:`HashingReader`); the import is logged as one audit event, not row by row.

Duplicate record keys are found without a set of every key: within a batch with a dict, and
against the rows already written with one indexed query per batch on the
(population_id, record_key) unique index.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, Final, cast

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from riskreg.audit.digests import DIGEST_KEY, rows_digest_change
from riskreg.audit.trail import record
from riskreg.auth.models import User
from riskreg.cellvalues import parse_bool_jn, parse_date, parse_decimal_sek, parse_int, parse_text
from riskreg.controls.models import CheckType, Control
from riskreg.controls.services import (
    lock_control,
    require_open_for_testing,
    require_unchanged,
)
from riskreg.db import table_of
from riskreg.errors import ServiceError
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.sampling.checktypes import (
    HYGIENE,
    MAX_KEY,
    MAX_TEXT,
    CheckTypeSpec,
    Column,
    generic_spec,
    normalise_heading,
    spec_for,
    with_extra_columns,
)
from riskreg.sampling.models import (
    HygieneObservation,
    Population,
    PopulationItem,
    SampleDraw,
    SamplePlan,
)
from riskreg.sampling.population_store import ItemRow, write_items
from riskreg.tabular import Cell, TableError, TableRow, cell_is_blank, open_table

BATCH_SIZE: Final = 5000
MAX_ERRORS: Final = 200
MAX_ROWS: Final = 5_000_000
HYGIENE_KINDS: Final = {
    "observation": "observation",
    "obs": "observation",
    "o": "observation",
    "självskattning": "self_assessment",
    "sjalvskattning": "self_assessment",
    "self assessment": "self_assessment",
    "self_assessment": "self_assessment",
    "s": "self_assessment",
}


class HashingReader(io.RawIOBase):
    """A seekable view of a binary stream that hashes its bytes as they are first read.

    The reader tracks how far from the start the bytes have been hashed in order. CSV
    detection reads the file front to back, so the digest is complete after that pass at no
    extra cost; a ZIP (XLSX) is read out of order, and :meth:`hexdigest` then hashes whatever
    was not yet seen in one more sequential pass. Memory stays constant either way.
    """

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner
        self._origin = inner.tell()
        self._pos = self._origin
        self._hashed_to = self._origin
        self._sha = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _observe(self, data: bytes) -> None:
        start, end = self._pos, self._pos + len(data)
        if start <= self._hashed_to < end:
            self._sha.update(data[self._hashed_to - start:])
            self._hashed_to = end
        self._pos = end

    def read(self, size: int | None = -1) -> bytes:
        data = self._inner.read(-1 if size is None else size)
        self._observe(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._inner.seek(offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:  # the caller's stream stays open
        pass

    def hexdigest(self) -> str:
        """Finish hashing any bytes not read in order yet, and return the digest."""
        self._inner.seek(self._hashed_to)
        while chunk := self._inner.read(1024 * 1024):
            self._sha.update(chunk)
            self._hashed_to += len(chunk)
        self.size = self._hashed_to - self._origin
        return self._sha.hexdigest()


_DUPLICATE_KEY: Final = N_(
    "%(label)s ”%(key)s” förekommer redan på rad %(line)s; varje post måste ha en unik nyckel."
)


def _label(column: Column) -> str:
    """The column's name for a message, in the reader's language."""
    if column.key.startswith("step") and column.key[4:].isdigit():
        return _("Steg %(n)s", n=column.key[4:])
    return _(column.label)


class _Errors:
    """Collects row messages (translated for the reader when made), keeping at most MAX_ERRORS
    but counting all."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, line: int | None, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(
                _("Rad %(line)s: %(text)s", line=line, text=message)
                if line is not None
                else message
            )

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self) -> None:
        if not self.count:
            return
        messages = list(self.messages)
        if self.count > len(messages):
            messages.append(_("… och %(n)s fel till.", n=self.count - len(messages)))
        raise ServiceError(
            _(
                "Filen har %(count)s fel. Inget har sparats; rätta filen och importera igen.",
                count=self.count,
            ),
            messages=messages,
        )


def _open(stream: IO[bytes], filename: str) -> tuple[HashingReader, Any]:
    reader = HashingReader(stream)
    try:
        # A RawIOBase has every binary-file method open_table uses; typeshed keeps the io
        # class tree and typing.IO apart, so the checker is told.
        table = open_table(cast(IO[bytes], reader), filename)
    except TableError as exc:
        raise ServiceError(_("Filen kunde inte läsas: %(exc)s", exc=exc)) from exc
    return reader, table


def _map_header(
    spec: CheckTypeSpec, header: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    """Column key -> heading as written in the file, and the problems with the header."""
    known = spec.heading_map()
    found: dict[str, str] = {}
    problems: list[str] = []
    for heading in header:
        if not heading:
            continue
        key = known.get(normalise_heading(heading))
        if key is None:
            continue
        if key in found:
            problems.append(
                _(
                    "Kolumnerna ”%(value)s” och ”%(heading)s” betyder båda ”%(label)s”; behåll en "
                    "av dem.",
                    value=found[key],
                    heading=heading,
                    label=_label(spec.column(key)),
                )
            )
            continue
        found[key] = heading
    missing = [_label(c) for c in spec.columns if c.required and c.key not in found]
    if missing:
        expected = ", ".join(_label(c) for c in spec.columns if c.required)
        problems.append(
            _(
                "Kolumner saknas: %(value)s. Filen ska ha kolumnerna %(expected)s.",
                value=", ".join(missing),
                expected=expected,
            )
        )
    return found, problems


def _fast_text(value: str) -> str:
    """parse_text for the common cell: printable, already NFC, not an Excel error value."""
    if value.isprintable() and (value.isascii() or unicodedata.is_normalized("NFC", value)):
        text = value.strip()
        if not text.startswith("#"):  # " #REF!" is an Excel error value too
            return text
    return parse_text(value)


def _parse_cell(column: Column, value: Cell) -> object:
    """Parse one cell; raises ValueError with the reader's message (no line prefix)."""
    if column.kind == "amount":
        return parse_decimal_sek(value)
    if column.kind == "date":
        return parse_date(value)
    if column.kind == "int":
        return parse_int(value)
    text = _fast_text(value) if isinstance(value, str) else parse_text(value)
    if len(text) > MAX_TEXT:
        raise ValueError(_("är längre än %(n)s tecken.", n=MAX_TEXT))
    return text


def _parse_row(
    spec: CheckTypeSpec, mapping: dict[str, str], row: TableRow, errors: _Errors
) -> dict[str, object] | None:
    if row.problem:
        errors.add(row.line, row.problem)
        return None
    values: dict[str, object] = {}
    ok = True
    for column in spec.columns:
        heading = mapping.get(column.key)
        raw: Cell = row.values.get(heading, "") if heading else ""
        if cell_is_blank(raw):
            if column.required or column.key == spec.key_column:
                errors.add(row.line, _("%(label)s saknas.", label=_label(column)))
                ok = False
            values[column.key] = None if column.kind != "text" else ""
            continue
        try:
            values[column.key] = _parse_cell(column, raw)
        except ValueError as exc:
            errors.add(row.line, _("%(label)s: %(text)s", label=_label(column), text=exc))
            ok = False
    return values if ok else None


#: One encoder for every row: ``json.dumps`` with options builds a new one per call.
_ROW_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _jsonable(values: dict[str, object], skip: str | None) -> str:
    data = {
        key: value.isoformat() if isinstance(value, date) else value
        for key, value in values.items()
        if key != skip
    }
    return _ROW_JSON.encode(data)


@dataclass
class _Batch:
    rows: list[ItemRow]
    lines: dict[str, int]


def current_population(session: Session, control: Control) -> Population | None:
    return session.scalar(
        select(Population)
        .where(Population.control_id == control.id, Population.superseded.is_(False))
        .order_by(Population.id.desc())
        .limit(1)
    )


def has_current_draw(session: Session, control: Control) -> bool:
    return (
        session.scalar(
            select(func.count(SampleDraw.id)).where(
                SampleDraw.control_id == control.id, SampleDraw.superseded.is_(False)
            )
        )
        or 0
    ) > 0


def import_population(
    session: Session,
    control: Control,
    stream: IO[bytes],
    filename: str,
    *,
    actor: User | None,
    now: datetime,
    source: str = "",
    period_start: date | None = None,
    period_end: date | None = None,
    key_column: str = "",
    amount_column: str = "",
    batch_size: int = BATCH_SIZE,
    expected_population_id: int | None = None,
) -> Population:
    """Validate and store a population file for ``control``; all rows or none.

    Raises :class:`ServiceError` listing every bad row. The caller commits once, or rolls
    back on the error, which also removes the batches already inserted.
    ``expected_population_id``: the current population the form was shown (0: none); the
    same upload sent twice imports once.
    """
    lock_control(session, control)
    require_open_for_testing(control)
    seen = current_population(session, control)
    require_unchanged(
        expected_population_id,
        seen.id if seen else 0,
        N_(
            "Populationen har redan importerats sedan sidan visades (formuläret skickades två "
            "gånger eller någon annan hann före). Inget nytt importerades."
        ),
    )
    spec = spec_for(control)
    if not spec.has_population:
        raise ServiceError(
            _("Hygienmätningar har ingen population; registrera eller importera observationerna.")
        )
    if has_current_draw(session, control):
        raise ServiceError(
            _(
                "Ett urval är redan draget ur den nuvarande populationen. En ny population kan "
                "inte "
                "importeras efter dragningen."
            )
        )
    if period_start and period_end and period_end < period_start:
        raise ServiceError(_("Periodens slut ligger före dess början."))
    reader, table = _open(stream, filename)
    with table:
        if spec.check_type == CheckType.GENERIC:
            if not key_column.strip():
                raise ServiceError(_("Ange vilken kolumn som är postens nyckel (id)."))
            spec = generic_spec(table.header, key_column, amount_column)
            if spec.key_column is None:
                raise ServiceError(
                    _(
                        "Kolumnen ”%(value)s” finns inte i filen. Filens kolumner: %(value2)s.",
                        value=key_column.strip(),
                        value2=", ".join(h for h in table.header if h),
                    )
                )
            if amount_column.strip() and spec.amount_column is None:
                raise ServiceError(
                    _(
                        "Beloppskolumnen ”%(value)s” finns inte i filen.",
                        value=amount_column.strip(),
                    )
                )
        else:
            spec = with_extra_columns(spec, table.header)
        mapping, problems = _map_header(spec, table.header)
        if problems:
            raise ServiceError(problems[0], messages=problems)
        population = Population(
            control=control,
            source=source.strip(),
            period_start=period_start,
            period_end=period_end,
            file_name=(filename or "fil")[:255],
            file_sha256="",
            row_count=0,
            total_amount_ore=0 if spec.amount_column else None,
            columns_json=json.dumps(
                [[c.key, c.label, c.kind] for c in spec.columns], ensure_ascii=False
            ),
            imported_by=actor,
            imported_at=now,
        )
        session.add(population)
        session.flush()
        count, total, positive, strata = _insert_rows(
            session, population.id, spec, mapping, table, period_start, period_end, batch_size
        )
    digest = reader.hexdigest()
    population.file_sha256 = digest
    population.row_count = count
    if spec.amount_column:
        population.total_amount_ore = total
    previous = session.scalars(
        select(Population).where(
            Population.control_id == control.id,
            Population.superseded.is_(False),
            Population.id != population.id,
        )
    ).all()
    for old in previous:
        old.superseded = True
    _supersede_stale_plans(session, control, count, positive)
    session.flush()
    record(
        session,
        "population.import",
        "population",
        population.id,
        {
            "control_id": control.id,
            "file_name": population.file_name,
            "file_sha256": digest,
            "file_bytes": reader.size,
            "row_count": count,
            "total_amount_ore": population.total_amount_ore,
            "period_start": period_start,
            "period_end": period_end,
            "source": population.source,
            "strata": strata,
            "superseded_population_ids": [p.id for p in previous],
        },
    )
    return population


def _insert_rows(
    session: Session,
    population_id: int,
    spec: CheckTypeSpec,
    mapping: dict[str, str],
    table: Any,
    period_start: date | None,
    period_end: date | None,
    batch_size: int,
) -> tuple[int, int, int, dict[str, int]]:
    """Validate and insert the rows; returns (rows, total, total of positive amounts, strata)."""
    errors = _Errors()
    batch = _Batch([], {})
    count = total = positive = 0
    strata: dict[str, int] = {}
    key_label = _label(spec.column(spec.key_column)) if spec.key_column else _("Nyckel")
    period_column = spec.period_date_column
    try:
        rows: Iterator[TableRow] = iter(table)
        for row in rows:
            values = _parse_row(spec, mapping, row, errors)
            if values is None:
                continue
            key = str(values[spec.key_column])  # type: ignore[index]
            if len(key) > MAX_KEY:
                errors.add(
                    row.line, _("%(label)s är längre än %(n)s tecken.", label=key_label, n=MAX_KEY)
                )
                continue
            if key in batch.lines:
                errors.add(
                    row.line, _(_DUPLICATE_KEY, label=key_label, key=key, line=batch.lines[key])
                )
                continue
            if period_column and (period_start or period_end):
                when = values.get(period_column)
                if isinstance(when, date) and (
                    (period_start and when < period_start) or (period_end and when > period_end)
                ):
                    errors.add(
                        row.line,
                        _(
                            "%(label)s %(date)s ligger utanför populationens period.",
                            label=_label(spec.column(period_column)),
                            date=when.isoformat(),
                        ),
                    )
                    continue
            amount = values.get(spec.amount_column) if spec.amount_column else None
            stratum = spec.stratum(values, period_start, period_end) if spec.stratum else None
            count += 1
            if count > MAX_ROWS:
                raise ServiceError(
                    _("Filen har fler än %(n)s rader.", n=f"{MAX_ROWS:,}".replace(",", " "))
                )
            if isinstance(amount, int):
                total += amount
                positive += max(amount, 0)
            if stratum is not None:
                strata[stratum] = strata.get(stratum, 0) + 1
            batch.lines[key] = row.line
            batch.rows.append(
                (
                    population_id,
                    row.line,
                    key,
                    amount if isinstance(amount, int) else None,
                    stratum,
                    _jsonable(values, spec.key_column),
                )
            )
            if len(batch.rows) >= batch_size:
                _flush_batch(session, population_id, batch, key_label, errors)
                batch = _Batch([], {})
        _flush_batch(session, population_id, batch, key_label, errors)
    except TableError as exc:
        errors.add(exc.line, exc.message)
    errors.raise_if_any()
    if count == 0:
        raise ServiceError(_("Filen innehåller inga poster. Inget har sparats."))
    return count, total, positive, strata


def _flush_batch(
    session: Session, population_id: int, batch: _Batch, key_label: str, errors: _Errors
) -> None:
    if not batch.rows:
        return
    keys = list(batch.lines)
    clashes = session.execute(
        select(PopulationItem.record_key, PopulationItem.line).where(
            PopulationItem.population_id == population_id, PopulationItem.record_key.in_(keys)
        )
    ).all()
    if clashes:
        for key, first_line in clashes:
            errors.add(
                batch.lines[key], _(_DUPLICATE_KEY, label=key_label, key=key, line=first_line)
            )
        clash_keys = {key for key, _ in clashes}
        batch.rows = [r for r in batch.rows if r[2] not in clash_keys]
    if errors:
        return  # nothing will be kept; only keep checking for duplicates
    write_items(session, batch.rows)


def _supersede_stale_plans(
    session: Session, control: Control, count: int, positive_total: int
) -> None:
    """A plan computed from the old population's size or book value no longer fits the new
    one (the MUS book value defaults to the sum of the positive amounts)."""
    plans = session.scalars(
        select(SamplePlan).where(
            SamplePlan.control_id == control.id, SamplePlan.superseded.is_(False)
        )
    ).all()
    for plan in plans:
        stale_size = plan.population_size is not None and plan.population_size != count
        stale_book = plan.book_value_ore is not None and plan.book_value_ore != positive_total
        if stale_size or stale_book:
            plan.superseded = True


# --- hygiene observations ----------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedObservation:
    unit_name: str
    profession: str
    observed_on: date
    kind: str
    steps: tuple[str, ...]


def step_value(value: Cell) -> str:
    """J / N / EA from a cell, as PPM-BHK protocols write them."""
    parsed = parse_bool_jn(value)
    return "EA" if parsed is None else ("J" if parsed else "N")


def parse_kind(value: Cell) -> str:
    text = parse_text(value).casefold() if not cell_is_blank(value) else "observation"
    kind = HYGIENE_KINDS.get(text)
    if kind is None:
        raise ValueError(_("”%(value)s” är varken observation eller självskattning.", value=text))
    return kind


def validate_observation(
    unit_name: str, profession: str, observed_on: date | None, kind: str, steps: list[str]
) -> ParsedObservation:
    """Checks shared by the fast entry form and the import (raises ServiceError)."""
    problems = []
    if not unit_name.strip():
        problems.append(_("Ange enhet."))
    if not profession.strip():
        problems.append(_("Ange yrke."))
    if observed_on is None:
        problems.append(_("Ange datum."))
    if kind not in ("observation", "self_assessment"):
        problems.append(_("Ange observation eller självskattning."))
    if len(steps) != 8 or any(s not in ("J", "N", "EA") for s in steps):
        problems.append(_("Alla åtta steg ska vara J, N eller EA."))
    if problems:
        raise ServiceError(problems[0], messages=problems)
    assert observed_on is not None
    return ParsedObservation(
        unit_name.strip()[:200], profession.strip()[:100], observed_on, kind, tuple(steps)
    )


def import_observations(
    session: Session,
    control: Control,
    stream: IO[bytes],
    filename: str,
    *,
    actor: User | None,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Add PPM-BHK observations from a file, all or none; returns how many were added."""
    require_open_for_testing(control)
    if control.check_type != CheckType.HYGIENE:
        raise ServiceError(_("Observationer hör bara till granskningar av hygienrutiner."))
    reader, table = _open(stream, filename)
    errors = _Errors()
    count = 0
    batch: list[dict[str, Any]] = []
    with table:
        mapping, problems = _map_header(HYGIENE, table.header)
        if problems:
            raise ServiceError(problems[0], messages=problems)
        try:
            for row in table:
                parsed = _parse_observation_row(mapping, row, errors)
                if parsed is None:
                    continue
                count += 1
                batch.append(
                    {
                        "control_id": control.id,
                        "unit_name": parsed.unit_name,
                        "profession": parsed.profession,
                        "observed_on": parsed.observed_on,
                        "kind": parsed.kind,
                        "steps": ",".join(parsed.steps),
                        "created_by_id": actor.id if actor else None,
                        "created_at": now,
                    }
                )
                if len(batch) >= batch_size:
                    if not errors:
                        session.execute(insert(table_of(HygieneObservation)), batch)
                    batch = []
        except TableError as exc:
            errors.add(exc.line, exc.message)
    errors.raise_if_any()
    if batch:
        session.execute(insert(table_of(HygieneObservation)), batch)
    if count == 0:
        raise ServiceError(_("Filen innehåller inga observationer. Inget har sparats."))
    record(
        session,
        "hygiene.import",
        "control",
        control.id,
        {
            "file_name": filename,
            "file_sha256": reader.hexdigest(),
            "observations": count,
            # the control's observations as they now stand, for `riskreg audit verify`
            DIGEST_KEY: rows_digest_change(
                session, table_of(HygieneObservation), {"control_id": control.id}
            ),
        },
    )
    return count


def _parse_observation_row(
    mapping: dict[str, str], row: TableRow, errors: _Errors
) -> ParsedObservation | None:
    if row.problem:
        errors.add(row.line, row.problem)
        return None
    before = errors.count

    def cell(key: str) -> Cell:
        heading = mapping.get(key)
        return row.values.get(heading, "") if heading else ""

    texts: dict[str, str] = {}
    for key, label in (("unit", _("Enhet")), ("profession", _("Yrke"))):
        try:
            texts[key] = parse_text(cell(key))
        except ValueError as exc:
            errors.add(row.line, _("%(label)s: %(text)s", label=label, text=exc))
            continue
        if not texts[key]:
            errors.add(row.line, _("%(label)s saknas.", label=label))
    observed_on: date | None = None
    try:
        observed_on = parse_date(cell("date"))
    except ValueError as exc:
        errors.add(row.line, _("%(label)s: %(text)s", label=_("Datum"), text=exc))
    kind = "observation"
    try:
        kind = parse_kind(cell("kind"))
    except ValueError as exc:
        errors.add(row.line, _("%(label)s: %(text)s", label=_("Typ"), text=exc))
    steps: list[str] = []
    for index in range(1, 9):
        try:
            steps.append(step_value(cell(f"step{index}")))
        except ValueError as exc:
            errors.add(
                row.line, _("%(label)s: %(text)s", label=_("Steg %(n)s", n=index), text=exc)
            )
    if errors.count > before:
        return None
    return ParsedObservation(
        texts["unit"][:200], texts["profession"][:100], observed_on, kind, tuple(steps)  # type: ignore[arg-type]
    )


def population_rows(session: Session, population: Population) -> Iterator[PopulationItem]:
    """Stream a population's rows in file order (server-side cursor on PostgreSQL)."""
    result = session.execute(
        select(PopulationItem)
        .where(PopulationItem.population_id == population.id)
        .order_by(PopulationItem.line)
        .execution_options(yield_per=2000)
    ).scalars()
    yield from result


def count_items(session: Session, population: Population) -> int:
    return session.scalar(
        select(func.count(PopulationItem.id)).where(PopulationItem.population_id == population.id)
    ) or 0


def positive_total(session: Session, population: Population) -> int:
    """Sum of the positive amounts: the monetary units MUS can select."""
    total = session.scalar(
        select(func.coalesce(func.sum(PopulationItem.amount_ore), 0)).where(
            PopulationItem.population_id == population.id, PopulationItem.amount_ore > 0
        )
    )
    return int(total or 0)  # PostgreSQL sums bigint as numeric


__all__ = [
    "BATCH_SIZE",
    "HashingReader",
    "count_items",
    "current_population",
    "import_observations",
    "import_population",
    "population_rows",
    "positive_total",
    "step_value",
    "validate_observation",
]
