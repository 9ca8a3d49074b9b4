"""How the audit trail names the control workflow's objects and fields (imported by views)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from riskreg.audit.services import register_labels

register_labels(
    "control",
    {
        "risk_id": _l("Risk (id)"),
        "title": _l("Vad granskas"),
        "check_type": _l("Typ av granskning"),
        "responsible_unit_id": _l("Ansvarig enhet (id)"),
        "deadline": _l("Klar senast"),
        "deviation_definition": _l("Avvikelsedefinition"),
        "attributes_text": _l("Attribut per post"),
        "status": _l("Status"),
        "conclusion": _l("Slutsats"),
        "created_by_id": _l("Skapad av (id)"),
        "created_at": _l("Skapad"),
        "approved_by_id": _l("Godkänd av (id)"),
        "approved_at": _l("Godkänd"),
        "controllers": _l("Granskare"),
        "previous_controllers": _l("Tidigare granskare"),
    },
    label=_l("Granskning"),
    actions={"assign": _l("Granskare tilldelade")},
    page=("controls.show", "control_id"),
)
register_labels(
    "control_event",
    {
        "control_id": _l("Granskning (id)"),
        "at": _l("När"),
        "actor_id": _l("Vem (id)"),
        "from_status": _l("Från"),
        "to_status": _l("Till"),
        "note": _l("Skäl/kommentar"),
    },
    label=_l("Statusändring"),
)
register_labels(
    "deviation",
    {
        "control_id": _l("Granskning (id)"),
        "sample_item_id": _l("Post (id)"),
        "description": _l("Avvikelse"),
        "recovery_claim_ore": _l("Återkrav (öre)"),
        "created_by_id": _l("Registrerad av (id)"),
        "created_at": _l("Registrerad"),
    },
    label=_l("Avvikelse"),
)
register_labels(
    "action",
    {
        "control_id": _l("Granskning (id)"),
        "deviation_id": _l("Avvikelse (id)"),
        "owner_unit_id": _l("Ansvarig enhet (id)"),
        "description": _l("Åtgärd"),
        "due_date": _l("Sista dag"),
        "status": _l("Status"),
        "answer": _l("Svar"),
        "answered_by_id": _l("Besvarad av (id)"),
        "answered_at": _l("Besvarad"),
        "verification_note": _l("Granskarens kommentar"),
        "verified_by_id": _l("Verifierad av (id)"),
        "verified_at": _l("Verifierad"),
        "created_by_id": _l("Registrerad av (id)"),
        "created_at": _l("Registrerad"),
    },
    label=_l("Åtgärd"),
    page=("controls.action", "action_id"),
)
