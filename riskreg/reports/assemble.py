"""From riskreg's database objects to the report data the PDF builders render.

Pure functions of already loaded ORM objects: no Flask, no session, no queries of their own
(relationships that are not loaded yet are read lazily through the objects' session, which is
the caller's). :mod:`riskreg.reports.services` loads the objects; the benchmark and the tests
can hand in objects built in memory.

The evaluation is computed here, from the stored item results, with the statistics of
:mod:`riskreg.sampling.stats` and :mod:`riskreg.sampling.hygiene`, so the report states what
the data support and never a number typed in by hand:

* attribute sampling: deviation rate, the upper deviation limit at the plan's confidence
  (exact binomial, or hypergeometric when the plan was sized for a finite population),
  rounded up, and whether it stays within the tolerable rate. Items that could not be
  assessed count as deviations (ISA 530 p. 9);
* monetary-unit sampling: the Stringer upper misstatement limit against the tolerable
  misstatement; an item judged a deviation without an audited amount is taken as wholly
  misstated (100 % tainting), the conservative reading;
* non-statistical samples: counts and rate only (nothing can be projected);
* basic hygiene (PPM-BHK): share correct in all hygiene, all dress and all eight steps
  against the region's target (90 %), units with fewer than 30 observations not reported.

Traffic lights of the follow-up report (uppföljning), decided in :func:`traffic_light`:

* **red** – the control is not approved and its deadline has passed; or its evaluation goes
  beyond the tolerable level (upper limit above the tolerable rate / misstatement, or the
  hygiene target not met); or an action is still open after its due date;
* **green** – approved, no deviation found, no open action;
* **yellow** – everything in between: approved with deviations within the tolerable level,
  approved with open actions that are not overdue, or still in progress before the deadline.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from riskreg.controls.models import (
    CHECK_TYPE_TITLES,
    CONTROL_STATUS_TITLES,
    CheckType,
    ControlStatus,
)
from riskreg.controls.models import Action as ActionRow
from riskreg.controls.models import ActionStatus as ActionRowStatus
from riskreg.controls.models import Control as ControlRow
from riskreg.money import format_sek
from riskreg.plans.models import SECTION_TITLES, Plan, Section
from riskreg.plans.models import Risk as RiskRow
from riskreg.reports import data
from riskreg.risks.matrix import Matrix
from riskreg.sampling import hygiene
from riskreg.sampling.models import ITEM_RESULT_TITLES, SamplingMethod, SelectionMethod
from riskreg.sampling.models import HygieneObservation as ObservationRow
from riskreg.sampling.models import ItemResult as ItemResultRow
from riskreg.sampling.models import Population as PopulationRow
from riskreg.sampling.models import SampleDraw as DrawRow
from riskreg.sampling.models import SampleItem as ItemRow
from riskreg.sampling.models import SamplePlan as PlanRow

__all__ = [
    "CONTROLLER_FIELD",
    "COSIGNER_FIELD",
    "Evaluation",
    "ReviewInputs",
    "Signer",
    "evaluate",
    "followup_report",
    "followup_rows",
    "heat_map",
    "review_report",
    "traffic_light",
]

#: PDF signature field names (ASCII on purpose, see ExpectedSignature).
CONTROLLER_FIELD = "Granskare"
COSIGNER_FIELD = "Godkannare"

METHOD_TITLES = {
    SamplingMethod.ATTRIBUTE: "Attributurval (statistiskt)",
    SamplingMethod.MUS: "Monetary-unit sampling (MUS)",
    SamplingMethod.NON_STATISTICAL: "Icke-statistiskt urval",
}
SELECTION_TITLES = {
    SelectionMethod.SIMPLE_RANDOM: "Obundet slumpmässigt urval",
    SelectionMethod.SYSTEMATIC: "Systematiskt urval med slumpmässig start",
    SelectionMethod.STRATIFIED: "Stratifierat slumpmässigt urval",
    SelectionMethod.MUS_FIXED_INTERVAL: "Beloppsviktat urval med fast intervall",
    SelectionMethod.MUS_CELL: "Beloppsviktat urval med cellurval",
}
HYGIENE_STEP_TITLES = (
    "Handdesinfektion före",
    "Handdesinfektion efter",
    "Handskar",
    "Plastförkläde/skyddsrock",
    "Kortärmad arbetsdräkt",
    "Inga ringar, klockor eller armband",
    "Korta naglar utan lack",
    "Kort eller uppsatt hår",
)
_ACTION_STATUS = {
    ActionRowStatus.OPEN: data.ActionStatus.NOT_STARTED,
    ActionRowStatus.ANSWERED: data.ActionStatus.IN_PROGRESS,
    ActionRowStatus.VERIFIED: data.ActionStatus.DONE,
}
_ITEM_RESULT = {
    ItemResultRow.OK: data.ItemResult.OK,
    ItemResultRow.DEVIATION: data.ItemResult.DEVIATION,
    ItemResultRow.NOT_ASSESSABLE: data.ItemResult.NOT_ASSESSABLE,
}
_MAX_DESCRIPTION = 240


@dataclass(frozen=True)
class Signer:
    """Who is expected to sign, as printed above the signature box."""

    name: str
    title: str


@dataclass(frozen=True)
class ReviewInputs:
    """The loaded objects a review report is made of (the current ones, not superseded)."""

    control: ControlRow
    population: PopulationRow | None = None
    sample_plan: PlanRow | None = None
    draw: DrawRow | None = None
    observations: Sequence[ObservationRow] = ()

    @property
    def items(self) -> list[ItemRow]:
        return sorted(self.draw.items, key=lambda i: i.position) if self.draw else []

    @property
    def is_hygiene(self) -> bool:
        return self.control.check_type == CheckType.HYGIENE


@dataclass(frozen=True)
class Evaluation:
    """What the stored results say, as lines and figures, and for the traffic light."""

    lines: tuple[str, ...]
    figures: tuple[data.Figure, ...]
    items_checked: int
    deviations: int
    beyond_tolerable: bool | None = None
    notes: tuple[str, ...] = field(default=())


# ============================================================== formatting


def _percent(value: Decimal | Fraction | float, places: int = 2) -> str:
    """Swedish percentage of a fraction of 1: 0.95 -> "95 %", 0.0325 -> "3,25 %"."""
    number = Decimal(str(value)) if isinstance(value, float) else value
    if isinstance(number, Fraction):
        number = Decimal(number.numerator) / Decimal(number.denominator)
    shown = (number * 100).quantize(Decimal(1).scaleb(-places)).normalize()
    text = format(shown, "f")
    return text.replace(".", ",") + " %"


def _percent_number(percent: Decimal) -> str:
    """An already computed percentage (e.g. a rounded-up limit): Decimal("6.2") -> "6,2 %"."""
    return format(percent, "f").replace(".", ",") + " %"


def _sek(ore: int | Fraction | float) -> str:
    """Öre as kronor, rounded up to whole öre: 123456 -> "1 234,56 kr" (riskreg.money)."""
    return format_sek(ore)


def _count(value: int) -> str:
    return f"{value:,}".replace(",", "\u00a0")


def _name(user: object | None) -> str:
    if user is None:
        return "–"
    return str(getattr(user, "full_name", "") or getattr(user, "username", "") or "–")


def _local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    return moment.astimezone(tz) if moment is not None else None


# ============================================================== review report


def review_report(
    inputs: ReviewInputs,
    *,
    reference: str,
    organisation: str,
    controller: Signer,
    approver: Signer,
    generated_at: datetime,
    tz: tzinfo,
) -> data.ReviewReport:
    """Everything the review report shows, from the control and its current sample."""
    control = inputs.control
    risk = control.risk
    evaluation = evaluate(inputs)
    return data.ReviewReport(
        reference=reference,
        organisation=data.Organisation(organisation),
        plan_year=risk.plan.year,
        section_title=_section_title(risk),
        risk=_risk(risk),
        control=data.Control(
            title=control.title,
            check_type=CHECK_TYPE_TITLES.get(CheckType(control.check_type), control.check_type),
            responsible_unit=f"{control.responsible_unit.name} ({control.responsible_unit.code})",
            deadline=control.deadline,
            deviation_definition=control.deviation_definition or "",
            status_history=_history(inputs, tz),
        ),
        population=_population(inputs, generated_at, tz),
        sampling_plan=_sampling_plan(inputs),
        items=_items(inputs),
        deviations=_deviations(inputs),
        evaluation_lines=(*evaluation.lines, *evaluation.notes),
        evaluation_figures=evaluation.figures,
        conclusion=control.conclusion or "",
        signatures=(
            data.ExpectedSignature(
                data.SignerRole.CONTROLLER, controller.name, controller.title, CONTROLLER_FIELD
            ),
            data.ExpectedSignature(
                data.SignerRole.APPROVER, approver.name, approver.title, COSIGNER_FIELD
            ),
        ),
        generated_at=generated_at.astimezone(tz),
    )


def _section_title(risk: RiskRow) -> str:
    try:
        return SECTION_TITLES[Section(risk.section)]
    except ValueError:
        return risk.section


def _risk(risk: RiskRow) -> data.Risk:
    return data.Risk(
        title=risk.title,
        probability=risk.probability,
        consequence=risk.consequence,
        risk_value=risk.probability * risk.consequence,
        review_area=risk.review_area,
        governing_rules=risk.regulation,
        method=risk.method,
    )


def _status_action(from_status: str | None, to_status: str) -> str:
    to = ControlStatus(to_status)
    if from_status is None:
        return CONTROL_STATUS_TITLES[to]
    source = ControlStatus(from_status)
    if source == ControlStatus.APPROVED:
        return "Öppnad igen"
    if source == ControlStatus.READY_FOR_REVIEW and to == ControlStatus.IN_PROGRESS:
        return "Skickad tillbaka till granskaren"
    if to == ControlStatus.READY_FOR_REVIEW:
        return "Lämnad för godkännande"
    return CONTROL_STATUS_TITLES[to]


def _history(inputs: ReviewInputs, tz: tzinfo) -> tuple[data.StatusEvent, ...]:
    """Who did what, when: status changes, the population import and the draw, in time order."""
    events: list[data.StatusEvent] = [
        data.StatusEvent(
            at=event.at.astimezone(tz),
            actor=_name(event.actor),
            action=_status_action(event.from_status, event.to_status),
            note=event.note or "",
        )
        for event in inputs.control.events
    ]
    if inputs.population is not None:
        events.append(
            data.StatusEvent(
                at=inputs.population.imported_at.astimezone(tz),
                actor=_name(inputs.population.imported_by),
                action="Population importerad",
                note=inputs.population.file_name,
            )
        )
    if inputs.draw is not None:
        events.append(
            data.StatusEvent(
                at=inputs.draw.drawn_at.astimezone(tz),
                actor=_name(inputs.draw.drawn_by),
                action="Urval draget",
                note=f"Slumpfrö {inputs.draw.seed}; {inputs.draw.sample_size} poster",
            )
        )
    return tuple(sorted(events, key=lambda e: e.at))


def _population(inputs: ReviewInputs, generated_at: datetime, tz: tzinfo) -> data.Population:
    population = inputs.population
    if population is not None:
        return data.Population(
            source=population.source or "–",
            period_start=population.period_start,
            period_end=population.period_end,
            size=population.row_count,
            total_amount_ore=population.total_amount_ore,
            file_name=population.file_name,
            sha256=population.file_sha256,
            imported_by=_name(population.imported_by),
            imported_at=_local(population.imported_at, tz),
        )
    if inputs.is_hygiene and inputs.observations:
        days = [o.observed_on for o in inputs.observations]
        latest = max(inputs.observations, key=lambda o: o.created_at)
        return data.Population(
            source="Observationer enligt PPM-BHK (registrerade i riskreg)",
            period_start=min(days),
            period_end=max(days),
            size=len(inputs.observations),
            total_amount_ore=None,
            file_name="–",
            sha256="–",
            imported_by="registrerade observationer",
            imported_at=_local(latest.created_at, tz),
        )
    return data.Population(
        source="Ingen population är importerad",
        period_start=None,
        period_end=None,
        size=0,
        total_amount_ore=None,
        file_name="–",
        sha256="–",
        imported_by="–",
        imported_at=None,
    )


def _parameters(plan: PlanRow | None) -> tuple[data.Figure, ...]:
    if plan is None:
        return ()
    figures: list[data.Figure] = []
    if plan.confidence is not None:
        figures.append(data.Figure("Konfidensnivå", _percent(plan.confidence)))
    if plan.tolerable_rate is not None:
        figures.append(data.Figure("Tolerabel avvikelsefrekvens", _percent(plan.tolerable_rate)))
    if plan.expected_rate is not None:
        figures.append(data.Figure("Förväntad avvikelsefrekvens", _percent(plan.expected_rate)))
    if plan.population_size is not None:
        figures.append(data.Figure("Populationens storlek", _count(plan.population_size)))
    if plan.book_value_ore is not None:
        figures.append(data.Figure("Bokfört värde", _sek(plan.book_value_ore)))
    if plan.tolerable_misstatement_ore is not None:
        figures.append(data.Figure("Tolerabel felsumma", _sek(plan.tolerable_misstatement_ore)))
    if plan.expected_misstatement_ore is not None:
        figures.append(data.Figure("Förväntad felsumma", _sek(plan.expected_misstatement_ore)))
    if plan.interval_ore is not None:
        figures.append(data.Figure("Urvalsintervall", _sek(plan.interval_ore)))
    return tuple(figures)


def _attribute_names(inputs: ReviewInputs) -> tuple[str, ...]:
    """The attributes checked per item: the control's own list, else those recorded."""
    if inputs.is_hygiene:
        return HYGIENE_STEP_TITLES
    names = [
        line.strip() for line in (inputs.control.attributes_text or "").splitlines() if line.strip()
    ]
    for item in inputs.items:
        for result in item.attribute_results:
            if result.attribute not in names:
                names.append(result.attribute)
    return tuple(names)


