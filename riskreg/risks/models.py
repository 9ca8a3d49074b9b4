"""The configurable risk matrix: levels, axis labels and the level of every cell."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskreg.db import Base

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
