"""A control's sampling at a glance: the summary on its pages and its objects for the history."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskreg.controls.models import CheckType, Control
from riskreg.sampling.evaluation import Evaluation
from riskreg.sampling.importing import (
    current_population,
)
from riskreg.sampling.lookups import current_draw, current_plan
from riskreg.sampling.models import (
    ItemResult,
    Population,
    SampleDraw,
    SampleItem,
    SamplePlan,
)
from riskreg.sampling.observations import hygiene_count


def trail_objects(session: Session, control: Control) -> list[tuple[str, int]]:
    """The control's populations, sample plans and draws, for its audit history."""
    found: list[tuple[str, int]] = []
    for kind, model in (
        ("population", Population),
        ("sample_plan", SamplePlan),
        ("sample_draw", SampleDraw),
    ):
        ids = session.scalars(select(model.id).where(model.control_id == control.id))
        found.extend((kind, ident) for ident in ids)
    return found


@dataclass
class Summary:
    control: Control
    population: Population | None
    plan: SamplePlan | None
    draw: SampleDraw | None
    assessed: int = 0
    deviations: int = 0
    observations: int = 0
    superseded_draws: int = 0
    evaluation: Evaluation | None = None

    @property
    def item_count(self) -> int:
        return self.draw.sample_size if self.draw else 0

    @property
    def progress_percent(self) -> int:
        if not self.item_count:
            return 0
        return round(100 * self.assessed / self.item_count)


def summary(session: Session, control: Control) -> Summary:
    population = current_population(session, control)
    draw = current_draw(session, control)
    result = Summary(control, population, current_plan(session, control), draw)
    if control.check_type == CheckType.HYGIENE:
        result.observations = hygiene_count(session, control)
    if draw is not None:
        rows = session.execute(
            select(SampleItem.result, func.count(SampleItem.id))
            .where(SampleItem.draw_id == draw.id)
            .group_by(SampleItem.result)
        ).all()
        counts = dict(rows)
        result.assessed = sum(c for r, c in counts.items() if r)
        result.deviations = counts.get(ItemResult.DEVIATION.value, 0)
    result.superseded_draws = session.scalar(
        select(func.count(SampleDraw.id)).where(
            SampleDraw.control_id == control.id, SampleDraw.superseded.is_(True)
        )
    ) or 0
    return result