def _enum_title(titles: Mapping[StrEnum, str], value: str) -> str:
    for key, title in titles.items():
        if key.value == value:
            return str(title)
    return value


def _sampling_plan(inputs: ReviewInputs) -> data.SamplingPlan:
    plan, draw = inputs.sample_plan, inputs.draw
    if inputs.is_hygiene and draw is None:
        return data.SamplingPlan(
            method="Punktprevalensmätning av basala hygienrutiner och klädregler (PPM-BHK)",
            parameters=(
                data.Figure("Mål (andel korrekt i alla steg)", _percent(hygiene.DEFAULT_TARGET)),
                data.Figure(
                    "Minsta antal observationer per redovisad grupp",
                    str(hygiene.DEFAULT_MIN_OBSERVATIONS),
                ),
            ),
            sample_size=len(inputs.observations),
            allowed_deviations=0,
            reasoning=(plan.explanation if plan else "")
            or "Personal i patientnära arbete observeras i åtta steg (J/N/EA) enligt PPM-BHK.",
            seed="–",
            selection_method="Observation av personal i patientnära arbete",
            attributes=HYGIENE_STEP_TITLES,
        )
    parts = (plan.explanation, plan.justification) if plan else ()
    reasoning = " ".join(part.strip() for part in parts if part and part.strip())
    return data.SamplingPlan(
        method=_enum_title(METHOD_TITLES, plan.method) if plan else "Ingen urvalsplan",
        parameters=_parameters(plan),
        sample_size=draw.sample_size if draw else (plan.sample_size if plan else 0),
        allowed_deviations=(plan.allowed_deviations or 0) if plan else 0,
        reasoning=reasoning,
        seed=draw.seed if draw else "–",
        selection_method=_enum_title(SELECTION_TITLES, draw.selection_method) if draw else "–",
        attributes=_attribute_names(inputs),
    )


