"""From riskreg's database objects to the report data the PDF builders render.

Over 600 lines on purpose: every value printed in the review and follow-up reports is chosen
here, so what a signed PDF says can be checked in one module.

Pure functions of already loaded ORM objects: no Flask, no session, no queries of their own
(relationships that are not loaded yet are read lazily through the objects' session, which is
the caller's). :mod:`riskreg.reports.services` loads the objects; the benchmark and the tests
can hand in objects built in memory.

There is one evaluation: the sampling package's (:func:`riskreg.sampling.evaluation.evaluate`,
what the control's evaluation page shows). :func:`evaluate` turns its result into report
lines and figures with the page's words; the review PDF, the follow-up PDF and the follow-up
XLSX all go through it, so none of them can disagree with the page. Method and selection
titles are the sampling package's too (:mod:`riskreg.sampling.checktypes`).

Values of the population are printed as the user saw them on import: under the file's column
headings, amounts in kronor ("409 974,00 kr"), dates as dates; never an internal column key
or a number of öre.

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
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import object_session

from riskreg.controls.models import (
    CHECK_TYPE_TITLES,
    CONTROL_STATUS_TITLES,
    CheckType,
    ControlStatus,
)
from riskreg.controls.models import Action as ActionRow
from riskreg.controls.models import ActionStatus as ActionRowStatus
from riskreg.controls.models import Control as ControlRow
from riskreg.glossary import plural_sv
from riskreg.i18n import N_
from riskreg.money import format_sek
from riskreg.plans.models import SECTION_TITLES, Plan, Section
from riskreg.reports import data
from riskreg.risks.matrix import Matrix
from riskreg.risks.models import Risk as RiskRow
from riskreg.sampling import hygiene
from riskreg.sampling.checktypes import (
    SAMPLING_METHOD_TITLES,
    SELECTION_METHOD_TITLES,
    STRATUM_TITLES,
)
from riskreg.sampling.models import ITEM_RESULT_TITLES, SamplingMethod, SelectionMethod
from riskreg.sampling.models import HygieneObservation as ObservationRow
from riskreg.sampling.models import ItemResult as ItemResultRow
from riskreg.sampling.models import Population as PopulationRow
from riskreg.sampling.models import SampleDraw as DrawRow
from riskreg.sampling.models import SampleItem as ItemRow
from riskreg.sampling.models import SamplePlan as PlanRow

if TYPE_CHECKING:
    from riskreg.sampling.evaluation import Evaluation as SamplingEvaluation

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

#: The sampling package's titles (Swedish source strings of its N_() catalogue entries).
_E = TypeVar("_E", bound=StrEnum)

METHOD_TITLES: Mapping[SamplingMethod, str] = SAMPLING_METHOD_TITLES
SELECTION_TITLES: Mapping[SelectionMethod, str] = SELECTION_METHOD_TITLES
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
    #: The sampling package's evaluation; computed through the control's session when absent.
    evaluation: SamplingEvaluation | None = None

    @property
    def items(self) -> list[ItemRow]:
        return sorted(self.draw.items, key=lambda i: i.position) if self.draw else []

    @property
    def is_hygiene(self) -> bool:
        return self.control.check_type == CheckType.HYGIENE


@dataclass(frozen=True)
class Evaluation:
    """What the stored results say, as lines and figures, and for the traffic light.

    ``deviations`` counts what the evaluation counts (deviations and items that could not be
    assessed); ``rate``, ``upper_limit`` and ``verdict`` are the page's words, or empty.
    """

    lines: tuple[str, ...]
    figures: tuple[data.Figure, ...]
    items_checked: int
    deviations: int
    beyond_tolerable: bool | None = None
    notes: tuple[str, ...] = field(default=())
    rate: str = ""
    upper_limit: str = ""
    verdict: str = ""


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


def fmt_ore(ore: int) -> str:
    """Öre as kronor the way the app shows them: 40997400 -> "409 974,00 kr"."""
    return format_sek(ore)


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
    deviations = _deviations(inputs)
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
            controllers=", ".join(_name(user) for user in control.controllers) or "–",
        ),
        population=_population(inputs, generated_at, tz),
        sampling_plan=_sampling_plan(inputs),
        items=_items(inputs),
        deviations=deviations,
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
        summary=_summary_page(evaluation, observations=inputs.is_hygiene and inputs.draw is None),
        reproduction=_reproduction(inputs),
        item_key_label=_key_label(inputs),
    )


def _summary_page(evaluation: Evaluation, *, observations: bool = False) -> data.ReviewSummary:
    """The nämnd's page: the verdict in words and what was found."""
    if evaluation.verdict:
        verdict = evaluation.verdict
        if evaluation.upper_limit:
            verdict += f" (övre gräns {evaluation.upper_limit})"
    elif evaluation.items_checked:
        verdict = "Icke-statistiskt urval: resultatet gäller de granskade posterna"
    else:
        verdict = "Ingen utvärdering: inga granskade poster"
    checked = evaluation.items_checked
    found = evaluation.deviations
    if observations:
        text = (
            f"{_count(found)} av {_count(checked)} observationer med minst ett steg som inte "
            "följdes"
        )
    else:
        text = (
            f"{_count(found)} {'avvikelse' if found == 1 else 'avvikelser'} bland "
            f"{_count(checked)} {'granskad post' if checked == 1 else 'granskade poster'}"
        )
    if evaluation.rate:
        text += f" (avvikelsefrekvens {evaluation.rate})"
    return data.ReviewSummary(verdict=verdict, deviations=text + ".")


