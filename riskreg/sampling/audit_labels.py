"""How the audit trail names the sample check's objects and fields (imported by views)."""

from __future__ import annotations

import json

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.audit.services import register_labels, register_names
from riskreg.sampling.checktypes import SAMPLING_METHOD_TITLES, SELECTION_METHOD_TITLES
from riskreg.sampling.models import (
    ITEM_RESULT_TITLES,
    AttributeResult,
    Evidence,
    Population,
    PopulationItem,
    SampleDraw,
    SampleItem,
    SamplePlan,
)


def _column_names(value: object) -> str:
    """The imported file's columns by their headings (stored as [key, heading, type])."""
    try:
        columns = json.loads(value) if isinstance(value, str) else value
        return ", ".join(str(column[1]) for column in columns)  # type: ignore[union-attr]
    except (ValueError, TypeError, IndexError, KeyError):
        return str(value)


_RESULTS = {result.value: title for result, title in ITEM_RESULT_TITLES.items()}

_CONTROL = {"control_id": _l("Granskning")}

register_labels(
    "population",
    {
        **_CONTROL,
        "source": _l("Källa"),
        "period_start": _l("Periodens början"),
        "period_end": _l("Periodens slut"),
        "file_name": _l("Fil"),
        "file_sha256": _l("Filens SHA-256"),
        "row_count": _l("Antal poster"),
        "total_amount_ore": _l("Summa (öre)"),
        "columns_json": _l("Kolumner"),
        "imported_by_id": _l("Importerad av"),
        "imported_at": _l("Importerad"),
        "superseded": _l("Ersatt"),
        # written by the import itself (riskreg.sampling.importing.import_population)
        "file_bytes": _l("Filens storlek (byte)"),
        "strata": _l("Skikt"),
        "superseded_population_ids": _l("Ersätter populationer"),
    },
    label=_l("Population"),
    formats={"columns_json": lambda value: _column_names(value)},
    actions={"population.import": _l("Population importerad")},
)
register_labels(
    "sample_plan",
    {
        **_CONTROL,
        "method": _l("Urvalsmetod"),
        "confidence": _l("Konfidensnivå"),
        "tolerable_rate": _l("Tolerabel avvikelsefrekvens"),
        "expected_rate": _l("Förväntad avvikelsefrekvens"),
        "population_size": _l("Populationens storlek"),
        "book_value_ore": _l("Bokfört värde (öre)"),
        "tolerable_misstatement_ore": _l("Tolerabel felsumma (öre)"),
        "expected_misstatement_ore": _l("Förväntad felsumma (öre)"),
        "sample_size": _l("Urvalets storlek"),
        "allowed_deviations": _l("Tillåtna avvikelser"),
        "interval_ore": _l("Urvalsintervall (öre)"),
        "justification": _l("Motivering"),
        "explanation": _l("Beräkning"),
        "created_by_id": _l("Skapad av"),
        "superseded": _l("Ersatt"),
    },
    label=_l("Urvalsplan"),
    values={"method": {m.value: title for m, title in SAMPLING_METHOD_TITLES.items()}},
)
register_labels(
    "sample_draw",
    {
        **_CONTROL,
        "population_id": _l("Population"),
        "plan_id": _l("Urvalsplan"),
        "seed": _l("Frö"),
        "selection_method": _l("Urvalsteknik"),
        "parameters_json": _l("Parametrar"),
        "sample_size": _l("Urvalets storlek"),
        "status": _l("Status"),
        "reason": _l("Skäl"),
        "drawn_by_id": _l("Dragen av"),
        "drawn_at": _l("Dragen"),
        "superseded": _l("Ersatt"),
        # written by the draw itself (riskreg.sampling.drawing.draw_sample, extend_sample)
        "population_sha256": _l("Populationsfilens SHA-256"),
        "parameters": _l("Parametrar"),
        "replaces_draw_id": _l("Ersätter urval"),
        "population_digest": _l("Populationens kontrollsumma"),
        "details": _l("Detaljer"),
        "first_keys": _l("Första posterna"),
        # inside the draw's parameters and details
        "excluded_amount_ore": _l("Undantaget belopp (öre)"),
        "excluded_count": _l("Undantagna poster"),
        "population_amount_ore": _l("Populationens belopp (öre)"),
        "start": _l("Start"),
        "top_stratum_count": _l("Poster i toppskiktet"),
        "interval_ore": _l("Urvalsintervall (öre)"),
        "multi_points": _l("Poster träffade flera gånger"),
        "population_size": _l("Populationens storlek"),
        "strata": _l("Skikt"),
        "from": _l("Från"),
        "to": _l("Till"),
    },
    label=_l("Urval"),
    values={
        "selection_method": {m.value: title for m, title in SELECTION_METHOD_TITLES.items()},
        "status": {"seeded": _l("Frö valt"), "drawn": _l("Draget")},
    },
    references={"plan_id": "sample_plan", "replaces_draw_id": "sample_draw"},
    actions={
        "sample.seed": _l("Frö valt"),
        "sample.draw": _l("Urval draget"),
        "sample.extend": _l("Urval utökat"),
    },
)
register_labels(
    "sample_item",
    {
        "draw_id": _l("Urval"),
        "population_item_id": _l("Post i populationen"),
        "position": _l("Nummer i urvalet"),
        "stratum": _l("Skikt"),
        "selection_point_ore": _l("Urvalspunkt (öre)"),
        "top_stratum": _l("Toppskikt"),
        "result": _l("Helhetsbedömning"),
        "comment": _l("Kommentar"),
        "audited_amount_ore": _l("Granskat belopp (öre)"),
        "assessed_by_id": _l("Bedömd av"),
        "assessed_at": _l("Bedömd"),
    },
    label=_l("Post i urvalet"),
    values={"result": _RESULTS},
    references={"draw_id": "sample_draw"},
    page=("sampling.item", "item_id"),
)
register_labels(
    "attribute_result",
    {"item_id": _l("Post"), "attribute": _l("Attribut"), "result": _l("Bedömning")},
    label=_l("Attributbedömning"),
    values={"result": _RESULTS},
    references={"item_id": "sample_item"},
)
register_labels(
    "evidence",
    {
        "item_id": _l("Post"),
        "file_name": _l("Fil"),
        "content_type": _l("Filtyp"),
        "size": _l("Storlek (byte)"),
        "sha256": _l("SHA-256"),
        "stored_name": _l("Lagrad som"),
        "uploaded_by_id": _l("Uppladdad av"),
        "uploaded_at": _l("Uppladdad"),
    },
    label=_l("Underlag"),
    references={"item_id": "sample_item"},
)
register_labels(
    "hygiene_observation",
    {
        **_CONTROL,
        "unit_name": _l("Enhet"),
        "profession": _l("Yrke"),
        "observed_on": _l("Datum"),
        "kind": _l("Typ"),
        "steps": _l("Steg 1–8"),
        "created_by_id": _l("Registrerad av"),
    },
    label=_l("Hygienobservation"),
    values={"kind": {"observation": _l("Observation"), "self_assessment": _l("Självskattning")}},
    actions={"hygiene.observation": _l("Observation registrerad")},
)


