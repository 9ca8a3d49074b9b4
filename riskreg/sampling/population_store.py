"""Writing population rows fast: ``COPY`` on PostgreSQL, a plain ``executemany`` on SQLite.

Why not Core ``INSERT``: SQLAlchemy's insertmanyvalues builds a multi-row ``VALUES`` statement
per page and, on PostgreSQL, made the import 0.28× the speed of a bare ``executemany`` (issue 15,
BENCHMARKS.md). ``COPY ... FROM STDIN`` streams the rows in PostgreSQL's own format instead.

Both write through the session's own DBAPI connection, i.e. inside the caller's transaction:
the import stays all-or-nothing (a failure later rolls the copied rows back with everything
else). ``population_item`` is a bulk table (``__audit__ = False``); the import writes one
audit entry for the whole file, so bypassing the ORM here loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

__all__ = ["COLUMNS", "ItemRow", "write_items"]

#: The columns written, in the order of an :data:`ItemRow`.
COLUMNS = ("population_id", "line", "record_key", "amount_ore", "stratum", "data_json")

#: One row: population id, line, record key, amount in öre (or None), stratum, JSON payload.
ItemRow = tuple[int, int, str, int | None, str | None, str]

_COPY = (
    "COPY population_item (population_id, line, record_key, amount_ore, stratum, data_json) "
    "FROM STDIN"
)
_INSERT = (
    "INSERT INTO population_item (population_id, line, record_key, amount_ore, stratum, "
    "data_json) VALUES (?, ?, ?, ?, ?, ?)"
)


def write_items(session: Session, rows: Sequence[ItemRow]) -> None:
    """Insert ``rows`` into ``population_item`` in the session's transaction."""
    if not rows:
        return
    connection: Any = session.connection().connection.dbapi_connection
    if session.get_bind().dialect.name == "postgresql":
        with connection.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor = connection.cursor()
        try:
            cursor.executemany(_INSERT, rows)
        finally:
            cursor.close()