#: What each selection rule does, in a sentence; docs/sampling.md states it exactly.
_RULES = {
    SelectionMethod.SIMPLE_RANDOM: (
        "Varje post får en rang: de första 8 byten (big-endian) av SHA-256 av fröet, tecknet "
        "U+001F och postens nyckel (UTF-8). De n poster som har lägst rang väljs."
    ),
    SelectionMethod.SYSTEMATIC: (
        "Var N/n:e post i populationsfilens ordning, från en slumpmässig start som härleds ur "
        "fröet med SHA-256."
    ),
    SelectionMethod.STRATIFIED: (
        "Varje skikt dras som ett obundet slumpmässigt urval (rang ur SHA-256 av frö och "
        "nyckel) med ett frö som härleds ur urvalets frö och skiktets namn."
    ),
    SelectionMethod.MUS_FIXED_INTERVAL: (
        "Punkter med fast intervall över den kumulerade beloppssumman i filens ordning, från "
        "en start som härleds ur fröet med SHA-256; den post vars belopp täcker en punkt väljs."
    ),
    SelectionMethod.MUS_CELL: (
        "En slumpmässig punkt i varje cell om ett intervall, härledd ur fröet och cellens "
        "nummer med SHA-256; poster som är minst ett intervall stora väljs alltid."
    ),
}


def _reproduction(inputs: ReviewInputs) -> data.Reproduction | None:
    """ "Så återskapas urvalet": seed, population fingerprint, rule and where the spec is."""
    draw, population = inputs.draw, inputs.population
    if draw is None:
        return None
    try:
        parameters = json.loads(draw.parameters_json or "{}")
    except ValueError:
        parameters = {}
    if not isinstance(parameters, dict):
        parameters = {}
    rows = [
        data.Figure("Urvalsteknik", _enum_title(SELECTION_TITLES, draw.selection_method)),
        data.Figure("Slumpfrö (seed)", draw.seed),
    ]
    if population is not None:
        rows += [
            data.Figure("Populationsfil", population.file_name),
            data.Figure("Populationsfilens SHA-256", population.file_sha256),
            data.Figure("Antal poster i populationen", _count(population.row_count)),
        ]
    digest = parameters.get("population_digest")
    if isinstance(digest, str) and digest:
        rows.append(data.Figure("Populationens fingeravtryck (nycklar, SHA-256)", digest))
    if isinstance(parameters.get("interval_ore"), int):
        rows.append(data.Figure("Urvalsintervall", format_sek(parameters["interval_ore"])))
    strata = parameters.get("strata")
    if isinstance(strata, dict) and strata:
        rows.append(
            data.Figure(
                "Antal per skikt",
                ", ".join(
                    f"{_stratum_title(name)}: {size}" for name, size in sorted(strata.items())
                ),
            )
        )
    rows.append(data.Figure("Stickprovets storlek (n)", _count(draw.sample_size)))
    try:
        rule = _RULES[SelectionMethod(draw.selection_method)]
    except ValueError:
        rule = ""
    text = (
        f"{rule} Med samma population och samma frö ger regeln samma poster. Regeln är "
        f"beskriven i sin helhet, med testvektorer, i {data.SPEC_LOCATION} i riskregs "
        "källkod, så att urvalet kan återskapas med andra verktyg än riskreg. En revisor "
        "kan på granskningens sida i riskreg ladda ned ”Underlag för att återskapa urvalet "
        "(zip)”: populationen som den importerades, fröet, parametrarna och de valda posterna."
    ).strip()
    return data.Reproduction(rows=tuple(rows), text=text)


