"""How the audit trail names the control workflow's objects and fields (imported by views)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.audit.services import register_labels, register_names
from riskreg.controls.models import (
    ACTION_STATUS_TITLES,
    CHECK_TYPE_TITLES,
    CONTROL_STATUS_TITLES,
    Action,
    ActionEvidence,
    Control,
    ControlEvent,
    Deviation,
)

_CONTROL_STATUS = {status.value: title for status, title in CONTROL_STATUS_TITLES.items()}

register_labels(
    "control",
    {
        "risk_id": _l("Risk"),
        "title": _l("Vad granskas"),
        "check_type": _l("Typ av granskning"),
        "responsible_unit_id": _l("Ansvarig enhet"),
        "deadline": _l("Klar senast"),
        "deviation_definition": _l("Avvikelsedefinition"),
        "attributes_text": _l("Attribut per post"),
        "status": _l("Status"),
        "conclusion": _l("Slutsats"),
        "created_by_id": _l("Skapad av"),
        "created_at": _l("Skapad"),
        "approved_by_id": _l("Godkänd av"),
        "approved_at": _l("Godkänd"),
        "controllers": _l("Granskare"),
        "previous_controllers": _l("Tidigare granskare"),
        # written by the hygiene import (riskreg.sampling.importing)
        "file_name": _l("Fil"),
        "file_sha256": _l("Filens SHA-256"),
        "observations": _l("Antal observationer"),
    },
    label=_l("Granskning"),
    actions={"assign": _l("Granskare tilldelade")},
    values={
        "status": _CONTROL_STATUS,
        "check_type": {kind.value: title for kind, title in CHECK_TYPE_TITLES.items()},
    },
    page=("controls.show", "control_id"),
)
register_labels(
    "control_event",
    {
        "control_id": _l("Granskning"),
        "at": _l("När"),
        "actor_id": _l("Vem"),
        "from_status": _l("Från"),
        "to_status": _l("Till"),
        "note": _l("Skäl/kommentar"),
    },
    label=_l("Statusändring"),
    values={"from_status": _CONTROL_STATUS, "to_status": _CONTROL_STATUS},
)
register_labels(
    "deviation",
    {
        "control_id": _l("Granskning"),
        "sample_item_id": _l("Post"),
        "description": _l("Avvikelse"),
        "recovery_claim_ore": _l("Återkrav (öre)"),
        "created_by_id": _l("Registrerad av"),
        "created_at": _l("Registrerad"),
    },
    label=_l("Avvikelse"),
)
register_labels(
    "action",
    {
        "control_id": _l("Granskning"),
        "deviation_id": _l("Avvikelse"),
        "owner_unit_id": _l("Ansvarig enhet"),
        "description": _l("Åtgärd"),
        "due_date": _l("Sista dag"),
        "status": _l("Status"),
        "answer": _l("Svar"),
        "answered_by_id": _l("Besvarad av"),
        "answered_at": _l("Besvarad"),
        "verification_note": _l("Granskarens kommentar"),
        "verified_by_id": _l("Verifierad av"),
        "verified_at": _l("Verifierad"),
        "created_by_id": _l("Registrerad av"),
        "created_at": _l("Registrerad"),
    },
    label=_l("Åtgärd"),
    page=("controls.action", "action_id"),
    values={"status": {status.value: title for status, title in ACTION_STATUS_TITLES.items()}},
)


def _controls(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Control.id, Control.title).where(Control.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


def _actions(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Action.id, Action.description).where(Action.id.in_(ids)))
    return {i: _short(text) for i, text in rows}


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _deviations(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(Deviation.id, Deviation.description).where(Deviation.id.in_(ids))
    )
    return {i: _short(text) for i, text in rows}


def _control_events(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(ControlEvent.id, Control.title)
        .join(Control, Control.id == ControlEvent.control_id)
        .where(ControlEvent.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


register_names("control", _controls)
register_names("control_event", _control_events)
register_names("deviation", _deviations)
register_names("action", _actions)


register_labels(
    "action_evidence",
    {
        "action_id": _l("Åtgärd"),
        "file_name": _l("Fil"),
        "content_type": _l("Filtyp"),
        "size": _l("Storlek (byte)"),
        "sha256": _l("SHA-256"),
        "stored_name": _l("Lagrad som"),
        "uploaded_by_id": _l("Uppladdad av"),
        "uploaded_at": _l("Uppladdad"),
    },
    label=_l("Underlag till åtgärd"),
    references={"action_id": "action"},
)


def _action_evidence(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(ActionEvidence.id, ActionEvidence.file_name).where(ActionEvidence.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


register_names("action_evidence", _action_evidence)
