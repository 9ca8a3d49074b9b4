"""Organisations, yearly internal control plans and their risks."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskreg.auth.models import User
from riskreg.db import Base, now_utc
from riskreg.i18n import N_
from riskreg.risks.models import Risk


class Section(StrEnum):
    REGION = "region"
    ADMINISTRATION = "administration"


SECTION_TITLES = {
    Section.REGION: N_("Regionövergripande kontrollområden"),
    Section.ADMINISTRATION: N_("Förvaltningens kontrollområden"),
}


class PlanStatus(StrEnum):
    DRAFT = "draft"
    ADOPTED = "adopted"


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    plans: Mapped[list[Plan]] = relationship(back_populates="organisation", order_by="Plan.year")

    def __str__(self) -> str:
        return self.name


class Plan(Base):
    """An internkontrollplan: one organisation's plan for one year."""

    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("organisation_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    year: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=PlanStatus.DRAFT.value)
    decision_date: Mapped[date | None]
    decision_body: Mapped[str | None] = mapped_column(String(200))
    decision_paragraph: Mapped[str | None] = mapped_column(String(40))
    diary_number: Mapped[str | None] = mapped_column(String(60))
    adopted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    adopted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    version: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation] = relationship(back_populates="plans")
    adopted_by: Mapped[User | None] = relationship()
    risks: Mapped[list[Risk]] = relationship(
        back_populates="plan", order_by="Risk.position", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_adopted(self) -> bool:
        return self.status == PlanStatus.ADOPTED

    def __str__(self) -> str:
        return f"{self.organisation.name} {self.year}"


class PlanAmendment(Base):
    """A change made to a plan after it was adopted, with the reason given for it."""

    __tablename__ = "plan_amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risk.id", ondelete="SET NULL"))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=now_utc)
    summary: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)

    plan: Mapped[Plan] = relationship()
    changed_by: Mapped[User | None] = relationship()
