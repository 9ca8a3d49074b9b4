"""Demo step for reminders: the default policy row, so the admin page shows what applies.

The controls demo (run before this one) creates the controls and actions with due dates that
``riskreg reminders send --dry-run`` then shows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from riskreg.auth.models import Unit, User
from riskreg.plans.models import Plan
from riskreg.reminders.policy_store import ensure_policy


def load(
    session: Session,
    *,
    now: datetime,
    users: dict[str, User],
    units: dict[str, Unit],
    plan: Plan,
) -> None:
    row = ensure_policy(session, now=now)
    row.updated_by = users.get("admin")
    session.flush()
