"""Organisations, yearly internal control plans and their risks."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from riskreg.auth.models import Unit, User
from riskreg.db import Base, now_utc
from riskreg.i18n import N_


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


class Risk(Base):
    """A row of the plan: a risk with its assessment and how it is to be reviewed."""

    __tablename__ = "risk"
    __table_args__ = (
        CheckConstraint("probability BETWEEN 1 AND 4", name="probability_range"),
        CheckConstraint("consequence BETWEEN 1 AND 4", name="consequence_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    section: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    review_area: Mapped[str] = mapped_column(Text, default="")
    regulation: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(Text, default="")
    probability: Mapped[int]
    consequence: Mapped[int]
    deadline: Mapped[date | None]
    responsible_unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    version: Mapped[int] = mapped_column(default=1)

    plan: Mapped[Plan] = relationship(back_populates="risks")
    responsible_unit: Mapped[Unit] = relationship()
    assessments: Mapped[list[RiskAssessment]] = relationship(
        back_populates="risk",
        order_by="RiskAssessment.changed_at.desc()",
        cascade="all, delete-orphan",
    )

    __mapper_args__ = {"version_id_col": version}

    @hybrid_property
    def risk_value(self) -> int:
        return self.probability * self.consequence

    @risk_value.inplace.expression
    @classmethod
    def _risk_value_expression(cls) -> ColumnElement[int]:
        return cls.probability * cls.consequence

    def __str__(self) -> str:
        return self.title


class RiskAssessment(Base):
    """One step of a risk's assessment history (S and K, old to new, by whom and why)."""

    __tablename__ = "risk_assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risk.id", ondelete="CASCADE"), index=True)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=now_utc)
    old_probability: Mapped[int | None]
    old_consequence: Mapped[int | None]
    new_probability: Mapped[int]
    new_consequence: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")

    risk: Mapped[Risk] = relationship(back_populates="assessments")
    changed_by: Mapped[User | None] = relationship()

    @property
    def old_value(self) -> int | None:
        if self.old_probability is None or self.old_consequence is None:
            return None
        return self.old_probability * self.old_consequence

    @property
    def new_value(self) -> int:
        return self.new_probability * self.new_consequence


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
