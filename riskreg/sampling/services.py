"""Sample checks in the app: plan the size, draw reproducibly, record items, evaluate.

Over 600 lines, not yet split: the split into plan, draw, results, hygiene and evaluation
modules (issue 13, item 4) is still to do; the sections below are those seams.

Plain functions taking the session, the acting user, ``now`` and (for draws) the seed. They
flush and write their audit events; the caller commits once. The statistics and the
selection are the pure functions of :mod:`riskreg.sampling.stats` and
:mod:`riskreg.sampling.selection`; this module only feeds them from the database.

A draw is documented before it happens: the seed is stored on a ``SampleDraw`` in status
"seeded", flushed, and logged with :func:`riskreg.audit.trail.record` before a single
population row is read for the selection. A second draw needs a reason and keeps the first
one, marked superseded. :func:`verify_draw` re-derives a stored sample from its population
and seed, which is what ``riskreg sample verify`` runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskreg.audit.context import because
from riskreg.audit.digests import DIGEST_KEY, rows_digest_change
from riskreg.audit.trail import record
from riskreg.auth.models import Unit, User
from riskreg.controls.models import Action, CheckType, Control, Deviation
from riskreg.controls.services import (
    lock_control,
    raise_action,
    record_deviation,
    require_open_for_testing,
    require_unchanged,
    set_conclusion,
)
from riskreg.errors import ServiceError, StaleObject
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.sampling import selection, stats
from riskreg.sampling._exact import format_count, format_sek
from riskreg.sampling.checktypes import attributes_for, spec_for
from riskreg.sampling.hygiene import HygieneObservation as StatsObservation
from riskreg.sampling.hygiene import HygieneReport, evaluate_hygiene
from riskreg.sampling.importing import (
    count_items,
    current_population,
    positive_total,
    validate_observation,
)
from riskreg.sampling.models import (
    AttributeResult,
    HygieneObservation,
    ItemResult,
    Population,
    PopulationItem,
    SampleDraw,
    SampleItem,
    SamplePlan,
    SamplingMethod,
    SelectionMethod,
)

MUS_METHODS: Final = (SelectionMethod.MUS_FIXED_INTERVAL, SelectionMethod.MUS_CELL)
RESULT_VALUES: Final = tuple(r.value for r in ItemResult)

__all__ = [
    "Evaluation",
    "Picked",
    "Summary",
    "Verification",
    "add_observation",
    "current_draw",
    "current_plan",
    "current_population",
    "draw_sample",
    "evaluate",
    "extend_sample",
    "hygiene_report",
    "plan_sample",
    "raise_item_action",
    "record_result",
    "summary",
    "trail_objects",
    "verify_draw",
    "write_conclusion",
]


# --- lookups ------------------------------------------------------------------------------------


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


PLAN_ALREADY_CHANGED: Final = N_(
    "Urvalsplanen har redan ändrats sedan sidan visades (formuläret skickades två gånger eller "
    "någon annan hann före). Inget nytt sparades; se den gällande planen."
)
DRAW_ALREADY_CHANGED: Final = N_(
    "Urvalet har redan dragits sedan sidan visades (formuläret skickades två gånger eller "
    "någon annan hann före). Inget nytt urval drogs; se det gällande urvalet."
)
EXTEND_ALREADY_DONE: Final = N_(
    "Urvalet har redan ändrats sedan sidan visades (formuläret skickades två gånger eller "
    "någon annan hann före). Det utökades inte en gång till; se det gällande urvalet."
)


def draw_parameters(draw: SampleDraw) -> dict[str, Any]:
    return json.loads(draw.parameters_json or "{}")


# --- planning -----------------------------------------------------------------------------------


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


# --- drawing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picked:
    """One selected record, in sample order."""

    key: str
    stratum: str | None = None
    point: int | None = None
    top: bool = False
    points: int = 1


@dataclass
class Derivation:
    picks: list[Picked]
    details: dict[str, Any]
    digest: str


class _Digest:
    """SHA-256 over the population rows as selection saw them (line, key, amount, stratum)."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.rows = 0

    def add(self, line: int, key: str, amount: int | None, stratum: str | None) -> None:
        self.rows += 1
        text = f"{line}\x1f{key}\x1f{'' if amount is None else amount}\x1f{stratum or ''}\n"
        self._sha.update(text.encode("utf-8"))

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


RowSource = Callable[[str | None], Iterator[tuple[int, str, int | None, str | None]]]


