"""Constraint and index names fit PostgreSQL's 63 characters (issue 13, item 8).

PostgreSQL truncates a longer identifier without an error; Alembic then sees a difference
between the models and the database at every autogenerate.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, MetaData, Table
from sqlalchemy.sql.naming import _constraint_name_for_table  # the convention, untruncated

import riskreg.models  # noqa: F401 - the full metadata
from riskreg.db import Base

POSTGRES_MAX = 63


def _names(metadata: MetaData) -> list[str]:
    """Every constraint and index name in full, as the naming convention builds it.

    SQLAlchemy itself would shorten an over-long convention name with a hash when it renders
    DDL, but the migrations carry the full name, so the full name is what must fit.
    """
    found = []
    for table in metadata.tables.values():
        for item in [*table.constraints, *table.indexes]:
            name = _constraint_name_for_table(item, table) or item.name
            if name:
                found.append(str(name))
    return found


def test_every_constraint_and_index_name_fits_postgresql() -> None:
    names = _names(Base.metadata)
    assert len(names) > 20  # the conventions named the keys, checks and indexes
    too_long = [name for name in names if len(name) > POSTGRES_MAX]
    assert not too_long, too_long


def test_a_long_name_is_caught() -> None:
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    from sqlalchemy import Column, Integer

    Table(
        "a_table_with_a_rather_long_name_for_the_check",
        metadata,
        Column("id", Integer, primary_key=True),
        CheckConstraint("id > 0", name="and_a_long_constraint_name_too"),
    )
    assert [n for n in _names(metadata) if len(n) > POSTGRES_MAX]
