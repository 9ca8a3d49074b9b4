"""The worksheet: the results of many sampled items recorded at once, as in the Excel sheets.

One row per sampled item, one value per attribute. The overall judgement is derived (all OK:
OK; any avvikelse: avvikelse; otherwise ej bedömbar), so an all-OK row needs no extra click.
Saving is all-or-nothing: every changed row goes through ``item_results.record_result`` with the
version the page showed; if any row is stale or refused, nothing is kept and the caller gets
one problem per row. Deviations need a description and evidence, which only the item's own
form takes, so a new avvikelse is refused here with a pointer to that form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import has_app_context
from flask_babel import gettext
from sqlalchemy.orm import Session

from riskreg.auth.models import User
from riskreg.errors import ServiceError, StaleObject
from riskreg.sampling import item_results
from riskreg.sampling.checktypes import attributes_for
from riskreg.sampling.models import ItemResult, SampleDraw, SampleItem
from riskreg.tabular import Table, cell_is_blank

RESULT_VALUES = tuple(r.value for r in ItemResult)


@dataclass(frozen=True)
class RowInput:
    """What the worksheet sent for one item: its version as shown, and one value per
    attribute in the control's order ('' where nothing is chosen)."""

    item_id: int
    version: int | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class RowProblem:
    item_id: int
    position: int
    record_key: str
    message: str
    conflict: bool = False


class WorksheetRejected(ServiceError):
    """Nothing was saved: one problem per row that was refused or changed meanwhile."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(
            _("Inget sparades: %(n)s poster behöver åtgärdas.", n=len(problems)),
            messages=[f"{p.position} ({p.record_key}): {p.message}" for p in problems],
        )
        self.problems = problems


def _(message: str, **values: object) -> str:
    """Swedish source, English from the catalogue inside the app (as services._ does)."""
    if has_app_context():
        return gettext(message, **values)
    return message % values if values else message


@dataclass(frozen=True)
class Row:
    item: SampleItem
    values: tuple[str, ...]
    data: dict[str, object]


def derive_overall(values: tuple[str, ...]) -> str:
    """The item's overall judgement from its attributes ('' while one is still open)."""
    if not values or any(v not in RESULT_VALUES for v in values):
        return ""
    if ItemResult.DEVIATION in values:
        return ItemResult.DEVIATION
    if ItemResult.NOT_ASSESSABLE in values:
        return ItemResult.NOT_ASSESSABLE
    return ItemResult.OK


def stored_values(item: SampleItem, attributes: tuple[str, ...]) -> tuple[str, ...]:
    by_name = {r.attribute: r.result for r in item.attribute_results}
    return tuple(by_name.get(a, "") for a in attributes)


def rows(draw: SampleDraw) -> list[Row]:
    attributes = attributes_for(draw.control)
    return [
        Row(
            item=item,
            values=stored_values(item, attributes),
            data=json.loads(item.population_item.data_json or "{}"),
        )
        for item in draw.items
    ]


def columns(draw: SampleDraw) -> list[tuple[str, str, str]]:
    """The population's columns as (key, label, kind), as the item page shows them."""
    return [tuple(c) for c in json.loads(draw.population.columns_json or "[]")]


def save_rows(
    session: Session,
    draw: SampleDraw,
    inputs: list[RowInput],
    *,
    actor: User,
    now: datetime,
) -> list[SampleItem]:
    """Record every changed row, or none. Returns the items saved; raises WorksheetRejected
    with one problem per refused or stale row (the caller rolls back)."""
    attributes = attributes_for(draw.control)
    by_id = {item.id: item for item in draw.items}
    problems: list[RowProblem] = []
    saved: list[SampleItem] = []
    for row in inputs:
        item = by_id.get(row.item_id)
        if item is None:
            raise ServiceError(_("Posten hör inte till det aktuella urvalet."))
        values = tuple(row.values)
        if len(values) != len(attributes) or any(
            v not in ("", *RESULT_VALUES) for v in values
        ):
            problems.append(_problem(item, _("Okänt resultat.")))
            continue
        if values == stored_values(item, attributes) or not any(values):
            continue  # untouched (or left empty): nothing to record, nothing to conflict with
        if row.version is None or row.version != item.version:
            problems.append(
                _problem(
                    item,
                    _(
                        "Posten har ändrats av någon annan sedan sidan visades; "
                        "dess sparade resultat visas nu."
                    ),
                    conflict=True,
                )
            )
            continue
        overall = derive_overall(values)
        if not overall:
            problems.append(_problem(item, _("Ange resultat för alla attribut.")))
            continue
        existing = item_results.item_deviation(session, item)
        if overall == ItemResult.DEVIATION and existing is None:
            problems.append(
                _problem(
                    item,
                    _(
                        "En avvikelse beskrivs i postens formulär (med underlag); "
                        "öppna posten för att registrera den."
                    ),
                )
            )
            continue
        try:
            item_results.record_result(
                session,
                item,
                attribute_results=dict(zip(attributes, values, strict=True)),
                overall=overall,
                actor=actor,
                now=now,
                comment=item.comment,
                audited_amount_ore=(
                    item.audited_amount_ore if overall != ItemResult.OK else None
                ),
                recovery_claim_ore=existing.recovery_claim_ore if existing else None,
                expected_version=row.version,
            )
        except StaleObject as exc:
            problems.append(_problem(item, str(exc), conflict=True))
        except ServiceError as exc:
            problems.append(_problem(item, " ".join(exc.messages or [str(exc)])))
        else:
            saved.append(item)
    if problems:
        raise WorksheetRejected(problems)
    return saved


