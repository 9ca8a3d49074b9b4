"""Risks (the rows of a plan, with their assessment history) and the configurable risk matrix:
levels, axis labels and the level of every cell."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from riskreg.auth.models import Unit, User
from riskreg.db import Base, now_utc

if TYPE_CHECKING:
    from riskreg.plans.models import Plan

MATRIX_SIZE = 4


class RiskLevel(Base):
    __tablename__ = "risk_level"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(60))
    colour: Mapped[str] = mapped_column(String(7))
    # Used to give cells their default level: risktal min_value..max_value.
    min_value: Mapped[int]
    max_value: Mapped[int]

    def __str__(self) -> str:
        return self.name


class AxisLabel(Base):
    __tablename__ = "axis_label"
    __table_args__ = (UniqueConstraint("axis", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    axis: Mapped[str] = mapped_column(String(20))  # "probability" or "consequence"
    value: Mapped[int]
    label: Mapped[str] = mapped_column(String(60))


class MatrixCell(Base):
    __tablename__ = "matrix_cell"
    __table_args__ = (UniqueConstraint("probability", "consequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    probability: Mapped[int]
    consequence: Mapped[int]
    level_id: Mapped[int] = mapped_column(ForeignKey("risk_level.id", ondelete="RESTRICT"))
    # None: the cell takes its level's colour.
    colour: Mapped[str | None] = mapped_column(String(7))

    level: Mapped[RiskLevel] = relationship()

    @property
    def effective_colour(self) -> str:
        return self.colour or self.level.colour


# --- risks (rows of a plan) --------------------------------------------------------------------


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