def _attribute_value(value: str) -> str:
    for key, title in ITEM_RESULT_TITLES.items():
        if key.value == value:
            return title
    return value


def _description(item: ItemRow) -> str:
    """A readable line from the population row: its columns except the key, shortened."""
    population_item = item.population_item
    try:
        values = json.loads(population_item.data_json or "{}")
    except ValueError:
        values = {}
    parts = [
        f"{key}: {value}"
        for key, value in (values.items() if isinstance(values, dict) else ())
        if str(value).strip() and str(value) != population_item.record_key
    ]
    text = ", ".join(parts)
    if item.stratum:
        text = f"[{item.stratum}] {text}" if text else f"[{item.stratum}]"
    if len(text) > _MAX_DESCRIPTION:
        text = text[: _MAX_DESCRIPTION - 1].rstrip() + "…"
    return text


def _item_result(item: ItemRow) -> tuple[data.ItemResult, str]:
    if item.result is None:
        note = "Ej bedömd; räknas som avvikelse i utvärderingen."
        return data.ItemResult.NOT_ASSESSABLE, f"{note} {item.comment or ''}".strip()
    result = _ITEM_RESULT.get(ItemResultRow(item.result), data.ItemResult.NOT_ASSESSABLE)
    return result, item.comment or ""


def _items(inputs: ReviewInputs) -> tuple[data.SampledItem, ...]:
    if inputs.is_hygiene and inputs.draw is None:
        return tuple(_observation_item(o) for o in _sorted_observations(inputs.observations))
    items = []
    for item in inputs.items:
        result, comment = _item_result(item)
        items.append(
            data.SampledItem(
                key=item.population_item.record_key,
                description=_description(item),
                attribute_results=tuple(
                    data.AttributeResult(r.attribute, _attribute_value(r.result))
                    for r in item.attribute_results
                ),
                result=result,
                comment=comment,
            )
        )
    return tuple(items)


