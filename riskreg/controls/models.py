"""Controls (granskningar) of a plan's risks, their deviations and the actions they raise."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskreg.auth.models import Unit, User
from riskreg.db import Base, now_utc
from riskreg.glossary import ACTION_STATES, CONTROL_STATES
from riskreg.i18n import N_
from riskreg.risks.models import Risk

if TYPE_CHECKING:
    from riskreg.sampling.models import SampleItem


class CheckType(StrEnum):
    PAYMENTS = "payments"
    PASSCARDS = "passcards"
    HYGIENE = "hygiene"
    REFERRALS = "referrals"
    GENERIC = "generic"


CHECK_TYPE_TITLES = {
    CheckType.PAYMENTS: N_("Utbetalningar till privata vårdgivare"),
    CheckType.PASSCARDS: N_("Passerkort och nycklar"),
    CheckType.HYGIENE: N_("Basala hygienrutiner och klädregler"),
    CheckType.REFERRALS: N_("Remisshantering"),
    CheckType.GENERIC: N_("Övrig granskning"),
}


class ControlStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    READY_FOR_REVIEW = "ready_for_review"
    APPROVED = "approved"


# The words are the glossary's (riskreg.glossary), so every page, report and the audit trail
# name a state alike.
CONTROL_STATUS_TITLES = {status: CONTROL_STATES[status.value] for status in ControlStatus}


class ActionStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    VERIFIED = "verified"


ACTION_STATUS_TITLES = {status: ACTION_STATES[status.value] for status in ActionStatus}


control_controllers = Table(
    "control_controller",
    Base.metadata,
    Column("control_id", ForeignKey("control.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
)


class Control(Base):
    """A review (granskning) of one risk of the plan, run as a sample check."""

    __tablename__ = "control"
    # The list page filters by status and sorts by deadline; "Mitt arbete", the dashboard and
    # the reminder run select the controls that are not approved (issue 15).
    __table_args__ = (
        Index("ix_control_status_deadline", "status", "deadline", "id"),
        Index("ix_control_deadline", "deadline", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risk.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(Text)
    check_type: Mapped[str] = mapped_column(String(20))
    responsible_unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    deadline: Mapped[date]
    # Written before testing starts, as ISA 530 asks: what counts as a deviation.
    deviation_definition: Mapped[str] = mapped_column(Text, default="")
    # For the generic type: the attributes checked per item, one per line.
    attributes_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=ControlStatus.PLANNED.value)
    conclusion: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    risk: Mapped[Risk] = relationship()
    responsible_unit: Mapped[Unit] = relationship()
    controllers: Mapped[list[User]] = relationship(
        secondary=control_controllers, order_by="User.full_name"
    )
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    events: Mapped[list[ControlEvent]] = relationship(
        back_populates="control", order_by="ControlEvent.at", cascade="all, delete-orphan"
    )
    deviations: Mapped[list[Deviation]] = relationship(
        back_populates="control", order_by="Deviation.id", cascade="all, delete-orphan"
    )
    actions: Mapped[list[Action]] = relationship(
        back_populates="control", order_by="Action.due_date", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_enum(self) -> ControlStatus:
        return ControlStatus(self.status)

    @property
    def check_type_enum(self) -> CheckType:
        return CheckType(self.check_type)

    def is_controller(self, user: User) -> bool:
        return any(c.id == user.id for c in self.controllers)

    def __str__(self) -> str:
        return self.title


class ControlEvent(Base):
    """One status transition (or other milestone) of a control: who, when, from, to, why."""

    __tablename__ = "control_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("control.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=now_utc)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    control: Mapped[Control] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class Deviation(Base):
    """An avvikelse found in a control, usually on one sampled item."""

    __tablename__ = "deviation"

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("control.id", ondelete="CASCADE"), index=True
    )
    sample_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("sample_item.id", ondelete="SET NULL"), index=True
    )
    description: Mapped[str] = mapped_column(Text)
    # A recovery claim (återkrav) for payments; amount in öre.
    recovery_claim_ore: Mapped[int | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    control: Mapped[Control] = relationship(back_populates="deviations")
    # The sampled item it was found on (resolved by name: sampling's models build on these).
    sample_item: Mapped[SampleItem | None] = relationship("SampleItem")
    actions: Mapped[list[Action]] = relationship(back_populates="deviation", order_by="Action.id")
    created_by: Mapped[User | None] = relationship()


class Action(Base):
    """An åtgärd: owned by a unit, due on a date; the unit answers, the controller verifies."""

    __tablename__ = "action"
    # The reminder run selects the open actions, the list page filters by status and overdue
    # (due_date < today) and sorts by due date, then id (issue 15).
    __table_args__ = (
        Index("ix_action_status_due", "status", "due_date", "id"),
        Index("ix_action_due_date", "due_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("control.id", ondelete="CASCADE"), index=True
    )
    deviation_id: Mapped[int | None] = mapped_column(
        ForeignKey("deviation.id", ondelete="SET NULL"), index=True
    )
    owner_unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.OPEN.value)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None]
    verification_note: Mapped[str] = mapped_column(Text, default="")
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    version: Mapped[int] = mapped_column(default=1)
    #: The one-time token of the "new action" form that created it: the same form sent twice
    #: (a double click, a resent POST) creates one action (riskreg.controls.services.raise_action).
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    control: Mapped[Control] = relationship(back_populates="actions")
    deviation: Mapped[Deviation | None] = relationship(back_populates="actions")
    owner_unit: Mapped[Unit] = relationship()
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    evidence: Mapped[list[ActionEvidence]] = relationship(
        back_populates="action", order_by="ActionEvidence.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_enum(self) -> ActionStatus:
        return ActionStatus(self.status)

    @property
    def is_done(self) -> bool:
        return self.status == ActionStatus.VERIFIED


class ActionEvidence(Base):
    """A file the owner unit attaches to its answer (e.g. the recovery invoice). Stored in the
    evidence folder under its SHA-256, like the evidence of sampled items."""

    __tablename__ = "action_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("action.id", ondelete="CASCADE"), index=True
    )
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=now_utc)

    action: Mapped[Action] = relationship(back_populates="evidence")
    uploaded_by: Mapped[User | None] = relationship()