def _row_source(session: Session, population: Population) -> RowSource:
    """Rows (line, key, amount, stratum) in file order, streamed; optionally one stratum."""

    def rows(stratum: str | None = None) -> Iterator[tuple[int, str, int | None, str | None]]:
        query = (
            select(
                PopulationItem.line,
                PopulationItem.record_key,
                PopulationItem.amount_ore,
                PopulationItem.stratum,
            )
            .where(PopulationItem.population_id == population.id)
            .order_by(PopulationItem.line)
        )
        if stratum is not None:
            query = query.where(PopulationItem.stratum == stratum)
        for row in session.execute(query.execution_options(yield_per=10_000)):
            yield row[0], row[1], row[2], row[3]

    return rows


def derive(
    rows: RowSource, method: SelectionMethod, seed: str, parameters: dict[str, Any]
) -> Derivation:
    """Run the selection for ``method`` over the rows; used by the draw and by verify."""
    digest = _Digest()

    def keys_of(stream: Iterable[tuple[int, str, int | None, str | None]]) -> Iterator[str]:
        for line, key, amount, stratum in stream:
            digest.add(line, key, amount, stratum)
            yield key

    details: dict[str, Any] = {}
    picks: list[Picked]
    if method == SelectionMethod.SIMPLE_RANDOM:
        keys = selection.simple_random_sample(keys_of(rows(None)), parameters["n"], seed)
        picks = [Picked(key) for key in keys]
    elif method == SelectionMethod.SYSTEMATIC:
        sample = selection.systematic_sample(
            keys_of(rows(None)), parameters["n"], seed, parameters["population_size"]
        )
        details = {"start": str(sample.start), "interval": str(sample.interval)}
        picks = [Picked(key) for key in sample.keys]
    elif method == SelectionMethod.STRATIFIED:
        for line, key, amount, stratum in rows(None):
            digest.add(line, key, amount, stratum)
        picks = []
        for name in sorted(parameters["strata"]):
            size = parameters["strata"][name]
            keys = selection.simple_random_sample(
                (row[1] for row in rows(name)), size, selection.stratum_seed(seed, name)
            )
            picks.extend(Picked(key, stratum=name) for key in keys)
    elif method in MUS_METHODS:
        def items() -> Iterator[tuple[str, int]]:
            for line, key, amount, stratum in rows(None):
                digest.add(line, key, amount, stratum)
                yield key, amount or 0

        select_mus = (
            selection.mus_fixed_interval
            if method == SelectionMethod.MUS_FIXED_INTERVAL
            else selection.mus_cell_selection
        )
        chosen = select_mus(items(), parameters["interval_ore"], seed)
        details = {
            "start": chosen.start,
            "population_amount_ore": chosen.population_amount,
            "excluded_count": len(chosen.excluded),
            "excluded_amount_ore": chosen.excluded_amount,
            "top_stratum_count": len(chosen.top_stratum),
        }
        picks = [
            Picked(hit.key, point=hit.points[0] if hit.points else None, top=True)
            for hit in chosen.top_stratum
        ] + [
            Picked(hit.key, point=hit.points[0], points=len(hit.points))
            for hit in chosen.selected
        ]
    else:  # pragma: no cover - SelectionMethod is closed
        raise ServiceError(_("Okänd urvalsmetod."))
    return Derivation(picks, details, digest.hexdigest())


def _check_method(
    control: Control, plan: SamplePlan, method: SelectionMethod
) -> None:
    spec = spec_for(control)
    if method not in spec.selection_methods:
        raise ServiceError(_("Urvalsmetoden passar inte granskningens typ."))
    is_mus_plan = plan.method == SamplingMethod.MUS
    if is_mus_plan != (method in MUS_METHODS):
        raise ServiceError(
            _("Beloppsurval (MUS) dras med MUS-metoderna och attributurval med de övriga.")
        )


def _check_plan_fits(session: Session, plan: SamplePlan, population: Population) -> None:
    """A plan made for another population (or before the import) must be made again."""
    if plan.method == SamplingMethod.ATTRIBUTE and plan.population_size != population.row_count:
        raise ServiceError(
            _(
                "Planen är inte gjord för den importerade populationen om %(count)s poster. "
                "Planera urvalet igen; storleken hämtas från populationen.",
                count=population.row_count,
            )
        )
    if plan.method == SamplingMethod.MUS and plan.book_value_ore != positive_total(
        session, population
    ):
        raise ServiceError(
            _(
                "Planen är inte gjord för den importerade populationens bokförda värde. "
                "Planera urvalet igen; värdet hämtas från populationen."
            )
        )