def _sorted_observations(observations: Iterable[ObservationRow]) -> list[ObservationRow]:
    return sorted(observations, key=lambda o: (o.observed_on, o.id or 0))


def _steps(observation: ObservationRow) -> tuple[str, ...]:
    return tuple(step.strip().upper() for step in observation.steps.split(","))


def _observation_item(observation: ObservationRow) -> data.SampledItem:
    steps = _steps(observation)
    correct = all(step != "N" for step in steps)
    kind = "självskattning" if observation.kind == "self_assessment" else "observation"
    return data.SampledItem(
        key=f"OBS-{observation.id}",
        description=(
            f"{observation.unit_name}, {observation.profession}, "
            f"{observation.observed_on.isoformat()} ({kind})"
        ),
        attribute_results=tuple(
            data.AttributeResult(title, value)
            for title, value in zip(HYGIENE_STEP_TITLES, steps, strict=False)
        ),
        result=data.ItemResult.OK if correct else data.ItemResult.DEVIATION,
    )


def _action(action: ActionRow) -> data.Action:
    return data.Action(
        description=action.description,
        owner_unit=f"{action.owner_unit.name} ({action.owner_unit.code})",
        due_date=action.due_date,
        status=_ACTION_STATUS.get(ActionRowStatus(action.status), data.ActionStatus.NOT_STARTED),
    )


