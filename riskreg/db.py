"""Declarative base, constraint naming and time helpers shared by every feature package."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, MetaData, Table, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, registry

# Named constraints make Alembic autogenerate deterministic on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now_utc() -> datetime:
    return datetime.now(UTC)


#: Where the register's dates are: deadlines, due dates and decision dates are Swedish days.
#: The one place the zone is named; config, display and reports take it from here.
LOCAL_TIMEZONE_NAME = "Europe/Stockholm"
LOCAL_TIMEZONE = ZoneInfo(LOCAL_TIMEZONE_NAME)


def local_date(now: datetime) -> date:
    """The calendar date in Sweden at the instant ``now``.

    ``now`` must be timezone-aware: a naive datetime is ambiguous (server clocks run in UTC,
    developers' laptops do not). Rules such as "not in the past" compare with this date, not
    ``now.date()``: between 22:00/23:00 UTC and midnight the UTC date is still yesterday in
    Sweden. Converting through the tz database gets DST right: 2025-03-30T22:30Z is 00:30 on
    31 March in Stockholm (CEST, +02:00), 2025-10-26T22:30Z is still 23:30 on 26 October.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    return now.astimezone(LOCAL_TIMEZONE).date()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite drops the offset, so values are normalised to UTC on the way in and re-tagged on the
    way out; naive datetimes are refused because their meaning would depend on the server.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use now_utc() or an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # One registry carrying both settings: Flask-SQLAlchemy subclasses this base, and SQLAlchemy
    # refuses a subclass that sees a registry and a separate type_annotation_map.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime},
    )


def table_of(model: type[Base]) -> Table:
    """The Core ``Table`` a mapped class is declared on, for Core inserts and updates.

    Declarative types ``__table__`` as a ``FromClause`` (a class may map a join or a select);
    every riskreg model maps exactly one table, so this only tells the type checker so.
    """
    return cast(Table, model.__table__)