def _populations(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(Population.id, Population.file_name).where(Population.id.in_(ids))
    )
    return {i: name or gettext("Population") for i, name in rows}


def _draws(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(SampleDraw.id, SampleDraw.sample_size, SampleDraw.drawn_at).where(
            SampleDraw.id.in_(ids)
        )
    )
    return {
        i: gettext("Urval om %(n)s poster", n=size)
        + (f", {drawn_at:%Y-%m-%d}" if drawn_at else "")
        for i, size, drawn_at in rows
    }


def _items(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(SampleItem.id, SampleItem.position).where(SampleItem.id.in_(ids))
    )
    return {i: gettext("Post nr %(n)s i urvalet", n=position) for i, position in rows}


def _plans(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(SamplePlan.id, SamplePlan.method, SamplePlan.sample_size).where(
            SamplePlan.id.in_(ids)
        )
    )
    titles = {m.value: title for m, title in SAMPLING_METHOD_TITLES.items()}
    return {
        i: gettext("%(method)s, %(n)s poster", method=gettext(titles.get(method, method)), n=size)
        for i, method, size in rows
    }


def _population_items(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(PopulationItem.id, PopulationItem.line, PopulationItem.record_key).where(
            PopulationItem.id.in_(ids)
        )
    )
    return {i: gettext("rad %(line)s: %(key)s", line=line, key=key) for i, line, key in rows}


def _attribute_results(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(AttributeResult.id, AttributeResult.attribute, SampleItem.position)
        .join(SampleItem, SampleItem.id == AttributeResult.item_id)
        .where(AttributeResult.id.in_(ids))
    )
    return {
        i: gettext("%(attribute)s, post nr %(n)s", attribute=attribute, n=position)
        for i, attribute, position in rows
    }


def _evidence(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Evidence.id, Evidence.file_name).where(Evidence.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


register_names("attribute_result", _attribute_results)
register_names("evidence", _evidence)
register_names("population", _populations)
register_names("population_item", _population_items)
register_names("sample_plan", _plans)
register_names("sample_draw", _draws)
register_names("sample_item", _items)
