"""Reminder policy (one row), the send log and the in-app notifications.

The send log is also the lock that keeps two runs from sending the same reminder: its
``dedup_key`` is UNIQUE, and a run inserts its rows *before* it talks to the SMTP server (state
``claimed``). See :mod:`riskreg.reminders.services` for the protocol.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskreg.auth.models import Unit, User
from riskreg.db import Base, now_utc
from riskreg.reminders.policy import ReminderPolicy

POLICY_ROW_ID = 1


class ReminderPolicySetting(Base):
    """The organisation's reminder policy: exactly one row (id 1), edited by administrators.

    Changes are audited like any other row. ``days_before`` is stored as "14,3" (the dataclass
    validates it); ``None`` in the nullable columns switches that part off.
    """

    __tablename__ = "reminder_policy"
    __table_args__ = (CheckConstraint(f"id = {POLICY_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    days_before: Mapped[str] = mapped_column(String(100), default="14,3")
    on_due_date: Mapped[bool] = mapped_column(default=True)
    repeat_overdue_every_days: Mapped[int | None] = mapped_column(default=7)
    escalate_after_days: Mapped[int | None] = mapped_column(default=14)
    repeat_escalation_every_days: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)

    updated_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def to_policy(self) -> ReminderPolicy:
        days = tuple(int(part) for part in self.days_before.split(",") if part.strip())
        return ReminderPolicy(
            days_before=days,
            on_due_date=self.on_due_date,
            repeat_overdue_every_days=self.repeat_overdue_every_days,
            escalate_after_days=self.escalate_after_days,
            repeat_escalation_every_days=self.repeat_escalation_every_days,
        )


class LogState(StrEnum):
    CLAIMED = "claimed"  # a run is sending it right now (or crashed doing so)
    SENT = "sent"  # the SMTP server accepted the digest that carried it
    FAILED = "failed"  # the server was down or refused it; the next run tries again


class SentReminder(Base):
    """One reminder (item, reason, due date, recipient) and what became of it.

    A row exists from the moment a run claims the reminder. Only rows in state ``sent`` were
    accepted by the SMTP server; ``failed`` rows carry the server's answer and are retried by
    the next run (which claims them again); a ``claimed`` row older than the claim timeout was
    left by a run that crashed and may be claimed again too.

    Not audited row by row (a run writes thousands); each run writes one audit entry.
    """

    __tablename__ = "reminder_log"
    __audit__ = False
    __table_args__ = (Index("ix_reminder_log_item", "item_kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    state: Mapped[str] = mapped_column(String(10))
    # Not indexed: every row of a run has the same value, and an index on it would lure
    # SQLite away from the dedup_key index in the updates that mark a run's rows.
    run_id: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=1)
    claimed_at: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    recipient_address: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="SET NULL"), index=True
    )
    item_kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[int]
    item_title: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(12))
    reason_detail: Mapped[int]
    due_date: Mapped[date]
    scheduled_on: Mapped[date]
    smtp_code: Mapped[int | None]
    smtp_result: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(250))

    user: Mapped[User | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


class Notification(Base):
    """A reminder as the user sees it in riskreg: one per item and digest sent to the user."""

    __tablename__ = "notification"
    __audit__ = False
    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    run_id: Mapped[str] = mapped_column(String(32))
    item_kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    unit_code: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(String(12))
    due_date: Mapped[date]
    url_path: Mapped[str] = mapped_column(String(200))
    read_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