def _stratum_title(name: str) -> str:
    return str(STRATUM_TITLES.get(name, name))


def _columns(inputs: ReviewInputs) -> list[tuple[str, str, str]]:
    """The population's columns as imported: (key, heading in the file, kind)."""
    population = inputs.population
    if population is None:
        return []
    try:
        columns = json.loads(population.columns_json or "[]")
    except ValueError:
        return []
    return [
        (str(column[0]), str(column[1]), str(column[2]))
        for column in columns
        if isinstance(column, list) and len(column) >= 3
    ]


def _key_column(inputs: ReviewInputs, columns: Sequence[tuple[str, str, str]]) -> str | None:
    """The population's key column: the check type's, or (generic files, whose key column
    the user named at import) the one column the stored rows leave out."""
    from riskreg.sampling.checktypes import spec_for

    try:
        key = spec_for(inputs.control).key_column
    except (KeyError, ValueError):
        key = None
    if key is not None or not inputs.items:
        return key
    try:
        stored = json.loads(inputs.items[0].population_item.data_json or "{}")
    except ValueError:
        return None
    missing = [c for c, _label, _kind in columns if isinstance(stored, dict) and c not in stored]
    return missing[0] if len(missing) == 1 else None


def _key_label(inputs: ReviewInputs) -> str:
    """The heading of the population's key column as in the file, e.g. "Utbetalnings-id"."""
    if inputs.is_hygiene and inputs.draw is None:
        return "Observation"
    columns = _columns(inputs)
    key = _key_column(inputs, columns)
    for column_key, label, _kind in columns:
        if column_key == key:
            return label
    return "Post"


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


def _enum_title(titles: Mapping[_E, str], value: str) -> str:
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
            allowed_deviations=None,
            reasoning=(plan.explanation if plan else "")
            or "Personal i patientnära arbete observeras i åtta steg (J/N/EA) enligt PPM-BHK.",
            seed="–",
            selection_method="Observation av personal i patientnära arbete",
            attributes=HYGIENE_STEP_TITLES,
        )
    parts = (plan.explanation, plan.justification) if plan else ()
    reasoning = " ".join(part.strip() for part in parts if part and part.strip())
    mus = plan is not None and plan.method == SamplingMethod.MUS
    return data.SamplingPlan(
        method=_enum_title(METHOD_TITLES, plan.method) if plan else "Ingen urvalsplan",
        parameters=_parameters(plan),
        sample_size=draw.sample_size if draw else (plan.sample_size if plan else 0),
        allowed_deviations=None if mus or plan is None else plan.allowed_deviations,
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


def _value(kind: str, value: object, population_item: object) -> str:
    """One value as the user saw it: kronor for amounts, the date, the text as imported."""
    if kind == "amount":
        ore = getattr(population_item, "amount_ore", None)
        return fmt_ore(ore) if isinstance(ore, int) else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, int):
        return _count(value)
    return str(value)