def _deviations(inputs: ReviewInputs) -> tuple[data.Deviation, ...]:
    """Every deviation with its actions; actions raised without a deviation come last."""
    control = inputs.control
    keys = {item.id: item.population_item.record_key for item in inputs.items}
    result = []
    for deviation in control.deviations:
        description = deviation.description
        if deviation.recovery_claim_ore:
            description += f" Återkrav: {_sek(deviation.recovery_claim_ore)}."
        key = keys.get(deviation.sample_item_id, "") if deviation.sample_item_id else ""
        result.append(
            data.Deviation(
                description=description,
                item_key=key,
                actions=tuple(_action(a) for a in deviation.actions),
            )
        )
    loose = [a for a in control.actions if a.deviation_id is None]
    if loose:
        result.append(
            data.Deviation(
                description="Åtgärder som inte gäller en enskild avvikelse",
                actions=tuple(_action(a) for a in loose),
            )
        )
    return tuple(result)


# ============================================================== evaluation


def evaluate(inputs: ReviewInputs) -> Evaluation:
    """The evaluation of the stored results (see the module docstring for the rules)."""
    if inputs.is_hygiene and inputs.draw is None:
        return _evaluate_hygiene(inputs.observations)
    items = inputs.items
    routine = sum(1 for d in inputs.control.deviations if d.sample_item_id is None)
    if not items:
        return Evaluation(
            lines=("Inga granskade poster finns registrerade.",),
            figures=(),
            items_checked=0,
            deviations=routine,
        )
    plan = inputs.sample_plan
    method = plan.method if plan else SamplingMethod.NON_STATISTICAL.value
    if method == SamplingMethod.MUS:
        evaluation = _evaluate_mus(items, plan, inputs.draw)
    else:
        evaluation = _evaluate_attribute(items, plan, method == SamplingMethod.ATTRIBUTE)
    if routine:
        note = (
            f"Därutöver {routine} "
            f"{'avvikelse' if routine == 1 else 'avvikelser'} i rutinen, utanför urvalet."
        )
        evaluation = Evaluation(
            evaluation.lines,
            evaluation.figures,
            evaluation.items_checked,
            evaluation.deviations + routine,
            evaluation.beyond_tolerable,
            (*evaluation.notes, note),
        )
    return evaluation


def _counts(items: Sequence[ItemRow]) -> Counter[str | None]:
    return Counter(item.result for item in items)


def _evaluate_attribute(
    items: Sequence[ItemRow], plan: PlanRow | None, statistical: bool
) -> Evaluation:
    counts = _counts(items)
    n = len(items)
    unassessable = counts[ItemResultRow.NOT_ASSESSABLE.value] + counts[None]
    k = counts[ItemResultRow.DEVIATION.value] + unassessable
    figures = [
        data.Figure("Granskade poster", _count(n)),
        data.Figure("Avvikelser (inklusive ej bedömbara)", _count(k)),
        data.Figure("Avvikelsefrekvens i urvalet", _percent(Fraction(k, n))),
    ]
    notes: list[str] = []
    if unassessable:
        notes.append(
            f"{unassessable} {'post' if unassessable == 1 else 'poster'} kunde inte bedömas och "
            "räknas som avvikelser (ISA 530 p. 9)."
        )
    if statistical and plan and plan.confidence is not None and plan.tolerable_rate:
        from riskreg.sampling import stats  # SciPy: loaded when a report is made, not at start

        size = plan.population_size
        population = size if size is not None and size >= n else None
        result = stats.evaluate_attribute(
            n, k, plan.confidence, plan.tolerable_rate, population_size=population
        )
        figures += [
            data.Figure(
                f"Övre avvikelsegräns ({_percent(plan.confidence)} konfidens)",
                _percent_number(result.upper_limit_percent),
            ),
            data.Figure("Tolerabel avvikelsefrekvens", _percent(plan.tolerable_rate)),
            data.Figure(
                "Bedömning",
                "Inom tolerabel nivå" if result.within_tolerable else "Över tolerabel nivå",
            ),
        ]
        return Evaluation(
            (result.explanation,), tuple(figures), n, k, not result.within_tolerable, tuple(notes)
        )
    line = (
        "Urvalet är inte statistiskt: avvikelsefrekvensen gäller urvalet och kan inte "
        "projiceras på populationen."
    )
    beyond = None
    if plan and plan.tolerable_rate:
        beyond = Fraction(k, n) > Fraction(plan.tolerable_rate)
        figures.append(data.Figure("Tolerabel avvikelsefrekvens", _percent(plan.tolerable_rate)))
    return Evaluation((line,), tuple(figures), n, k, beyond, tuple(notes))


