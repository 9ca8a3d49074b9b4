"""The sampling index: the summary of each control of a page, read in a fixed number of
statements (issue 15), however many controls the page shows.

`overview.summary` answers for one control (its own page); this module answers for a page of
them with one statement per kind of row instead of one per control and kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskreg.controls.models import CheckType, Control
from riskreg.sampling.models import (
    HygieneObservation,
    ItemResult,
    Population,
    SampleDraw,
    SampleItem,
    SamplePlan,
)
from riskreg.sampling.overview import Summary


def _current(session: Session, model: Any, ids: list[int]) -> dict[int, Any]:
    """The newest row of ``model`` that is not superseded, per control (as services.current_*)."""
    found: dict[int, Any] = {}
    for row in session.scalars(
        select(model)
        .where(model.control_id.in_(ids), model.superseded.is_(False))
        .order_by(model.id.desc())
    ):
        found.setdefault(row.control_id, row)
    return found


def summaries(session: Session, controls: Sequence[Control]) -> list[Summary]:
    ids = [c.id for c in controls]
    if not ids:
        return []
    populations = _current(session, Population, ids)
    plans = _current(session, SamplePlan, ids)
    draws = _current(session, SampleDraw, ids)
    observations = dict(
        session.execute(
            select(HygieneObservation.control_id, func.count(HygieneObservation.id))
            .where(HygieneObservation.control_id.in_(ids))
            .group_by(HygieneObservation.control_id)
        ).all()
    )
    results: dict[int, dict[str | None, int]] = {}
    if draws:
        for draw_id, result, n in session.execute(
            select(SampleItem.draw_id, SampleItem.result, func.count(SampleItem.id))
            .where(SampleItem.draw_id.in_([d.id for d in draws.values()]))
            .group_by(SampleItem.draw_id, SampleItem.result)
        ):
            results.setdefault(draw_id, {})[result] = n
    superseded = dict(
        session.execute(
            select(SampleDraw.control_id, func.count(SampleDraw.id))
            .where(SampleDraw.control_id.in_(ids), SampleDraw.superseded.is_(True))
            .group_by(SampleDraw.control_id)
        ).all()
    )
    found: list[Summary] = []
    for control in controls:
        draw = draws.get(control.id)
        summary = Summary(control, populations.get(control.id), plans.get(control.id), draw)
        if control.check_type == CheckType.HYGIENE:
            summary.observations = observations.get(control.id, 0)
        if draw is not None:
            counts = results.get(draw.id, {})
            summary.assessed = sum(c for r, c in counts.items() if r)
            summary.deviations = counts.get(ItemResult.DEVIATION.value, 0)
        summary.superseded_draws = superseded.get(control.id, 0)
        found.append(summary)
    return found
