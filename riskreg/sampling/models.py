"""Populations, sample plans, draws and the result of every sampled item (ISA 530)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskreg.auth.models import User
from riskreg.controls.models import Control
from riskreg.db import Base, now_utc
from riskreg.i18n import N_


class SamplingMethod(StrEnum):
    ATTRIBUTE = "attribute"
    MUS = "mus"
    NON_STATISTICAL = "non_statistical"


class SelectionMethod(StrEnum):
    SIMPLE_RANDOM = "simple_random"
    SYSTEMATIC = "systematic"
    STRATIFIED = "stratified"
    MUS_FIXED_INTERVAL = "mus_fixed_interval"
    MUS_CELL = "mus_cell"


class ItemResult(StrEnum):
    OK = "ok"
    DEVIATION = "deviation"
    NOT_ASSESSABLE = "not_assessable"


ITEM_RESULT_TITLES = {
    ItemResult.OK: N_("OK"),
    ItemResult.DEVIATION: N_("Avvikelse"),
    ItemResult.NOT_ASSESSABLE: N_("Ej bedömbar"),
}


class Population(Base):
    """An imported population file: what was sampled from, with its fingerprint."""

    __tablename__ = "population"

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("control.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(Text, default="")
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int]
    total_amount_ore: Mapped[int | None] = mapped_column(BigInteger)
    # The column names of the file, JSON; the generic type defines its own.
    columns_json: Mapped[str] = mapped_column(Text, default="[]")
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(default=now_utc)
    # A replaced population stays for the record; only the newest is current.
    superseded: Mapped[bool] = mapped_column(default=False)

    control: Mapped[Control] = relationship()
    imported_by: Mapped[User | None] = relationship()


class PopulationItem(Base):
    """One row of a population. Bulk data: audited as one import entry, not row by row."""

    __tablename__ = "population_item"
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("population_id", "record_key"),
        # The draw and the worksheet read a population in file order (issue 15).
        Index("ix_population_item_population_line", "population_id", "line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    population_id: Mapped[int] = mapped_column(ForeignKey("population.id", ondelete="CASCADE"))
    line: Mapped[int]
    record_key: Mapped[str] = mapped_column(String(200))
    amount_ore: Mapped[int | None] = mapped_column(BigInteger)
    stratum: Mapped[str | None] = mapped_column(String(60))
    data_json: Mapped[str] = mapped_column(Text, default="{}")


class SamplePlan(Base):
    """How big the sample must be and why."""

    __tablename__ = "sample_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("control.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    tolerable_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    expected_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    population_size: Mapped[int | None]
    book_value_ore: Mapped[int | None] = mapped_column(BigInteger)
    tolerable_misstatement_ore: Mapped[int | None] = mapped_column(BigInteger)
    expected_misstatement_ore: Mapped[int | None] = mapped_column(BigInteger)
    sample_size: Mapped[int]
    allowed_deviations: Mapped[int | None]
    interval_ore: Mapped[int | None] = mapped_column(BigInteger)
    justification: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    superseded: Mapped[bool] = mapped_column(default=False)

    control: Mapped[Control] = relationship()
    created_by: Mapped[User | None] = relationship()


class SampleDraw(Base):
    """One drawing of a sample. The seed is stored (and audited) before any item is selected."""

    __tablename__ = "sample_draw"
    # One current draw per control, whatever the application does: a second concurrent
    # "Dra urval" that got past the row lock would fail here instead of leaving two.
    __table_args__ = (
        Index(
            "uq_sample_draw_current",
            "control_id",
            unique=True,
            postgresql_where=text("NOT superseded"),
            sqlite_where=text("NOT superseded"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("control.id", ondelete="CASCADE"), index=True
    )
    population_id: Mapped[int] = mapped_column(ForeignKey("population.id", ondelete="RESTRICT"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("sample_plan.id", ondelete="SET NULL"))
    seed: Mapped[str] = mapped_column(String(128))
    selection_method: Mapped[str] = mapped_column(String(30))
    parameters_json: Mapped[str] = mapped_column(Text, default="{}")
    sample_size: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="seeded")  # seeded -> drawn
    reason: Mapped[str] = mapped_column(
        Text, default=""
    )  # why a later draw replaced an earlier one
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    drawn_at: Mapped[datetime] = mapped_column(default=now_utc)
    superseded: Mapped[bool] = mapped_column(default=False)

    control: Mapped[Control] = relationship()
    population: Mapped[Population] = relationship()
    plan: Mapped[SamplePlan | None] = relationship()
    drawn_by: Mapped[User | None] = relationship()
    items: Mapped[list[SampleItem]] = relationship(
        back_populates="draw", order_by="SampleItem.position", cascade="all, delete-orphan"
    )


class SampleItem(Base):
    """A sampled record and what the controller found when checking it."""

    __tablename__ = "sample_item"
    __table_args__ = (Index("ix_sample_item_draw_position", "draw_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draw.id", ondelete="CASCADE"))
    population_item_id: Mapped[int] = mapped_column(
        ForeignKey("population_item.id", ondelete="RESTRICT")
    )
    position: Mapped[int]
    stratum: Mapped[str | None] = mapped_column(String(60))
    selection_point_ore: Mapped[int | None] = mapped_column(BigInteger)
    top_stratum: Mapped[bool] = mapped_column(default=False)
    result: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    # Monetary-unit sampling: the amount the controller found correct.
    audited_amount_ore: Mapped[int | None] = mapped_column(BigInteger)
    assessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    assessed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    draw: Mapped[SampleDraw] = relationship(back_populates="items")
    population_item: Mapped[PopulationItem] = relationship()
    assessed_by: Mapped[User | None] = relationship()
    attribute_results: Mapped[list[AttributeResult]] = relationship(
        back_populates="item", order_by="AttributeResult.id", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="item", order_by="Evidence.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class AttributeResult(Base):
    """The result of one checked attribute of a sampled item."""

    __tablename__ = "attribute_result"
    __table_args__ = (UniqueConstraint("item_id", "attribute"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("sample_item.id", ondelete="CASCADE"))
    attribute: Mapped[str] = mapped_column(String(100))
    result: Mapped[str] = mapped_column(String(20))

    item: Mapped[SampleItem] = relationship(back_populates="attribute_results")


class Evidence(Base):
    """A file attached to a sampled item, stored under instance/ with its SHA-256."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("sample_item.id", ondelete="CASCADE"), index=True
    )
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=now_utc)

    item: Mapped[SampleItem] = relationship(back_populates="evidence")


class HygieneObservation(Base):
    """One PPM-BHK observation: unit, profession and eight steps, each J / N / EA."""

    __tablename__ = "hygiene_observation"
    __audit__ = False  # entered in bulk; the services log each entry or import as one event

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("control.id", ondelete="CASCADE"), index=True
    )
    unit_name: Mapped[str] = mapped_column(String(200))
    profession: Mapped[str] = mapped_column(String(100))
    observed_on: Mapped[date]
    kind: Mapped[str] = mapped_column(String(20), default="observation")  # or self_assessment
    steps: Mapped[str] = mapped_column(String(40))  # eight values "J,N,EA,..." in step order
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
