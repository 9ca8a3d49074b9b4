"""The control's current sample plan and draw, and small facts about a draw.

Shared by planning, drawing, recording results and evaluation, which is why they sit apart
from each of them (planning asks whether a draw exists, drawing needs the current plan).
"""

from __future__ import annotations

import json
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskreg.controls.models import Control
from riskreg.sampling.models import (
    Population,
    PopulationItem,
    SampleDraw,
    SamplePlan,
    SelectionMethod,
)

MUS_METHODS: Final = (SelectionMethod.MUS_FIXED_INTERVAL, SelectionMethod.MUS_CELL)




def current_plan(session: Session, control: Control) -> SamplePlan | None:
    return session.scalar(
        select(SamplePlan)
        .where(SamplePlan.control_id == control.id, SamplePlan.superseded.is_(False))
        .order_by(SamplePlan.id.desc())
        .limit(1)
    )


def current_draw(session: Session, control: Control) -> SampleDraw | None:
    return session.scalar(
        select(SampleDraw)
        .where(SampleDraw.control_id == control.id, SampleDraw.superseded.is_(False))
        .order_by(SampleDraw.id.desc())
        .limit(1)
    )


def draw_parameters(draw: SampleDraw) -> dict[str, Any]:
    return json.loads(draw.parameters_json or "{}")


def is_mus_draw(draw: SampleDraw) -> bool:
    return draw.selection_method in MUS_METHODS


def stratum_counts(session: Session, population: Population) -> dict[str | None, int]:
    rows = session.execute(
        select(PopulationItem.stratum, func.count(PopulationItem.id))
        .where(PopulationItem.population_id == population.id)
        .group_by(PopulationItem.stratum)
    ).all()
    return dict(rows)