def _description(item: ItemRow, columns: Sequence[tuple[str, str, str]], key: str | None) -> str:
    """The population row under the file's own headings, except the key, shortened."""
    population_item = item.population_item
    try:
        values = json.loads(population_item.data_json or "{}")
    except ValueError:
        values = {}
    if not isinstance(values, dict):
        values = {}
    parts = []
    for column_key, label, kind in columns:
        if column_key == key:
            continue
        shown = _value(kind, values.get(column_key), population_item)
        if shown.strip() and shown != population_item.record_key:
            parts.append(f"{label}: {shown}")
    text = "; ".join(parts)
    if item.stratum:
        stratum = f"Skikt: {_stratum_title(item.stratum)}"
        text = f"{stratum}; {text}" if text else stratum
    if len(text) > _MAX_DESCRIPTION:
        text = text[: _MAX_DESCRIPTION - 1].rstrip() + "…"
    return text


def _item_result(item: ItemRow) -> tuple[data.ItemResult, str]:
    if item.result is None:
        note = "Ej bedömd; ingår inte i utvärderingen, som därför är preliminär."
        return data.ItemResult.NOT_ASSESSABLE, f"{note} {item.comment or ''}".strip()
    result = _ITEM_RESULT.get(ItemResultRow(item.result), data.ItemResult.NOT_ASSESSABLE)
    return result, item.comment or ""


