"""Digests of bulk rows that are not audited row by row (``__audit__ = False``).

A service that writes such rows puts ``rows_digest_change(...)`` into its ``record()`` entry: the
SHA-256 over every row of the group (e.g. one control's hygiene observations) as they stand
after the change. `riskreg audit verify` recomputes the digest of each group from its newest
entry, so a row of the group inserted, changed or deleted by SQL afterwards is found.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.audit.trail import _jsonable, canonical

__all__ = ["DIGEST_KEY", "rows_digest", "rows_digest_change"]

#: The key of the digest in a record() entry's changes.
DIGEST_KEY = "rows_digest"


def rows_digest(session: Session, table: Any, where: dict[str, Any]) -> str:
    """SHA-256 over the group's rows (every column, in primary-key order), one canonical JSON
    line each; ``where`` names the group by column values, e.g. ``{"control_id": 7}``."""
    columns = list(table.c)
    query = (
        select(*columns)
        .where(*(table.c[name] == value for name, value in where.items()))
        .order_by(*table.primary_key.columns)
        .execution_options(yield_per=5000)
    )
    digest = hashlib.sha256()
    for row in session.connection().execute(query):
        line = canonical({c.key: _jsonable(v) for c, v in zip(columns, row, strict=True)})
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def rows_digest_change(session: Session, table: Any, where: dict[str, Any]) -> dict[str, Any]:
    """The value to put under :data:`DIGEST_KEY` in a record() entry's changes."""
    session.flush()
    return {"table": table.name, "where": where, "sha256": rows_digest(session, table, where)}