def _interval(plan: PlanRow | None, draw: DrawRow | None) -> int | None:
    if plan and plan.interval_ore:
        return plan.interval_ore
    if draw is not None:
        try:
            parameters = json.loads(draw.parameters_json or "{}")
        except ValueError:
            return None
        for key in ("interval_ore", "interval"):
            value = parameters.get(key) if isinstance(parameters, dict) else None
            if isinstance(value, int) and value > 0:
                return value
    return None


def _evaluate_mus(
    items: Sequence[ItemRow], plan: PlanRow | None, draw: DrawRow | None
) -> Evaluation:
    counts = _counts(items)
    k = sum(n for result, n in counts.items() if result != ItemResultRow.OK.value)
    interval = _interval(plan, draw)
    base = [
        data.Figure("Granskade poster", _count(len(items))),
        data.Figure("Poster med avvikelse", _count(k)),
    ]
    if (
        plan is None
        or interval is None
        or plan.confidence is None
        or plan.tolerable_misstatement_ore is None
    ):
        line = "Urvalsplanens parametrar saknas; någon övre felgräns kan inte beräknas."
        return Evaluation((line,), tuple(base), len(items), k)
    from riskreg.sampling import stats  # SciPy: loaded when a report is made, not at start

    findings: dict[int, list[ItemRow]] = {}
    for item in items:
        findings.setdefault(item.population_item_id, []).append(item)
    mus_findings, assumed = [], 0
    for hits in findings.values():
        item = hits[0]
        book = item.population_item.amount_ore or 0
        if book <= 0:
            continue
        audited = item.audited_amount_ore
        if audited is None:
            if item.result == ItemResultRow.OK.value:
                audited = book
            else:
                audited, assumed = 0, assumed + 1
        mus_findings.append(
            stats.MusFinding(item.population_item.record_key, book, audited, len(hits))
        )
    result = stats.evaluate_mus(
        mus_findings, interval, plan.confidence, plan.tolerable_misstatement_ore
    )
    figures = [
        *base,
        data.Figure("Urvalsintervall", _sek(interval)),
        data.Figure("Grundprecision", _sek(result.basic_precision)),
        data.Figure("Projicerad felsumma", _sek(result.projected_misstatement)),
        data.Figure(
            f"Övre felgräns, Stringer ({_percent(plan.confidence)} konfidens)",
            _sek(result.upper_misstatement_limit_ore),
        ),
        data.Figure("Tolerabel felsumma", _sek(plan.tolerable_misstatement_ore)),
    ]
    if result.projected_understatement:
        figures.append(
            data.Figure("Projicerad underskattning", _sek(result.projected_understatement))
        )
    figures.append(
        data.Figure(
            "Bedömning", "Inom tolerabel nivå" if result.within_tolerable else "Över tolerabel nivå"
        )
    )
    notes = ()
    if assumed:
        notes = (
            f"{assumed} {'post' if assumed == 1 else 'poster'} med avvikelse saknar granskat "
            "belopp och räknas som helt felaktiga (100 % felandel).",
        )
    return Evaluation(
        (result.explanation,), tuple(figures), len(items), k, not result.within_tolerable, notes
    )


