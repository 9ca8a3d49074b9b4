"""The reminder policy as stored: one row, edited by administrators, with optimistic locking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from riskreg.auth.models import User
from riskreg.errors import ServiceError, StaleObject
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.reminders.models import (
    POLICY_ROW_ID,
    ReminderPolicySetting,
)
from riskreg.reminders.policy import MAX_DAYS, ReminderPolicy

# --- policy -----------------------------------------------------------------------------------


def policy_row(session: Session) -> ReminderPolicySetting | None:
    return session.get(ReminderPolicySetting, POLICY_ROW_ID)


def load_policy(session: Session) -> ReminderPolicy:
    """The stored policy, or the defaults (14 and 3 days before, on the day, weekly, 14)."""
    row = policy_row(session)
    return row.to_policy() if row is not None else ReminderPolicy()


#: The version a policy form carries when no rules have been saved yet.
NO_POLICY_YET = 0


def ensure_policy(session: Session, *, now: dt.datetime) -> ReminderPolicySetting:
    """The policy row, created with the defaults if it does not exist yet."""
    row = policy_row(session)
    if row is None:
        default = ReminderPolicy()
        row = ReminderPolicySetting(
            id=POLICY_ROW_ID,
            days_before=",".join(str(d) for d in default.days_before),
            on_due_date=default.on_due_date,
            repeat_overdue_every_days=default.repeat_overdue_every_days,
            escalate_after_days=default.escalate_after_days,
            repeat_escalation_every_days=default.repeat_escalation_every_days,
            updated_at=now,
        )
        session.add(row)
        session.flush()
    return row


def parse_days(text: str) -> tuple[int, ...]:
    """ "14, 3" or "14 3" or "14;3" -> (14, 3). Raises ServiceError on anything else."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    days: list[int] = []
    for part in parts:
        if not part.strip().isdigit():
            raise ServiceError(_("”%(value)s” är inte ett antal dagar.", value=part.strip()))
        days.append(int(part))
    return tuple(days)


def save_policy(
    session: Session,
    *,
    days_before: Sequence[int],
    on_due_date: bool,
    repeat_overdue_every_days: int | None,
    escalate_after_days: int | None,
    repeat_escalation_every_days: int | None,
    actor: User | None,
    now: dt.datetime,
    expected_version: int | None = None,
) -> ReminderPolicySetting:
    """Validate with :class:`ReminderPolicy` and store. Problems come back in Swedish."""
    problems: list[str] = []
    for days in days_before:
        if not 1 <= days <= MAX_DAYS:
            problems.append(
                _("Dagar före sista dag måste vara mellan 1 och %(MAX_DAYS)s.", MAX_DAYS=MAX_DAYS)
            )
            break
    if len(set(days_before)) != len(tuple(days_before)):
        problems.append(_("Samma antal dagar före sista dag står flera gånger."))
    for label, value in (
        (N_("Upprepa efter sista dag"), repeat_overdue_every_days),
        (N_("Eskalera efter"), escalate_after_days),
        (N_("Upprepa eskaleringen"), repeat_escalation_every_days),
    ):
        if value is not None and not 1 <= value <= MAX_DAYS:
            problems.append(
                _(
                    "%(label)s: ange 1–%(MAX_DAYS)s dagar eller lämna tomt.",
                    label=_(label),
                    MAX_DAYS=MAX_DAYS,
                )
            )
    if repeat_escalation_every_days is not None and escalate_after_days is None:
        problems.append(_("Eskaleringen kan bara upprepas om den är påslagen."))
    if problems:
        raise ServiceError(problems[0], messages=problems)
    try:
        policy = ReminderPolicy(
            days_before=tuple(days_before),
            on_due_date=on_due_date,
            repeat_overdue_every_days=repeat_overdue_every_days,
            escalate_after_days=escalate_after_days,
            repeat_escalation_every_days=repeat_escalation_every_days,
        )
    except (TypeError, ValueError) as exc:  # the dataclass has the last word
        raise ServiceError(_("Ogiltig påminnelseregel: %(exc)s", exc=exc)) from exc
    existed = policy_row(session) is not None
    row = ensure_policy(session, now=now)
    # The form of a page shown before any rules were saved carries version 0 (NO_POLICY_YET).
    stored = row.version if existed else NO_POLICY_YET
    if expected_version is not None and stored != expected_version:
        raise StaleObject(
            _("Någon annan har ändrat reglerna sedan du öppnade sidan. Ladda om den.")
        )
    row.days_before = ",".join(str(d) for d in policy.days_before)
    row.on_due_date = policy.on_due_date
    row.repeat_overdue_every_days = policy.repeat_overdue_every_days
    row.escalate_after_days = policy.escalate_after_days
    row.repeat_escalation_every_days = policy.repeat_escalation_every_days
    row.updated_at = now
    row.updated_by = actor
    session.flush()
    return row
