"""Drawing a sample reproducibly, extending it, and verifying a stored draw.

A draw is documented before it happens: the seed is stored on a ``SampleDraw`` in status
"seeded", flushed, and logged with :func:`riskreg.audit.trail.record` before a single
population row is read for the selection. A second draw needs a reason and keeps the first
one, marked superseded. :func:`verify_draw` re-derives a stored sample from its population
and seed, which is what ``riskreg sample verify`` runs. The selection itself is the pure
functions of :mod:`riskreg.sampling.selection`; this module only feeds them from the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.audit.context import because
from riskreg.audit.trail import record
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
from riskreg.sampling import selection
from riskreg.sampling.checktypes import spec_for
from riskreg.sampling.importing import (
    current_population,
    positive_total,
)
from riskreg.sampling.lookups import (
    MUS_METHODS,
    current_draw,
    current_plan,
    draw_parameters,
    stratum_counts,
)
from riskreg.sampling.models import (
    Population,
    PopulationItem,
    SampleDraw,
    SampleItem,
    SamplePlan,
    SamplingMethod,
    SelectionMethod,
)

DRAW_ALREADY_CHANGED: Final = N_(
    "Urvalet har redan dragits sedan sidan visades (formuläret skickades två gånger eller "
    "någon annan hann före). Inget nytt urval drogs; se det gällande urvalet."
)
EXTEND_ALREADY_DONE: Final = N_(
    "Urvalet har redan ändrats sedan sidan visades (formuläret skickades två gånger eller "
    "någon annan hann före). Det utökades inte en gång till; se det gällande urvalet."
)


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
            _("Populationens rader har ändrats sedan urvalet drogs (kontrollsumman stämmer inte)."),
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
                False,
                _(
                    "Post %(n)s (%(key)s) saknas i det lagrade urvalet.",
                    n=index + 1,
                    key=pick.key,
                ),
                index,
            )
        position, key, stratum = items[index]
        if position != index + 1:
            return Verification(
                False,
                _(
                    "Position %(n)s saknas; lagrad post har position %(position)s.",
                    n=index + 1,
                    position=position,
                ),
                index,
            )
        if key != pick.key:
            return Verification(
                False,
                _(
                    "Första skillnaden på position %(n)s: lagrad post %(stored)s, härledd post "
                    "%(derived)s.",
                    n=index + 1,
                    stored=key,
                    derived=pick.key,
                ),
                index,
            )
        if (stratum or None) != pick.stratum:
            return Verification(
                False,
                _("Position %(n)s (%(key)s) ligger i fel skikt.", n=index + 1, key=key),
                index,
            )
    if len(items) > len(derivation.picks):
        extra = items[len(derivation.picks)]
        return Verification(
            False,
            _(
                "Det lagrade urvalet har en post för mycket: position %(n)s (%(key)s).",
                n=extra[0],
                key=extra[1],
            ),
            len(derivation.picks),
        )
    return Verification(
        True,
        _(
            "Urvalet stämmer: %(count)s poster härledda ur population %(population)s "
            "(SHA-256 %(sha)s…) med fröet %(seed)s.",
            count=len(items),
            population=population.id,
            sha=population.file_sha256[:12],
            seed=draw.seed,
        ),
        len(items),
    )