def _evaluate_hygiene(observations: Sequence[ObservationRow]) -> Evaluation:
    parsed = []
    for observation in observations:
        try:
            parsed.append(
                hygiene.HygieneObservation(
                    observation.unit_name, observation.profession, _steps(observation)
                )
            )
        except ValueError:
            continue
    if not parsed:
        return Evaluation(("Inga observationer är registrerade.",), (), 0, 0)
    report = hygiene.evaluate_hygiene(parsed)
    deviations = sum(1 for o in parsed if not o.correct_in(hygiene.ALL_STEPS))
    overall = report.overall
    figures = [data.Figure("Observationer", _count(overall.observations))]
    lines: list[str] = []
    beyond: bool | None = None
    if overall.too_few or overall.all_steps is None:
        lines.append(f"Färre än {report.min_observations} observationer; andelar redovisas inte.")
    else:
        assert overall.hygiene is not None and overall.dress is not None
        figures += [
            data.Figure("Korrekt i alla 4 hygiensteg", _percent_number(overall.hygiene.percent)),
            data.Figure("Korrekt i alla 4 klädsteg", _percent_number(overall.dress.percent)),
            data.Figure("Korrekt i alla 8 steg", _percent_number(overall.all_steps.percent)),
            data.Figure("Mål", _percent(report.target)),
        ]
        met = overall.all_steps.meets_target
        beyond = not met
        lines.append(
            f"Andelen korrekt i alla åtta steg är {_percent_number(overall.all_steps.percent)}; "
            f"målet {_percent(report.target)} är {'uppnått' if met else 'inte uppnått'}."
        )
    for group in report.by_unit:
        if group.all_steps is not None:
            verdict = "mål uppnått" if group.all_steps.meets_target else "mål ej uppnått"
            lines.append(
                f"{group.name}: {group.observations} observationer, alla 8 steg "
                f"{_percent_number(group.all_steps.percent)} ({verdict})."
            )
    if report.too_few():
        lines.append(
            f"Redovisas inte separat (färre än {report.min_observations} observationer): "
            + ", ".join(report.too_few())
            + "."
        )
    return Evaluation(tuple(lines), tuple(figures), len(parsed), deviations, beyond)


# ============================================================== follow-up report


@dataclass(frozen=True)
class ControlFollowup:
    """One control of the plan with what the follow-up needs to say about it."""

    inputs: ReviewInputs
    report_signed: bool = False


def traffic_light(
    control: ControlRow, evaluation: Evaluation, today: date
) -> tuple[data.TrafficLight, str]:
    """The light and a short reason (see the module docstring for the definition)."""
    open_actions = [a for a in control.actions if not a.is_done]
    overdue = [a for a in open_actions if a.due_date < today]
    approved = control.status == ControlStatus.APPROVED
    reasons: list[str] = []
    if not approved and control.deadline < today:
        reasons.append("Inte klar efter sista dag")
    if evaluation.beyond_tolerable:
        reasons.append("Avvikelser över tolerabel nivå")
    if overdue:
        reasons.append(f"{len(overdue)} {'åtgärd' if len(overdue) == 1 else 'åtgärder'} försenade")
    if reasons:
        return data.TrafficLight.RED, "; ".join(reasons)
    if approved and evaluation.deviations == 0 and not open_actions:
        return data.TrafficLight.GREEN, "Godkänd utan avvikelser"
    if not approved:
        return data.TrafficLight.YELLOW, "Pågår, inom tidsplanen"
    detail = []
    if evaluation.deviations:
        detail.append("avvikelser inom tolerabel nivå")
    if open_actions:
        detail.append(f"{len(open_actions)} öppna åtgärder")
    return data.TrafficLight.YELLOW, "Godkänd med " + " och ".join(detail)


def followup_rows(
    plan: Plan,
    controls: Sequence[ControlFollowup],
    *,
    today: date,
) -> tuple[data.FollowupRow, ...]:
    """One row per control, in plan order; plan rows without a control get a row too."""
    by_risk: dict[int, list[ControlFollowup]] = {}
    for entry in controls:
        by_risk.setdefault(entry.inputs.control.risk_id, []).append(entry)
    rows: list[data.FollowupRow] = []
    for risk in _ordered_risks(plan.risks):
        entries = by_risk.get(risk.id, [])
        if not entries:
            rows.append(_unplanned_row(risk, today))
        for entry in entries:
            rows.append(_control_row(risk, entry, today))
    return tuple(rows)


def _ordered_risks(risks: Iterable[RiskRow]) -> list[RiskRow]:
    order = {section.value: number for number, section in enumerate(Section)}
    return sorted(risks, key=lambda r: (order.get(r.section, 99), r.position, r.id))


def _unplanned_row(risk: RiskRow, today: date) -> data.FollowupRow:
    late = risk.deadline is not None and risk.deadline < today
    return data.FollowupRow(
        section_title=_section_title(risk),
        control_title=risk.title,
        responsible_unit=risk.responsible_unit.code,
        risk_value=risk.probability * risk.consequence,
        deadline=risk.deadline,  # type: ignore[arg-type]
        status="Ingen granskning planerad",
        traffic_light=data.TrafficLight.RED if late else data.TrafficLight.YELLOW,
        items_checked=0,
        deviations=0,
        actions_open=0,
        actions_closed=0,
        comment="Inte genomförd efter sista dag" if late else "Granskning ännu inte planerad",
    )