def draw_sample(
    session: Session,
    control: Control,
    *,
    selection_method: SelectionMethod | str,
    seed: str,
    actor: User | None,
    now: datetime,
    reason: str = "",
    strata_sizes: dict[str, int] | None = None,
    expected_draw_id: int | None = None,
) -> SampleDraw:
    """Store the seed, log it, then select from the current population and store the items.

    ``expected_draw_id``: the current draw the form was shown (0: none). A double click on
    "Dra urval" draws once; the second request is told the sample is already drawn.
    """
    lock_control(session, control)
    require_open_for_testing(control)
    seen = current_draw(session, control)
    require_unchanged(expected_draw_id, seen.id if seen else 0, DRAW_ALREADY_CHANGED)
    method = SelectionMethod(selection_method)
    if not control.deviation_definition.strip():
        raise ServiceError(_("Skriv vad som räknas som avvikelse innan urvalet dras."))
    population = current_population(session, control)
    if population is None:
        raise ServiceError(_("Importera populationen innan urvalet dras."))
    plan = current_plan(session, control)
    if plan is None:
        raise ServiceError(_("Planera urvalets storlek innan urvalet dras."))
    _check_method(control, plan, method)
    _check_plan_fits(session, plan, population)
    previous = current_draw(session, control)
    reason = reason.strip()
    if previous is not None and not reason:
        raise ServiceError(
            _("Ett urval är redan draget. Ett nytt urval kräver ett skäl; det gamla sparas.")
        )
    parameters: dict[str, Any] = {"population_size": population.row_count}
    if method in MUS_METHODS:
        assert plan.interval_ore is not None
        parameters["interval_ore"] = plan.interval_ore
    elif method == SelectionMethod.STRATIFIED:
        parameters["strata"] = _checked_strata(session, population, plan, strata_sizes or {})
    else:
        parameters["n"] = min(plan.sample_size, population.row_count)
    try:
        selection.record_rank(seed, "")
    except (TypeError, ValueError) as exc:
        raise ServiceError(_("Ogiltigt frö.")) from exc
    with because(reason or None):
        if previous is not None:
            previous.superseded = True
        draw = SampleDraw(
            control=control,
            population=population,
            plan=plan,
            seed=seed,
            selection_method=method.value,
            parameters_json=json.dumps(parameters, ensure_ascii=False, sort_keys=True),
            sample_size=0,
            status="seeded",
            reason=reason,
            drawn_by=actor,
            drawn_at=now,
        )
        session.add(draw)
        session.flush()
        record(
            session,
            "sample.seed",
            "sample_draw",
            draw.id,
            {
                "control_id": control.id,
                "seed": seed,
                "selection_method": method.value,
                "population_id": population.id,
                "population_sha256": population.file_sha256,
                "plan_id": plan.id,
                "parameters": parameters,
                "replaces_draw_id": previous.id if previous else None,
            },
        )
        derivation = derive(_row_source(session, population), method, seed, parameters)
        _store_items(session, draw, population, derivation.picks, start_position=1)
        parameters.update(derivation.details)
        parameters["population_digest"] = derivation.digest
        parameters["multi_points"] = {p.key: p.points for p in derivation.picks if p.points > 1}
        draw.parameters_json = json.dumps(parameters, ensure_ascii=False, sort_keys=True)
        draw.sample_size = len(derivation.picks)
        draw.status = "drawn"
        session.flush()
        record(
            session,
            "sample.draw",
            "sample_draw",
            draw.id,
            {
                "control_id": control.id,
                "sample_size": draw.sample_size,
                "population_digest": derivation.digest,
                "details": derivation.details,
                "first_keys": [p.key for p in derivation.picks[:10]],
            },
        )
    return draw


def _checked_strata(
    session: Session, population: Population, plan: SamplePlan, sizes: dict[str, int]
) -> dict[str, int]:
    all_counts = stratum_counts(session, population)
    if not all_counts or None in all_counts:
        raise ServiceError(_("Populationen saknar skikt; välj ett annat urval."))
    counts = {name: count for name, count in all_counts.items() if name is not None}
    unknown = sorted(set(sizes) - set(counts))
    if unknown:
        raise ServiceError(_("Okända skikt: %(value)s", value=", ".join(unknown)))
    result: dict[str, int] = {}
    for name, count in counts.items():
        size = sizes.get(name, 0)
        if size < 0 or size > count:
            raise ServiceError(
                _(
                    "Skiktet ”%(name)s” har %(count)s poster; ange 0–%(count)s.",
                    name=name,
                    count=count,
                )
            )
        result[name] = size
    if sum(result.values()) < min(plan.sample_size, population.row_count):
        raise ServiceError(
            _(
                "Skikten ska tillsammans ge minst planens %(sample_size)s poster.",
                sample_size=plan.sample_size,
            )
        )
    return result


