"""THE evaluation of a sample check (attribute, stratified, MUS, non-statistical, hygiene).

The page, the PDFs and the XLSX all show :func:`evaluate`'s result; the statistics are the
pure functions of :mod:`riskreg.sampling.stats`. :func:`write_conclusion` stores the
controller's conclusion drawn from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from sqlalchemy.orm import Session

from riskreg.controls.models import CheckType, Control
from riskreg.controls.services import (
    set_conclusion,
)
from riskreg.errors import ServiceError
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.sampling import stats
from riskreg.sampling.hygiene import HygieneReport
from riskreg.sampling.lookups import current_draw, draw_parameters, is_mus_draw, stratum_counts
from riskreg.sampling.models import (
    ItemResult,
    SampleDraw,
    SampleItem,
    SamplePlan,
    SamplingMethod,
    SelectionMethod,
)
from riskreg.sampling.observations import hygiene_report


@dataclass
class Evaluation:
    """THE evaluation of a sample check: the page, the PDFs and the XLSX all show this.

    ``kind`` says which result is set: ``attribute`` (``attribute``, or ``stratified`` for
    a stratified draw), ``mus`` (``mus``), ``hygiene`` (``hygiene``), ``non_statistical``
    or ``none``. ``method`` names the statistical method (``binomial``, ``hypergeometric``,
    ``census``, ``stratified``, ``mus``, ``non_statistical``, ``hygiene``) and
    ``method_description`` states it in Swedish (translate it with ``gettext`` for
    display; the English is in the catalogue). Items without a result are left out
    (``complete`` is False and a note says the evaluation is preliminary); items that
    could not be assessed count as deviations.
    """

    kind: str  # attribute | mus | non_statistical | hygiene | none
    sample_size: int = 0
    assessed: int = 0
    deviations: int = 0
    not_assessable: int = 0
    complete: bool = False
    rate_percent: str = ""
    attribute: stats.AttributeEvaluation | None = None
    mus: stats.MusEvaluation | None = None
    hygiene: HygieneReport | None = None
    stratified: stats.StratifiedEvaluation | None = None
    method: str = ""
    method_description: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def within_tolerable(self) -> bool | None:
        if self.stratified is not None:
            return self.stratified.within_tolerable
        if self.attribute is not None:
            return self.attribute.within_tolerable
        if self.mus is not None:
            return self.mus.within_tolerable
        return None

    @property
    def strata(self) -> tuple[stats.StratumEvaluation, ...]:
        """The per-stratum results of a stratified evaluation (empty otherwise)."""
        return self.stratified.strata if self.stratified is not None else ()


MUS_METHOD_DESCRIPTION: Final = N_(
    "Beloppsviktat urval (MUS): övre felgräns enligt Stringer med Poissonfaktorer (AICPA); "
    "poster som är minst ett urvalsintervall granskas fullt ut och bär ingen urvalsrisk."
)
NON_STATISTICAL_METHOD_DESCRIPTION: Final = N_(
    "Icke-statistiskt urval: ingen övre avvikelsegräns beräknas."
)
HYGIENE_METHOD_DESCRIPTION: Final = N_(
    "Basala hygienrutiner och klädregler (PPM-BHK): andel korrekta observationer per steg."
)


def _percent(numerator: int, denominator: int) -> str:
    if not denominator:
        return ""
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"))
    return f"{value} %".replace(".", ",")


def evaluate(session: Session, control: Control) -> Evaluation:
    """Evaluate the current draw (or the hygiene observations) as far as results exist."""
    if control.check_type == CheckType.HYGIENE:
        report = hygiene_report(session, control)
        return Evaluation(
            "hygiene",
            sample_size=report.overall.observations,
            assessed=report.overall.observations,
            complete=True,
            hygiene=report,
            method="hygiene",
            method_description=HYGIENE_METHOD_DESCRIPTION,
        )
    draw = current_draw(session, control)
    if draw is None or draw.status != "drawn":
        return Evaluation("none")
    plan = draw.plan
    items = list(draw.items)
    assessed = [i for i in items if i.result]
    deviations = sum(1 for i in assessed if i.result == ItemResult.DEVIATION)
    not_assessable = sum(1 for i in assessed if i.result == ItemResult.NOT_ASSESSABLE)
    result = Evaluation(
        "none",
        sample_size=len(items),
        assessed=len(assessed),
        deviations=deviations,
        not_assessable=not_assessable,
        complete=len(assessed) == len(items) and bool(items),
    )
    if not result.complete:
        result.notes.append(
            f"{len(items) - len(assessed)} av {len(items)} poster är inte bedömda; "
            "utvärderingen är preliminär och gäller de bedömda posterna."
        )
    if not_assessable:
        result.notes.append(
            "Poster som inte kunnat bedömas räknas som avvikelser (ISA 530), eftersom inget "
            "ersättningsurval gjorts."
        )
    counted = deviations + not_assessable
    result.rate_percent = _percent(counted, len(assessed))
    if not assessed:
        result.kind = "mus" if is_mus_draw(draw) else (plan.method if plan else "none")
        return result
    if is_mus_draw(draw) and plan is not None and plan.method == SamplingMethod.MUS:
        result.kind = "mus"
        result.method = "mus"
        result.method_description = MUS_METHOD_DESCRIPTION
        multi = draw_parameters(draw).get("multi_points", {})
        findings = []
        for item in assessed:
            book = item.population_item.amount_ore or 0
            if book <= 0:
                continue
            audited = item.audited_amount_ore
            if item.result == ItemResult.NOT_ASSESSABLE or audited is None:
                audited = 0  # an item that cannot be audited is treated as fully misstated
            key = item.population_item.record_key
            findings.append(stats.MusFinding(key, book, audited, multi.get(key, 1)))
        result.mus = stats.evaluate_mus(
            findings,
            draw_parameters(draw)["interval_ore"],
            plan.confidence or Decimal("0.95"),
            plan.tolerable_misstatement_ore or 0,
        )
        return result
    if plan is not None and plan.method == SamplingMethod.ATTRIBUTE:
        result.kind = "attribute"
        assert plan.confidence is not None and plan.tolerable_rate is not None
        if draw.selection_method == SelectionMethod.STRATIFIED:
            result.stratified = _evaluate_strata(session, draw, assessed, plan)
            result.method = "stratified"
            result.method_description = stats.STRATIFIED_METHOD_DESCRIPTION
            return result
        population_size = draw.population.row_count if draw.population else plan.population_size
        if population_size is not None and population_size < len(assessed):
            population_size = None
        result.attribute = stats.evaluate_attribute(
            len(assessed), counted, plan.confidence, plan.tolerable_rate, population_size
        )
        result.method = result.attribute.method
        result.method_description = result.attribute.method_description
        return result
    result.kind = "non_statistical"
    result.method = "non_statistical"
    result.method_description = NON_STATISTICAL_METHOD_DESCRIPTION
    result.notes.append(
        "Icke-statistiskt urval: ingen övre avvikelsegräns beräknas; bedöm resultatet utifrån "
        "avvikelsernas art och orsak."
    )
    return result


def _evaluate_strata(
    session: Session, draw: SampleDraw, assessed: list[SampleItem], plan: SamplePlan
) -> stats.StratifiedEvaluation:
    """Per-stratum and combined evaluation of a stratified draw (population sizes per stratum)."""
    assert plan.confidence is not None and plan.tolerable_rate is not None
    sizes = dict(stratum_counts(session, draw.population))
    examined: dict[str, int] = dict.fromkeys((n for n in sizes if n), 0)
    found: dict[str, int] = dict.fromkeys(examined, 0)
    for item in assessed:
        name = item.stratum or ""
        examined[name] = examined.get(name, 0) + 1
        if item.result in (ItemResult.DEVIATION, ItemResult.NOT_ASSESSABLE):
            found[name] = found.get(name, 0) + 1
    return stats.evaluate_stratified(
        (
            stats.StratumInput(name, sizes.get(name, 0), examined[name], found.get(name, 0))
            for name in examined
        ),
        plan.confidence,
        plan.tolerable_rate,
    )


def write_conclusion(
    session: Session, control: Control, conclusion: str, *, expected_version: int | None = None
) -> Control:
    if not conclusion.strip():
        raise ServiceError(_("Skriv en slutsats."))
    return set_conclusion(session, control, conclusion, expected_version=expected_version)
