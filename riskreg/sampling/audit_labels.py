"""How the audit trail names the sample check's objects and fields (imported by views)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from riskreg.audit.services import register_labels

_CONTROL = {"control_id": _l("Granskning (id)")}

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
        "imported_by_id": _l("Importerad av (id)"),
        "imported_at": _l("Importerad"),
        "superseded": _l("Ersatt"),
        # written by the import itself (riskreg.sampling.importing.import_population)
        "file_bytes": _l("Filens storlek (byte)"),
        "strata": _l("Skikt"),
        "superseded_population_ids": _l("Ersätter populationer (id)"),
    },
    label=_l("Population"),
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
        "created_by_id": _l("Skapad av (id)"),
        "superseded": _l("Ersatt"),
    },
    label=_l("Urvalsplan"),
)
register_labels(
    "sample_draw",
    {
        **_CONTROL,
        "population_id": _l("Population (id)"),
        "plan_id": _l("Urvalsplan (id)"),
        "seed": _l("Frö"),
        "selection_method": _l("Urvalsteknik"),
        "parameters_json": _l("Parametrar"),
        "sample_size": _l("Urvalets storlek"),
        "status": _l("Status"),
        "reason": _l("Skäl"),
        "drawn_by_id": _l("Dragen av (id)"),
        "drawn_at": _l("Dragen"),
        "superseded": _l("Ersatt"),
        # written by the draw itself (riskreg.sampling.services.draw_sample, extend_sample)
        "population_sha256": _l("Populationsfilens SHA-256"),
        "parameters": _l("Parametrar"),
        "replaces_draw_id": _l("Ersätter urval (id)"),
        "population_digest": _l("Populationens kontrollsumma"),
        "details": _l("Detaljer"),
        "first_keys": _l("Första posterna"),
        "from": _l("Från"),
        "to": _l("Till"),
    },
    label=_l("Urval"),
    actions={
        "sample.seed": _l("Frö valt"),
        "sample.draw": _l("Urval draget"),
        "sample.extend": _l("Urval utökat"),
    },
)
register_labels(
    "sample_item",
    {
        "draw_id": _l("Urval (id)"),
        "population_item_id": _l("Post i populationen (id)"),
        "position": _l("Nummer i urvalet"),
        "stratum": _l("Skikt"),
        "selection_point_ore": _l("Urvalspunkt (öre)"),
        "top_stratum": _l("Toppskikt"),
        "result": _l("Helhetsbedömning"),
        "comment": _l("Kommentar"),
        "audited_amount_ore": _l("Granskat belopp (öre)"),
        "assessed_by_id": _l("Bedömd av (id)"),
        "assessed_at": _l("Bedömd"),
    },
    label=_l("Post i urvalet"),
    page=("sampling.item", "item_id"),
)
register_labels(
    "attribute_result",
    {"item_id": _l("Post (id)"), "attribute": _l("Attribut"), "result": _l("Bedömning")},
    label=_l("Attributbedömning"),
)
register_labels(
    "evidence",
    {
        "item_id": _l("Post (id)"),
        "file_name": _l("Fil"),
        "content_type": _l("Filtyp"),
        "size": _l("Storlek (byte)"),
        "sha256": _l("SHA-256"),
        "stored_name": _l("Lagrad som"),
        "uploaded_by_id": _l("Uppladdad av (id)"),
        "uploaded_at": _l("Uppladdad"),
    },
    label=_l("Underlag"),
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
        "created_by_id": _l("Registrerad av (id)"),
    },
    label=_l("Hygienobservation"),
    actions={"hygiene.observation": _l("Observation registrerad")},
)