def _problem(item: SampleItem, message: str, *, conflict: bool = False) -> RowProblem:
    return RowProblem(
        item_id=item.id,
        position=item.position,
        record_key=item.population_item.record_key,
        message=message,
        conflict=conflict,
    )


# --- the XLSX working paper ---------------------------------------------------------------------

#: The two columns that tie a row of the paper to its item and the version it was downloaded at.
ID_HEADING = "Post-id (ändra inte)"
VERSION_HEADING = "Version (ändra inte)"
_TITLES = {
    "ok": ItemResult.OK,
    "avvikelse": ItemResult.DEVIATION,
    "deviation": ItemResult.DEVIATION,
    "ej bedömbar": ItemResult.NOT_ASSESSABLE,
    "not assessable": ItemResult.NOT_ASSESSABLE,
    "not_assessable": ItemResult.NOT_ASSESSABLE,
}
RESULT_TEXT = {
    ItemResult.OK.value: "OK",
    ItemResult.DEVIATION.value: "Avvikelse",
    ItemResult.NOT_ASSESSABLE.value: "Ej bedömbar",
}


def paper_header(draw: SampleDraw) -> list[str]:
    return [
        "#",
        *(label for _key, label, _kind in columns(draw)),
        *attributes_for(draw.control),
        ID_HEADING,
        VERSION_HEADING,
    ]


def paper_rows(draw: SampleDraw) -> list[list[object]]:
    """One row per item: the population's values, the attributes as recorded (blank to fill
    in with OK, Avvikelse or Ej bedömbar), then the item's id and version."""
    lines: list[list[object]] = []
    for row in rows(draw):
        item = row.item
        cells: list[object] = [item.position]
        for key, _label, kind in columns(draw):
            if kind == "amount":
                amount = item.population_item.amount_ore
                cells.append(None if amount is None else Decimal(amount) / 100)
            elif key in row.data:
                cells.append(row.data[key])
            else:
                cells.append(item.population_item.record_key)
        cells += [RESULT_TEXT.get(v, "") for v in row.values]
        cells += [item.id, item.version]
        lines.append(cells)
    return lines


def read_paper(draw: SampleDraw, table: Table) -> list[tuple[int, RowInput]]:
    """The filled-in paper as worksheet rows, each with its line in the file. Every unreadable
    row is reported (one message each); then nothing is read."""
    attributes = attributes_for(draw.control)
    missing = [h for h in (ID_HEADING, VERSION_HEADING, *attributes) if h not in table.header]
    if missing:
        raise ServiceError(
            _("Filen är inte arbetspapperet för det här urvalet: kolumnen ”%(c)s” saknas.",
              c=missing[0])
        )
    known = {item.id for item in draw.items}
    problems: list[str] = []
    read: list[tuple[int, RowInput]] = []
    seen: set[int] = set()
    for row in table:
        if row.problem:
            problems.append(_("Rad %(n)s: %(m)s", n=row.line, m=row.problem))
            continue
        item_id = _whole_number(row.values.get(ID_HEADING))
        if item_id is None and all(cell_is_blank(v) for v in row.values.values()):
            continue
        if item_id is None or item_id not in known or item_id in seen:
            problems.append(
                _("Rad %(n)s: posten hör inte till urvalet (eller finns två gånger).", n=row.line)
            )
            continue
        seen.add(item_id)
        values = []
        for attribute in attributes:
            # A row may hold fewer cells than the header (a table that ends a row early): a
            # missing cell is an empty one, not the text "None".
            cell = row.values.get(attribute, "")
            text = "" if cell_is_blank(cell) else str(cell).strip().lower()
            value = "" if not text else _TITLES.get(text)
            if value is None:
                problems.append(
                    _("Rad %(n)s: ”%(v)s” under ”%(a)s” är inte OK, Avvikelse eller Ej bedömbar.",
                      n=row.line, v=str(cell)[:40], a=attribute)
                )
                break
            values.append(str(value))
        else:
            version = _whole_number(row.values.get(VERSION_HEADING))
            read.append((row.line, RowInput(item_id, version if version else -1, tuple(values))))
    if problems:
        raise ServiceError(problems[0], messages=problems)
    return read


def _whole_number(cell: object) -> int | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float | Decimal) and cell == int(cell):
        return int(cell)
    if isinstance(cell, str) and cell.strip().isascii() and cell.strip().isdigit():
        return int(cell.strip()[:12])
    return None
