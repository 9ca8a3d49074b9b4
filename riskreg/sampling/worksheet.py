"""The worksheet: the results of many sampled items recorded at once, as in the Excel sheets.

One row per sampled item, one value per attribute. The overall judgement is derived (all OK:
OK; any avvikelse: avvikelse; otherwise ej bedömbar), so an all-OK row needs no extra click.
Saving is all-or-nothing: every changed row goes through ``services.record_result`` with the
version the page showed; if any row is stale or refused, nothing is kept and the caller gets
one problem per row. Deviations need a description and evidence, which only the item's own
form takes, so a new avvikelse is refused here with a pointer to that form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from flask import has_app_context
from flask_babel import gettext
from sqlalchemy.orm import Session

from riskreg.auth.models import User
from riskreg.errors import ServiceError, StaleObject
from riskreg.sampling import services
from riskreg.sampling.checktypes import attributes_for
from riskreg.sampling.models import ItemResult, SampleDraw, SampleItem

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
        existing = services.item_deviation(session, item)
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
            services.record_result(
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