def _control_row(risk: RiskRow, entry: ControlFollowup, today: date) -> data.FollowupRow:
    control = entry.inputs.control
    evaluation = evaluate(entry.inputs)
    light, reason = traffic_light(control, evaluation, today)
    status = CONTROL_STATUS_TITLES[ControlStatus(control.status)]
    if entry.report_signed:
        status += ", rapport signerad"
    closed = sum(1 for a in control.actions if a.is_done)
    return data.FollowupRow(
        section_title=_section_title(risk),
        control_title=control.title,
        responsible_unit=control.responsible_unit.code,
        risk_value=risk.probability * risk.consequence,
        deadline=control.deadline,
        status=status,
        traffic_light=light,
        items_checked=evaluation.items_checked,
        deviations=evaluation.deviations,
        actions_open=len(control.actions) - closed,
        actions_closed=closed,
        comment=reason,
    )


def heat_map(risks: Iterable[RiskRow], matrix: Matrix) -> data.HeatMap:
    """Counts per S×K cell in the organisation's configured colours and labels."""
    counts = Counter((r.probability, r.consequence) for r in risks)
    size = matrix.size
    cells = tuple(
        tuple(
            data.HeatCell(count=counts[(p, c)], colour=matrix.colour(p, c))
            for c in range(1, size + 1)
        )
        for p in range(1, size + 1)
    )
    return data.HeatMap(
        cells=cells,
        probability_labels=tuple(matrix.probability_labels[p] for p in range(1, size + 1)),
        consequence_labels=tuple(matrix.consequence_labels[c] for c in range(1, size + 1)),
    )


def _summary(rows: Sequence[data.FollowupRow]) -> tuple[str, ...]:
    lights = Counter(row.traffic_light for row in rows)
    opened = sum(r.actions_open for r in rows)
    closed = sum(r.actions_closed for r in rows)
    return (
        f"Planen har {len(rows)} kontroller: {lights[data.TrafficLight.GREEN]} gröna, "
        f"{lights[data.TrafficLight.YELLOW]} gula och {lights[data.TrafficLight.RED]} röda.",
        f"Avvikelser totalt: {sum(r.deviations for r in rows)}. "
        f"Åtgärder: {opened} öppna, {closed} genomförda och verifierade.",
        "Grön: godkänd utan avvikelser och utan öppna åtgärder. Gul: godkänd med avvikelser "
        "inom tolerabel nivå eller med öppna åtgärder som inte är försenade, eller pågående "
        "inom tidsplanen. Röd: avvikelser över tolerabel nivå, försenade åtgärder eller inte "
        "klar efter sista dag.",
    )


def followup_report(
    plan: Plan,
    controls: Sequence[ControlFollowup],
    matrix: Matrix,
    *,
    reference: str,
    organisation: str,
    coordinator: Signer,
    approver: Signer,
    generated_at: datetime,
    tz: tzinfo,
) -> data.FollowupReport:
    """The yearly follow-up (uppföljning av internkontrollplanen) of one plan."""
    today = generated_at.astimezone(tz).date()
    rows = followup_rows(plan, controls, today=today)
    actions = tuple(
        data.FollowupAction(
            control_title=entry.inputs.control.title,
            description=action.description,
            owner_unit=action.owner_unit.code,
            due_date=action.due_date,
            status=_ACTION_STATUS.get(
                ActionRowStatus(action.status), data.ActionStatus.NOT_STARTED
            ),
        )
        for entry in controls
        for action in entry.inputs.control.actions
    )
    adopted = plan.decision_date if plan.is_adopted else None
    paragraph = " ".join(p for p in (plan.decision_body or "", plan.decision_paragraph or "") if p)
    return data.FollowupReport(
        reference=reference,
        organisation=data.Organisation(organisation),
        plan=data.PlanInfo(
            year=plan.year,
            title=f"Internkontrollplan {plan.year}, {plan.organisation.name}",
            adopted_on=adopted,
            minutes_paragraph=paragraph,
            diary_number=plan.diary_number or "",
        ),
        rows=rows,
        heat_map=heat_map(plan.risks, matrix),
        summary_lines=_summary(rows),
        signatures=(
            data.ExpectedSignature(
                data.SignerRole.COORDINATOR, coordinator.name, coordinator.title, CONTROLLER_FIELD
            ),
            data.ExpectedSignature(
                data.SignerRole.APPROVER, approver.name, approver.title, COSIGNER_FIELD
            ),
        ),
        generated_at=generated_at.astimezone(tz),
        actions=actions,
    )
