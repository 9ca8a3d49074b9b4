"""Planning a sample check: the sample size from the method's parameters (ISA 530).

:func:`plan_sample` computes the size with :mod:`riskreg.sampling.stats` and stores it as the
control's current ``SamplePlan``; it replaces the previous plan while nothing is drawn. Like
every sampling service it flushes and never commits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskreg.auth.models import User
from riskreg.controls.models import Control
from riskreg.controls.services import (
    lock_control,
    require_open_for_testing,
    require_unchanged,
)
from riskreg.errors import ServiceError
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.sampling import stats
from riskreg.sampling._exact import format_count, format_sek
from riskreg.sampling.checktypes import spec_for
from riskreg.sampling.importing import (
    current_population,
    positive_total,
)
from riskreg.sampling.lookups import current_draw, current_plan
from riskreg.sampling.models import (
    Population,
    PopulationItem,
    SamplePlan,
    SamplingMethod,
)

PLAN_ALREADY_CHANGED: Final = N_(
    "Urvalsplanen har redan ändrats sedan sidan visades (formuläret skickades två gånger eller "
    "någon annan hann före). Inget nytt sparades; se den gällande planen."
)


def plan_sample(
    session: Session,
    control: Control,
    *,
    method: SamplingMethod | str,
    actor: User | None,
    now: datetime,
    confidence: Decimal | None = None,
    tolerable_rate: Decimal | None = None,
    expected_rate: Decimal | None = None,
    population_size: int | None = None,
    book_value_ore: int | None = None,
    tolerable_misstatement_ore: int | None = None,
    expected_misstatement_ore: int | None = None,
    sample_size: int | None = None,
    justification: str = "",
    expected_plan_id: int | None = None,
) -> SamplePlan:
    """Compute and store a sample plan; it replaces the previous plan while nothing is drawn.

    Rates and confidence are exact fractions (``Decimal("0.05")``), amounts are öre.
    ``expected_plan_id``: the current plan the form was shown (0: none), see require_unchanged.
    """
    lock_control(session, control)
    require_open_for_testing(control)
    seen = current_plan(session, control)
    require_unchanged(expected_plan_id, seen.id if seen else 0, PLAN_ALREADY_CHANGED)
    method = SamplingMethod(method)
    spec = spec_for(control)
    if method not in spec.sampling_methods:
        raise ServiceError(_("Urvalsmetoden passar inte granskningens typ."))
    if current_draw(session, control) is not None:
        raise ServiceError(
            _(
                "Urvalet är redan draget; planen kan inte ändras. Utöka urvalet eller dra om med "
                "angivet skäl."
            )
        )
    plan = SamplePlan(control=control, method=method.value, created_by=actor, created_at=now)
    population = current_population(session, control)
    try:
        if method == SamplingMethod.ATTRIBUTE:
            if confidence is None or tolerable_rate is None:
                raise ServiceError(_("Ange konfidensnivå och tolerabel avvikelsefrekvens."))
            population_size = _planned_population_size(population, population_size)
            computed = stats.plan_attribute_sample(
                confidence, tolerable_rate, expected_rate or Decimal(0), population_size
            )
            plan.confidence = confidence
            plan.tolerable_rate = tolerable_rate
            plan.expected_rate = expected_rate or Decimal(0)
            plan.population_size = population_size
            plan.sample_size = computed.sample_size
            plan.allowed_deviations = computed.allowed_deviations
            plan.explanation = computed.explanation
        elif method == SamplingMethod.MUS:
            item_count: int | None = None
            if population is not None:
                total = positive_total(session, population)
                if book_value_ore is not None and book_value_ore != total:
                    raise ServiceError(
                        _(
                            "Populationens bokförda värde är %(total)s; angivet värde %(typed)s "
                            "stämmer inte. Planen använder alltid den importerade populationens "
                            "värde; lämna fältet tomt.",
                            total=format_sek(total),
                            typed=format_sek(book_value_ore),
                        )
                    )
                book_value_ore = total
                item_count = positive_count(session, population)
            if book_value_ore is None:
                raise ServiceError(_("Importera populationen först eller ange bokfört värde."))
            if confidence is None or not tolerable_misstatement_ore:
                raise ServiceError(_("Ange konfidensnivå och tolerabel felsumma."))
            if book_value_ore <= 0:
                raise ServiceError(_("Det bokförda värdet måste vara större än noll."))
            expected = expected_misstatement_ore or 0
            computed = stats.plan_mus_sample(
                book_value_ore, tolerable_misstatement_ore, expected, confidence, item_count
            )
            plan.confidence = confidence
            plan.book_value_ore = book_value_ore
            plan.tolerable_misstatement_ore = tolerable_misstatement_ore
            plan.expected_misstatement_ore = expected
            plan.sample_size = computed.sample_size
            plan.interval_ore = computed.interval_ore
            plan.explanation = computed.explanation
        else:
            if not sample_size or sample_size < 1:
                raise ServiceError(_("Ange urvalets storlek."))
            if not justification.strip():
                raise ServiceError(
                    _("Motivera varför urvalet inte är statistiskt och dess storlek.")
                )
            if population is not None:
                population_size = population.row_count
            plan.sample_size = sample_size
            plan.justification = justification.strip()
            plan.explanation = (
                f"Icke-statistiskt urval om {sample_size} poster. Motivering: "
                f"{justification.strip()}"
            )
    except stats.PlanTooLarge as exc:
        raise ServiceError(
            _(
                "Urvalet skulle bli större än %(limit)s poster. Förväntad avvikelse ligger för "
                "nära den tolerabla; ompröva parametrarna.",
                limit=format_count(exc.limit),
            )
        ) from exc
    except stats.PopulationTooSmall as exc:
        raise ServiceError(_population_too_small(exc, book_value_ore)) from exc
    except ValueError as exc:
        raise ServiceError(_stats_message(exc)) from exc
    if method != SamplingMethod.MUS and population_size and plan.sample_size > population_size:
        plan.sample_size = population_size
    previous = session.scalars(
        select(SamplePlan).where(
            SamplePlan.control_id == control.id, SamplePlan.superseded.is_(False)
        )
    ).all()
    for old in previous:
        old.superseded = True
    session.add(plan)
    session.flush()
    return plan


def positive_count(session: Session, population: Population) -> int:
    """Items with a positive amount: the ones monetary-unit sampling can select."""
    return session.scalar(
        select(func.count(PopulationItem.id)).where(
            PopulationItem.population_id == population.id, PopulationItem.amount_ore > 0
        )
    ) or 0


def _planned_population_size(population: Population | None, typed: int | None) -> int | None:
    """The size an attribute plan uses: the imported population's count, never a typed one.

    Without an imported population a typed size (for a population kept elsewhere) is used
    as given; with one, a typed size that contradicts it is refused.
    """
    if population is None:
        return typed
    if typed is not None and typed != population.row_count:
        raise ServiceError(
            _(
                "Den importerade populationen har %(count)s poster; angiven storlek %(typed)s "
                "stämmer inte. Planen använder alltid den importerade populationens storlek; "
                "lämna fältet tomt.",
                count=population.row_count,
                typed=typed,
            )
        )
    return population.row_count


def _population_too_small(exc: stats.PopulationTooSmall, book_value_ore: int | None) -> str:
    if exc.unit == "items":
        return _(
            "Beloppsurvalet kräver %(n)s beloppsenheter men populationen har bara %(items)s "
            "poster med positivt belopp. Granska alla poster i stället (icke-statistiskt "
            "urval av hela populationen).",
            n=exc.needed,
            items=exc.available,
        )
    return _(
        "Det bokförda värdet %(value)s räcker inte till %(n)s beloppsenheter. Granska alla "
        "poster i stället (icke-statistiskt urval av hela populationen).",
        value=format_sek(book_value_ore or exc.available),
        n=exc.needed,
    )


def _stats_message(exc: ValueError) -> str:
    text = str(exc)
    if "expected" in text and "below" in text:
        return _("Förväntad avvikelse måste vara lägre än den tolerabla.")
    if "must be in" in text or "between 0 and 1" in text:
        return _("Procentsatserna måste ligga mellan 0 och 100.")
    return _("Planen kunde inte beräknas med dessa värden; kontrollera dem.")
