"""Write an audit entry for every ORM change, inside the same flush and transaction.

Listening on the session (rather than asking each service to remember) means no feature can
forget to log. Tables that receive bulk data (population rows) opt out with `__audit__ = False`
and their services log one summary entry with `record()` instead.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event, insert, inspect, select, text
from sqlalchemy.orm import Session

from riskreg.audit import context
from riskreg.audit.models import AuditEntry
from riskreg.db import now_utc, table_of

GENESIS_HASH = "0" * 64
REDACTED = "[dold]"
_PG_LOCK_KEY = 7_411_022  # any constant; all writers of the chain take the same lock


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + payload).encode("utf-8")).hexdigest()


def _identity(obj: Any) -> str:
    state = inspect(obj)
    ident = state.identity
    if ident is None:
        # A row inserted in this flush gets its identity key only after after_flush; its
        # primary key attributes already hold the values the database assigned.
        ident = tuple(state.mapper.primary_key_from_instance(obj))
        if any(part is None for part in ident):
            return "?"
    return ":".join(str(part) for part in ident)


def _collection_changes(obj: Any, action: str) -> dict[str, list[Any]]:
    """Many-to-many collections a model lists in ``__audit_collections__`` (e.g. a user's
    units, which decide what the user may see), as sorted lists of the members' str()."""
    names = getattr(obj, "__audit_collections__", ())
    if not names or action == "delete":
        return {}
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    for name in names:
        hist = state.attrs[name].history
        if action == "create":
            members = sorted(str(member) for member in getattr(obj, name))
            if members:
                changes[name] = [None, members]
        elif hist.has_changes():
            old = sorted(str(m) for m in (*hist.unchanged, *hist.deleted))
            new = sorted(str(m) for m in (*hist.unchanged, *hist.added))
            if old != new:
                changes[name] = [old, new]
    return changes


def _object_changes(obj: Any, action: str) -> dict[str, list[Any]]:
    state = inspect(obj)
    redact: frozenset[str] = getattr(obj, "__audit_redact__", frozenset())
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key == "version":
            continue
        hist = state.attrs[key].history
        if action == "create":
            new = getattr(obj, key)
            if new is None:
                continue
            changes[key] = [None, REDACTED if key in redact else _jsonable(new)]
        elif action == "delete":
            old = (
                hist.unchanged[0] if hist.unchanged else (hist.deleted[0] if hist.deleted else None)
            )
            if old is None:
                continue
            changes[key] = [REDACTED if key in redact else _jsonable(old), None]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old == new:
                continue
            if key in redact:
                changes[key] = [REDACTED, REDACTED]
            else:
                changes[key] = [_jsonable(old), _jsonable(new)]
    return changes


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _last_entry(session: Session) -> tuple[int, str]:
    """The newest entry's number and hash (0 and the genesis hash for an empty trail)."""
    row = (
        session.connection()
        .execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
        .first()
    )
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def _write(session: Session, entries: list[dict[str, Any]]) -> None:
    """Append entries under the chain lock, numbered on from the newest one.

    The entry number is assigned here, not by a database sequence: a PostgreSQL sequence skips
    the numbers of rolled-back transactions, and then a gap would prove nothing. Assigned under
    the lock, the numbers are 1, 2, 3, … without holes, so `riskreg audit verify` can report
    any missing number as a deleted entry.
    """
    if not entries:
        return
    _lock_chain(session)
    number, prev = _last_entry(session)
    conn = session.connection()
    for entry in entries:
        payload = canonical(entry)
        digest = chain_hash(prev, payload)
        number += 1
        conn.execute(
            insert(table_of(AuditEntry)).values(
                id=number,
                at=datetime.fromisoformat(entry["at"]),
                actor_id=entry["actor_id"],
                actor_name=entry["actor_name"],
                ip=entry["ip"],
                action=entry["action"],
                object_type=entry["object_type"],
                object_id=entry["object_id"],
                reason=entry["reason"],
                payload=payload,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest


def _entry(
    action: str, object_type: str, object_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    ctx = context.current()
    return {
        "at": now_utc().isoformat(),
        "actor_id": ctx.actor_id,
        "actor_name": ctx.actor_name,
        "ip": ctx.ip,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "reason": ctx.reason,
        "changes": changes,
    }


def record(
    session: Session,
    action: str,
    object_type: str,
    object_id: str | int,
    changes: dict[str, Any] | None = None,
) -> None:
    """Log an event that is not a plain row change (an import, a draw, a signature)."""
    session.flush()
    _write(
        session,
        [
            _entry(
                action,
                object_type,
                str(object_id),
                {k: _jsonable(v) for k, v in (changes or {}).items()},
            )
        ],
    )


def _audited(obj: Any) -> bool:
    return getattr(type(obj), "__audit__", True)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    entries: list[dict[str, Any]] = []
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            if not _audited(obj):
                continue
            collections = _collection_changes(obj, action)
            if (
                action == "update"
                and not collections
                and not session.is_modified(obj, include_collections=False)
            ):
                continue
            changes = {**_object_changes(obj, action), **collections}
            if action == "update" and not changes:
                continue
            entries.append(_entry(action, type(obj).__tablename__, _identity(obj), changes))
    _write(session, entries)


def verify_chain(session: Session) -> tuple[int, str | None]:
    """Walk the chain in order. Returns (entries checked, description of the first broken link).

    Only the links: a trail cut short or recomputed after an edit passes. `riskreg audit
    verify` uses riskreg/audit/verify.py, which also checks numbering, checkpoints and the
    tables.
    """
    prev = GENESIS_HASH
    checked = 0
    rows = session.scalars(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=5000)
    )
    try:
        for entry in rows:
            checked += 1
            broken = _broken_link(entry, prev)
            if broken:
                return checked, broken
            prev = entry.hash
    finally:
        rows.close()  # a server-side cursor on PostgreSQL
    return checked, None


def _broken_link(entry: AuditEntry, prev: str) -> str | None:
    if entry.prev_hash != prev:
        return f"post {entry.id}: föregående hash stämmer inte (kedjan bruten)"
    if chain_hash(prev, entry.payload) != entry.hash:
        return f"post {entry.id}: innehållet har ändrats efter att det skrevs"
    data = json.loads(entry.payload)
    mirrored = {
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "reason": entry.reason,
        "at": entry.at.isoformat(),
    }
    for key, value in mirrored.items():
        if data.get(key) != value:
            return f"post {entry.id}: kolumnen {key} stämmer inte med den hashade posten"
    return None
