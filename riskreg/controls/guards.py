"""Workflow guards (issue 14.5): the rules that keep the workflow in step with the work.

Approval over answered but unverified actions, the check type a plan row suggests, the
evidence a unit attaches to its answer and the notice a unit gets of a new action. Used by
riskreg.controls.services and its views; plain functions that flush, never commit.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from riskreg.auth.models import User
from riskreg.controls.models import Action, ActionEvidence, ActionStatus, CheckType, Control
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.risks.models import Risk
from riskreg.storage import store_by_sha256
from riskreg.uploads import CheckedUpload

__all__ = [
    "approval_note",
    "attach_action_evidence",
    "notify_assigned",
    "suggest_check_type",
    "unverified_actions",
]


#: Words of a plan row that point to a check type shipped with riskreg, checked in this order.
_CHECK_TYPE_WORDS: tuple[tuple[CheckType, tuple[str, ...]], ...] = (
    (CheckType.HYGIENE, ("hygien", "klädregler", "ppm-bhk")),
    (CheckType.PASSCARDS, ("passerkort", "nycklar", "nyckel")),
    (CheckType.REFERRALS, ("remiss",)),
    (CheckType.PAYMENTS, ("utbetalning", "vårdgivare", "vårdval")),
)


def suggest_check_type(risk: Risk) -> CheckType:
    """The check type a new control of ``risk`` most likely is, from the words of its plan row
    (risk, review area, method): the controller confirms or changes it in the form."""
    text = " ".join((risk.title, risk.review_area or "", risk.method or "")).casefold()
    for check_type, words in _CHECK_TYPE_WORDS:
        if any(word in text for word in words):
            return check_type
    return CheckType.GENERIC


def unverified_actions(control: Control) -> list[Action]:
    """Actions the unit has answered but the controller has not yet verified: approving over
    them would sign off work nobody has checked."""
    return [a for a in control.actions if a.status == ActionStatus.ANSWERED]


def approval_note(control: Control, note: str, *, override: bool) -> str:
    """The note of an approval: refused while actions wait for verification, unless the
    approver overrides with a reason; the override is then spelt out in the note, which the
    status history (and so the signed report) carries."""
    waiting = unverified_actions(control)
    if not waiting:
        return note
    numbers = ", ".join(str(a.id) for a in waiting)
    if not override:
        raise ServiceError(
            _(
                "Besvarade åtgärder som granskaren inte har verifierat: %(numbers)s. Låt "
                "granskaren verifiera dem först, eller godkänn ändå och ange skälet.",
                numbers=numbers,
            )
        )
    if not note:
        raise ServiceError(
            _("Ange skäl för att godkänna trots att åtgärder inte är verifierade.")
        )
    # Stored in Swedish like every other history note: the report is the record.
    return f"Godkänd trots overifierade åtgärder ({numbers}). Skäl: {note}"


def attach_action_evidence(
    session: Session,
    action: Action,
    upload: CheckedUpload,
    *,
    storage: Path,
    actor: User,
    now: datetime,
) -> ActionEvidence:
    """A file the unit attaches to its answer (e.g. the recovery invoice). The upload has
    been checked (riskreg.uploads.check_upload); it is stored by SHA-256 beside the sampled
    items' evidence. Refused once the action is verified: the record is closed."""
    if action.is_done:
        raise ServiceError(_("Åtgärden är redan verifierad."))
    store_by_sha256(upload.stream, upload.sha256, storage)
    evidence = ActionEvidence(
        file_name=upload.filename,
        content_type=upload.mimetype,
        size=upload.size,
        sha256=upload.sha256,
        stored_name=upload.sha256,
        uploaded_by=actor,
        uploaded_at=now,
    )
    action.evidence.append(evidence)
    session.flush()
    return evidence


def notify_assigned(
    session: Session, action: Action, *, actor: User | None, now: datetime
) -> None:
    """The owner unit hears of its new action at once in the app; by e-mail with the next
    reminder run (riskreg.reminders.decide, "assigned")."""
    from riskreg.reminders.notifications import notify_action_assigned

    notify_action_assigned(session, action, actor=actor, now=now)
