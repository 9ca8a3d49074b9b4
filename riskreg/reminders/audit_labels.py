"""How the audit trail names the reminder rules (imported by views)."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from riskreg.audit.services import register_labels, register_names

register_labels(
    "reminder_policy",
    {
        "days_before": _l("Dagar före sista dag"),
        "on_due_date": _l("Påminn på sista dagen"),
        "repeat_overdue_every_days": _l("Upprepa efter sista dag, var N:e dag"),
        "escalate_after_days": _l("Eskalera efter dagar"),
        "repeat_escalation_every_days": _l("Upprepa eskalering, var N:e dag"),
        "updated_by_id": _l("Ändrad av"),
    },
    label=_l("Påminnelseregler"),
)


def _policies(session: Session, ids: set[int]) -> dict[int, str]:
    """There is one policy, the organisation's."""
    return dict.fromkeys(ids, gettext("Organisationens påminnelseregler"))


register_names("reminder_policy", _policies)
