"""The send log as the administrators and auditors read it (filters and the query)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    Select,
    func,
    select,
)
from sqlalchemy.orm import selectinload

from riskreg.reminders.decide import (
    STOCKHOLM,
)
from riskreg.reminders.models import (
    SentReminder,
)

# --- the log ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    unit_id: int | None = None
    recipient: str = ""
    kind: str = ""
    reason: str = ""
    state: str = ""
    item_id: int | None = None


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=STOCKHOLM).astimezone(dt.UTC)


def log_query(flt: LogFilter) -> Select[SentReminder]:
    """The send log, newest first; dates are Stockholm days of the (last) attempt."""
    query = select(SentReminder).options(selectinload(SentReminder.unit))
    if flt.date_from:
        query = query.where(SentReminder.claimed_at >= _day_start(flt.date_from))
    if flt.date_to:
        query = query.where(
            SentReminder.claimed_at < _day_start(flt.date_to + dt.timedelta(days=1))
        )
    if flt.unit_id:
        query = query.where(SentReminder.unit_id == flt.unit_id)
    if flt.recipient.strip():
        query = query.where(
            func.lower(SentReminder.recipient_address).contains(flt.recipient.strip().lower())
        )
    if flt.kind:
        query = query.where(SentReminder.item_kind == flt.kind)
    if flt.item_id:
        query = query.where(SentReminder.item_id == flt.item_id)
    if flt.reason:
        query = query.where(SentReminder.reason == flt.reason)
    if flt.state:
        query = query.where(SentReminder.state == flt.state)
    return query.order_by(SentReminder.claimed_at.desc(), SentReminder.id.desc())