def _items(inputs: ReviewInputs) -> tuple[data.SampledItem, ...]:
    if inputs.is_hygiene and inputs.draw is None:
        return tuple(_observation_item(o) for o in _sorted_observations(inputs.observations))
    columns = _columns(inputs)
    key = _key_column(inputs, columns)
    items = []
    for item in inputs.items:
        result, comment = _item_result(item)
        items.append(
            data.SampledItem(
                key=item.population_item.record_key,
                description=_description(item, columns, key),
                attribute_results=tuple(
                    data.AttributeResult(r.attribute, _attribute_value(r.result))
                    for r in item.attribute_results
                ),
                result=result,
                comment=comment,
                evidence=tuple(
                    data.EvidenceFile(e.file_name, e.sha256)
                    for e in sorted(item.evidence, key=lambda e: (e.uploaded_at, e.id or 0))
                ),
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

#: The verdict words of the evaluation page (templates/sampling/evaluate.html).
ATTRIBUTE_VERDICTS = {True: "Inom tolerabel frekvens", False: "Överstiger tolerabel frekvens"}
MUS_VERDICTS = {True: "Inom tolerabel felsumma", False: "Överstiger tolerabel felsumma"}


def sampling_evaluation(inputs: ReviewInputs) -> SamplingEvaluation:
    """The sampling package's evaluation of the control, the one its evaluation page shows."""
    if inputs.evaluation is not None:
        return inputs.evaluation
    # SciPy: loaded when a report is made
    from riskreg.sampling.evaluation import evaluate as evaluate_sample

    session = object_session(inputs.control)
    if session is None:
        raise ValueError("the control is not attached to a session; pass its evaluation")
    return evaluate_sample(session, inputs.control)


def evaluate(inputs: ReviewInputs) -> Evaluation:
    """The evaluation page's result (:func:`riskreg.sampling.evaluation.evaluate`) as report
    lines and figures; nothing is recomputed here, so the report and the page cannot differ."""
    result = sampling_evaluation(inputs)
    if result.kind == "hygiene":
        evaluation = _hygiene_evaluation(result, inputs.observations)
    elif result.kind == "none" and not result.sample_size:
        evaluation = Evaluation(("Inga granskade poster finns registrerade.",), (), 0, 0)
    else:
        evaluation = _sample_evaluation(result, inputs.sample_plan)
    routine = sum(1 for d in inputs.control.deviations if d.sample_item_id is None)
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
            evaluation.rate,
            evaluation.upper_limit,
            evaluation.verdict,
        )
    return evaluation


def _deviation_count(result: SamplingEvaluation) -> str:
    text = _count(result.deviations)
    if result.not_assessable:
        text += f" + {result.not_assessable} ej bedömbara"
    return text


def _sample_evaluation(result: SamplingEvaluation, plan: PlanRow | None) -> Evaluation:
    counted = result.deviations + result.not_assessable
    figures = [
        data.Figure("Urvalets storlek", _count(result.sample_size)),
        data.Figure("Bedömda poster", _count(result.assessed)),
        data.Figure("Avvikelser", _deviation_count(result)),
        data.Figure("Avvikelsefrekvens i urvalet", result.rate_percent or "–"),
    ]
    notes = tuple(result.notes)
    method = getattr(result, "method_description", "")
    lines: tuple[str, ...] = (f"Metod: {method}",) if method else ()
    stratified = getattr(result, "stratified", None)
    if stratified is not None:
        return _stratified_evaluation(result, stratified, plan, figures, lines, notes)
    if result.attribute is not None:
        attribute = result.attribute
        confidence = f" ({_percent(plan.confidence)} konfidens)" if plan and plan.confidence else ""
        upper = _percent_number(attribute.upper_limit_percent)
        verdict = ATTRIBUTE_VERDICTS[attribute.within_tolerable]
        label = f"Övre avvikelsegräns{confidence}"
        if getattr(attribute, "census", False):
            label = "Avvikelsefrekvens i populationen (totalgranskning)"
        figures += [
            data.Figure(label, upper),
            data.Figure("Tolerabel avvikelsefrekvens", _percent(attribute.tolerable_rate)),
            data.Figure("Bedömning", verdict),
        ]
        return Evaluation(
            (attribute.explanation, *lines),
            tuple(figures),
            result.assessed,
            counted,
            not attribute.within_tolerable,
            notes,
            result.rate_percent,
            upper,
            verdict,
        )
    if result.mus is not None:
        mus = result.mus
        confidence = f", {_percent(plan.confidence)} konfidens" if plan and plan.confidence else ""
        upper = format_sek(mus.upper_misstatement_limit_ore)
        verdict = MUS_VERDICTS[mus.within_tolerable]
        figures += [
            data.Figure("Urvalsintervall", format_sek(mus.interval)),
            data.Figure("Grundprecision", format_sek(Fraction(mus.basic_precision))),
            data.Figure("Projicerad felsumma", format_sek(mus.projected_misstatement)),
            data.Figure(f"Övre felgräns (Stringer{confidence})", upper),
            data.Figure("Tolerabel felsumma", format_sek(mus.tolerable_misstatement)),
            data.Figure("Bedömning", verdict),
        ]
        if mus.projected_understatement:
            figures.append(
                data.Figure(
                    "Projicerad underskattning (redovisas separat)",
                    format_sek(mus.projected_understatement),
                )
            )
        return Evaluation(
            (mus.explanation, *lines),
            tuple(figures),
            result.assessed,
            counted,
            not mus.within_tolerable,
            notes,
            result.rate_percent,
            upper,
            verdict,
        )
    beyond = None
    if plan and plan.tolerable_rate and result.assessed:
        beyond = Fraction(counted, result.assessed) > Fraction(plan.tolerable_rate)
        figures.append(data.Figure("Tolerabel avvikelsefrekvens", _percent(plan.tolerable_rate)))
    return Evaluation(
        lines, tuple(figures), result.assessed, counted, beyond, notes, result.rate_percent
    )


def _stratified_evaluation(
    result: SamplingEvaluation,
    stratified: Any,
    plan: PlanRow | None,
    figures: list[data.Figure],
    lines: tuple[str, ...],
    notes: tuple[str, ...],
) -> Evaluation:
    """Per stratum and for the whole population, weighted by the strata's sizes."""
    confidence = f" ({_percent(plan.confidence)} konfidens)" if plan and plan.confidence else ""
    upper = _percent_number(stratified.upper_limit_percent)
    verdict = ATTRIBUTE_VERDICTS[stratified.within_tolerable]
    figures += [
        data.Figure(
            f"Övre avvikelsegräns, hela populationen{confidence}",
            f"{upper} ({stratified.upper_deviation_count} av "
            f"{_count(stratified.population_size)} poster)",
        ),
        data.Figure("Tolerabel avvikelsefrekvens", _percent(stratified.tolerable_rate)),
        data.Figure("Bedömning", verdict),
    ]
    for stratum in stratified.strata:
        examined = f"{_count(stratum.sample_size)} granskade"
        if stratum.sample_size == stratum.population_size:
            examined += " (alla)"
        figures.append(
            data.Figure(
                f"Skikt: {_stratum_title(stratum.name)}",
                f"{_count(stratum.population_size)} poster, {examined}, "
                f"{stratum.deviations} avvikelser; övre gräns "
                f"{_percent_number(stratum.upper_limit_percent)}: "
                f"{ATTRIBUTE_VERDICTS[stratum.within_tolerable].lower()}",
            )
        )
    return Evaluation(
        (stratified.explanation, *lines),
        tuple(figures),
        result.assessed,
        result.deviations + result.not_assessable,
        not stratified.within_tolerable,
        notes,
        result.rate_percent,
        upper,
        verdict,
    )


def _hygiene_evaluation(
    result: SamplingEvaluation, observations: Sequence[ObservationRow]
) -> Evaluation:
    report = result.hygiene
    if report is None or not report.overall.observations:
        return Evaluation(("Inga observationer är registrerade.",), (), 0, 0)
    deviations = 0
    for observation in observations:
        if any(step == "N" for step in _steps(observation)):
            deviations += 1
    overall = report.overall
    figures = [data.Figure("Observationer", _count(overall.observations))]
    lines: list[str] = []
    beyond: bool | None = None
    verdict = ""
    if overall.too_few or overall.all_steps is None:
        lines.append(f"Färre än {report.min_observations} observationer; andelar redovisas inte.")
    else:
        assert overall.hygiene is not None and overall.dress is not None
        met = overall.all_steps.meets_target
        verdict = "Målet uppnått" if met else "Målet inte uppnått"
        figures += [
            data.Figure("Korrekt i alla 4 hygiensteg", _percent_number(overall.hygiene.percent)),
            data.Figure("Korrekt i alla 4 klädsteg", _percent_number(overall.dress.percent)),
            data.Figure("Korrekt i alla 8 steg", _percent_number(overall.all_steps.percent)),
            data.Figure("Mål", _percent(report.target)),
            data.Figure("Bedömning", verdict),
        ]
        beyond = not met
        lines.append(
            f"Andelen korrekt i alla åtta steg är {_percent_number(overall.all_steps.percent)}; "
            f"målet {_percent(report.target)} är {'uppnått' if met else 'inte uppnått'}."
        )
    for group in report.by_unit:
        if group.all_steps is not None:
            unit_verdict = "mål uppnått" if group.all_steps.meets_target else "mål ej uppnått"
            lines.append(
                f"{group.name}: {group.observations} observationer, alla 8 steg "
                f"{_percent_number(group.all_steps.percent)} ({unit_verdict})."
            )
    if report.too_few():
        lines.append(
            f"Redovisas inte separat (färre än {report.min_observations} observationer): "
            + ", ".join(report.too_few())
            + "."
        )
    return Evaluation(
        tuple(lines),
        tuple(figures),
        overall.observations,
        deviations,
        beyond,
        tuple(result.notes),
        verdict=verdict,
    )


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
        count = len(open_actions)
        detail.append(f"{count} {'öppen åtgärd' if count == 1 else 'öppna åtgärder'}")
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
        deviation_rate=evaluation.rate,
        upper_limit=evaluation.upper_limit,
        verdict=evaluation.verdict,
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
    # Swedish plurals ("1 gul och 7 röda"): the signed PDF is Swedish whoever makes it.
    return (
        f"Planen har {plural_sv(len(rows), 'granskning', 'granskningar')}: "
        f"{plural_sv(lights[data.TrafficLight.GREEN], 'grön', 'gröna')}, "
        f"{plural_sv(lights[data.TrafficLight.YELLOW], 'gul', 'gula')} och "
        f"{plural_sv(lights[data.TrafficLight.RED], 'röd', 'röda')}.",
        f"Avvikelser totalt: {sum(r.deviations for r in rows)}. "
        f"Åtgärder: {opened} ännu inte {'verifierad' if opened == 1 else 'verifierade'}, "
        f"{closed} {'genomförd och verifierad' if closed == 1 else 'genomförda och verifierade'}.",
        N_(
            "Grön: godkänd utan avvikelser och utan öppna åtgärder. Gul: godkänd med avvikelser "
            "inom tolerabel nivå eller med öppna åtgärder som inte är försenade, eller pågående "
            "inom tidsplanen. Röd: avvikelser över tolerabel nivå, försenade åtgärder eller "
            "inte klar efter sista dag."
        ),
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