def stratum_counts(session: Session, population: Population) -> dict[str | None, int]:
    rows = session.execute(
        select(PopulationItem.stratum, func.count(PopulationItem.id))
        .where(PopulationItem.population_id == population.id)
        .group_by(PopulationItem.stratum)
    ).all()
    return dict(rows)


def _item_ids(session: Session, population: Population, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = session.execute(
            select(PopulationItem.record_key, PopulationItem.id).where(
                PopulationItem.population_id == population.id,
                PopulationItem.record_key.in_(chunk),
            )
        )
        found.update((key, ident) for key, ident in rows)
    return found


def _store_items(
    session: Session,
    draw: SampleDraw,
    population: Population,
    picks: list[Picked],
    *,
    start_position: int,
) -> None:
    ids = _item_ids(session, population, [p.key for p in picks])
    for offset, pick in enumerate(picks):
        session.add(
            SampleItem(
                draw=draw,
                population_item_id=ids[pick.key],
                position=start_position + offset,
                stratum=pick.stratum,
                selection_point_ore=pick.point,
                top_stratum=pick.top,
            )
        )
    session.flush()


def extend_sample(
    session: Session,
    draw: SampleDraw,
    *,
    additional: int,
    reason: str,
    actor: User | None,
    now: datetime,
    expected_size: int | None = None,
) -> SampleDraw:
    """Add ``additional`` records to a simple random sample ("utöka urvalet").

    The rank rule makes the first n picks of an n + k sample exactly the n already drawn,
    so every item already examined stays and only the next k by rank are added.
    ``expected_size``: the sample size the form was shown; a repeated "Utöka" extends once.
    """
    control = draw.control
    lock_control(session, control)
    session.refresh(draw)  # superseded, size and items as committed, after the lock
    session.expire(draw, ["items"])
    require_open_for_testing(control)
    require_unchanged(expected_size, draw.sample_size, EXTEND_ALREADY_DONE)
    if draw.superseded or draw.status != "drawn":
        raise ServiceError(_("Bara det gällande urvalet kan utökas."))
    if draw.selection_method != SelectionMethod.SIMPLE_RANDOM:
        raise ServiceError(_("Bara ett obundet slumpmässigt urval kan utökas."))
    if additional < 1:
        raise ServiceError(_("Ange hur många poster som ska läggas till."))
    if not reason.strip():
        raise ServiceError(_("Ange varför urvalet utökas."))
    parameters = draw_parameters(draw)
    current = len(draw.items)
    target = min(current + additional, draw.population.row_count)
    if target == current:
        raise ServiceError(_("Hela populationen ingår redan i urvalet."))
    derivation = derive(
        _row_source(session, draw.population),
        SelectionMethod.SIMPLE_RANDOM,
        draw.seed,
        {**parameters, "n": target},
    )
    stored = [item.population_item.record_key for item in draw.items]
    if [p.key for p in derivation.picks[:current]] != stored:
        raise ServiceError(
            _("Det lagrade urvalet stämmer inte med fröet; kör kontrollen av urvalet.")
        )
    with because(reason.strip()):
        _store_items(
            session, draw, draw.population, derivation.picks[current:], start_position=current + 1
        )
        extensions = parameters.get("extensions", [])
        extensions.append({"from": current, "to": target, "reason": reason.strip(),
                           "at": now.isoformat()})
        parameters.update(n=target, extensions=extensions)
        draw.parameters_json = json.dumps(parameters, ensure_ascii=False, sort_keys=True)
        draw.sample_size = target
        session.flush()
        record(session, "sample.extend", "sample_draw", draw.id,
               {"from": current, "to": target, "reason": reason.strip()})
    session.refresh(draw)
    return draw


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str
    checked: int


def verify_draw(session: Session, draw: SampleDraw) -> Verification:
    """Re-derive the stored sample from its population and seed; name the first difference."""
    parameters = draw_parameters(draw)
    method = SelectionMethod(draw.selection_method)
    population = draw.population
    derivation = derive(_row_source(session, population), method, draw.seed, parameters)
    stored_digest = parameters.get("population_digest")
    if stored_digest and stored_digest != derivation.digest:
        return Verification(
            False,
            "Populationens rader har ändrats sedan urvalet drogs (kontrollsumman stämmer inte).",
            0,
        )
    items = session.execute(
        select(SampleItem.position, PopulationItem.record_key, SampleItem.stratum)
        .join(PopulationItem, SampleItem.population_item_id == PopulationItem.id)
        .where(SampleItem.draw_id == draw.id)
        .order_by(SampleItem.position)
    ).all()
    for index, pick in enumerate(derivation.picks):
        if index >= len(items):
            return Verification(
                False, f"Post {index + 1} ({pick.key}) saknas i det lagrade urvalet.", index
            )
        position, key, stratum = items[index]
        if position != index + 1:
            return Verification(
                False, f"Position {index + 1} saknas; lagrad post har position {position}.", index
            )
        if key != pick.key:
            return Verification(
                False,
                f"Första skillnaden på position {index + 1}: lagrad post {key}, "
                f"härledd post {pick.key}.",
                index,
            )
        if (stratum or None) != pick.stratum:
            return Verification(
                False, f"Position {index + 1} ({key}) ligger i fel skikt.", index
            )
    if len(items) > len(derivation.picks):
        extra = items[len(derivation.picks)]
        return Verification(
            False,
            f"Det lagrade urvalet har en post för mycket: position {extra[0]} ({extra[1]}).",
            len(derivation.picks),
        )
    return Verification(
        True,
        f"Urvalet stämmer: {len(items)} poster härledda ur population {population.id} "
        f"(SHA-256 {population.file_sha256[:12]}…) med fröet {draw.seed}.",
        len(items),
    )


# --- results ------------------------------------------------------------------------------------


def item_deviation(session: Session, item: SampleItem) -> Deviation | None:
    return session.scalar(
        select(Deviation).where(Deviation.sample_item_id == item.id).order_by(Deviation.id)
    )


def is_mus_draw(draw: SampleDraw) -> bool:
    return draw.selection_method in MUS_METHODS


def record_result(
    session: Session,
    item: SampleItem,
    *,
    attribute_results: dict[str, str],
    overall: str,
    actor: User,
    now: datetime,
    comment: str = "",
    audited_amount_ore: int | None = None,
    deviation_description: str = "",
    recovery_claim_ore: int | None = None,
    expected_version: int | None = None,
) -> SampleItem:
    """Store what the controller found for one sampled item.

    An overall avvikelse creates the item's Deviation (or updates it); taking the avvikelse
    back removes a deviation that has no actions yet.
    """
    draw = item.draw
    control = draw.control
    require_open_for_testing(control)
    if draw.superseded:
        raise ServiceError(_("Urvalet är ersatt av ett nytt; resultat registreras i det nya."))
    if expected_version is not None and item.version != expected_version:
        raise StaleObject(_("Posten har ändrats av någon annan. Ladda om sidan och försök igen."))
    attributes = attributes_for(control)
    problems: list[str] = []
    for attribute in attributes:
        if attribute_results.get(attribute) not in RESULT_VALUES:
            problems.append(_("Ange resultat för ”%(attribute)s”.", attribute=attribute))
    if overall not in RESULT_VALUES:
        problems.append(_("Ange helhetsbedömning."))
    if any(attribute_results.get(a) == ItemResult.DEVIATION for a in attributes) and (
        overall == ItemResult.OK
    ):
        problems.append(_("Ett attribut har en avvikelse; helhetsbedömningen kan inte vara OK."))
    book = item.population_item.amount_ore
    mus = is_mus_draw(draw)
    if mus and overall in (ItemResult.OK, ItemResult.DEVIATION):
        if audited_amount_ore is None and overall == ItemResult.OK:
            audited_amount_ore = book
        if audited_amount_ore is None:
            problems.append(_("Ange granskat (korrekt) belopp för posten."))
        elif audited_amount_ore < 0:
            problems.append(_("Granskat belopp kan inte vara negativt."))
        elif overall == ItemResult.OK and audited_amount_ore != book:
            problems.append(
                _("Granskat belopp skiljer sig från bokfört; bedöm posten som avvikelse.")
            )
    existing = item_deviation(session, item)
    if overall == ItemResult.DEVIATION and existing is None and not deviation_description.strip():
        problems.append(_("Beskriv avvikelsen."))
    if recovery_claim_ore is not None and recovery_claim_ore < 0:
        problems.append(_("Återkravet kan inte vara negativt."))
    if existing is not None and overall != ItemResult.DEVIATION and existing.actions:
        problems.append(_("Avvikelsen har åtgärder och kan inte tas bort."))
    if problems:
        raise ServiceError(problems[0], messages=problems)
    by_name = {r.attribute: r for r in item.attribute_results}
    for attribute in attributes:
        value = attribute_results[attribute]
        if attribute in by_name:
            by_name[attribute].result = value
        else:
            item.attribute_results.append(AttributeResult(attribute=attribute, result=value))
    item.result = overall
    item.comment = comment.strip()
    item.audited_amount_ore = audited_amount_ore if mus else None
    item.assessed_by = actor
    item.assessed_at = now
    session.flush()
    if overall == ItemResult.DEVIATION:
        if existing is None:
            record_deviation(
                session,
                control,
                description=deviation_description,
                actor=actor,
                now=now,
                sample_item_id=item.id,
                recovery_claim_ore=recovery_claim_ore,
            )
        else:
            if deviation_description.strip():
                existing.description = deviation_description.strip()
            existing.recovery_claim_ore = recovery_claim_ore
            session.flush()
    elif existing is not None:
        session.delete(existing)
        session.flush()
    return item


def raise_item_action(
    session: Session,
    item: SampleItem,
    *,
    description: str,
    owner_unit: Unit,
    due_date: date,
    actor: User,
    now: datetime,
    form_token: str | None = None,
) -> Action:
    deviation = item_deviation(session, item)
    if deviation is None:
        raise ServiceError(_("Posten har ingen avvikelse att åtgärda."))
    return raise_action(
        session,
        item.draw.control,
        description=description,
        owner_unit=owner_unit,
        due_date=due_date,
        actor=actor,
        now=now,
        deviation=deviation,
        form_token=form_token,
    )


# --- hygiene ------------------------------------------------------------------------------------


def add_observation(
    session: Session,
    control: Control,
    *,
    unit_name: str,
    profession: str,
    observed_on: date | None,
    kind: str,
    steps: list[str],
    actor: User | None,
    now: datetime,
) -> HygieneObservation:
    require_open_for_testing(control)
    if control.check_type != CheckType.HYGIENE:
        raise ServiceError(_("Observationer hör bara till granskningar av hygienrutiner."))
    parsed = validate_observation(unit_name, profession, observed_on, kind, steps)
    observation = HygieneObservation(
        control_id=control.id,
        unit_name=parsed.unit_name,
        profession=parsed.profession,
        observed_on=parsed.observed_on,
        kind=parsed.kind,
        steps=",".join(parsed.steps),
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    session.add(observation)
    session.flush()
    record(
        session,
        "hygiene.observation",
        "hygiene_observation",
        observation.id,
        {
            # the control's observations as they now stand, for `riskreg audit verify`
            DIGEST_KEY: rows_digest_change(
                session, HygieneObservation.__table__, {"control_id": control.id}
            ),
            "control_id": control.id,
            "unit_name": parsed.unit_name,
            "profession": parsed.profession,
            "observed_on": parsed.observed_on,
            "kind": parsed.kind,
            "steps": observation.steps,
        },
    )
    return observation


def hygiene_count(session: Session, control: Control) -> int:
    return session.scalar(
        select(func.count(HygieneObservation.id)).where(
            HygieneObservation.control_id == control.id
        )
    ) or 0


def hygiene_report(session: Session, control: Control) -> HygieneReport:
    rows = session.execute(
        select(
            HygieneObservation.unit_name, HygieneObservation.profession, HygieneObservation.steps
        )
        .where(HygieneObservation.control_id == control.id)
        .execution_options(yield_per=5000)
    )
    return evaluate_hygiene(
        StatsObservation(unit, profession, tuple(steps.split(","))) for unit, profession, steps
        in rows
    )


# --- evaluation ---------------------------------------------------------------------------------


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


def write_conclusion(
    session: Session, control: Control, conclusion: str, *, expected_version: int | None = None
) -> Control:
    if not conclusion.strip():
        raise ServiceError(_("Skriv en slutsats."))
    return set_conclusion(session, control, conclusion, expected_version=expected_version)


# --- the control panel -------------------------------------------------------------------------


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


def population_count(session: Session, population: Population) -> int:
    return count_items(session, population)
