"""The send log as the arbiter: claim, release and mark reminders.

The protocol of one run is described in :mod:`riskreg.reminders.services`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import (
    CursorResult,
    Result,
    and_,
    bindparam,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from riskreg.db import UTCDateTime, table_of
from riskreg.reminders.decide import (
    DueReminder,
)
from riskreg.reminders.digest import OutgoingDigest
from riskreg.reminders.models import (
    LogState,
    Notification,
    SentReminder,
)
from riskreg.reminders.smtp import SendResult

T = TypeVar("T")

DEFAULT_CLAIM_TIMEOUT = dt.timedelta(minutes=60)
_CHUNK = 500


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched: DML statements run through a ``CursorResult``, which counts them."""
    return cast("CursorResult[Any]", result).rowcount or 0


# --- the send log as the arbiter -------------------------------------------------------------


def _chunks(values: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def blocking_keys(
    session: Session, keys: Iterable[str], *, now: dt.datetime, claim_timeout: dt.timedelta
) -> set[str]:
    """The keys among ``keys`` that must not be sent: sent, or claimed by a live run."""
    table = table_of(SentReminder)
    cutoff = now - claim_timeout
    wanted = sorted(set(keys))
    found: set[str] = set()
    for chunk in _chunks(wanted):
        found.update(
            session.scalars(
                select(table.c.dedup_key).where(
                    table.c.dedup_key.in_(chunk),
                    or_(
                        table.c.state == LogState.SENT.value,
                        and_(
                            table.c.state == LogState.CLAIMED.value,
                            table.c.claimed_at >= cutoff,
                        ),
                    ),
                )
            )
        )
    return found


def _log_row(reminder: DueReminder, run_id: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "dedup_key": reminder.dedup_key,
        "state": LogState.CLAIMED.value,
        "run_id": run_id,
        "attempts": 1,
        "claimed_at": now,
        "sent_at": None,
        "recipient_address": reminder.recipient.key_address,
        "recipient_name": reminder.recipient.name[:200],
        "user_id": reminder.recipient.user_id,
        "unit_id": reminder.item.owner_unit_id,
        "item_kind": reminder.item.kind,
        "item_id": reminder.item.item_id,
        "item_title": reminder.item.title,
        "reason": reminder.reason,
        "reason_detail": reminder.reason_detail,
        "due_date": reminder.due_date,
        "scheduled_on": reminder.scheduled_on,
        "smtp_code": None,
        "smtp_result": "",
        "message_id": None,
    }


_PG_CHUNK = 5000

# One statement per chunk with one array parameter per column: psycopg then parses a dozen
# placeholders instead of tens of thousands (a multi-row VALUES list), which made the claim the
# slowest step on PostgreSQL. Rows are inserted in array order, i.e. sorted by key, so two runs
# meet their common keys in the same order and cannot deadlock.
_PG_CLAIM = text(
    """
    INSERT INTO reminder_log (
        dedup_key, state, run_id, attempts, claimed_at, recipient_address, recipient_name,
        user_id, unit_id, item_kind, item_id, item_title, reason, reason_detail, due_date,
        scheduled_on, smtp_result
    )
    SELECT v.dedup_key, :state, :run_id, 1, :claimed_at, v.recipient_address, v.recipient_name,
        v.user_id, v.unit_id, v.item_kind, v.item_id, v.item_title, v.reason, v.reason_detail,
        v.due_date, v.scheduled_on, ''
    FROM unnest(
        CAST(:dedup_key AS varchar[]), CAST(:recipient_address AS varchar[]),
        CAST(:recipient_name AS varchar[]), CAST(:user_id AS integer[]),
        CAST(:unit_id AS integer[]), CAST(:item_kind AS varchar[]), CAST(:item_id AS integer[]),
        CAST(:item_title AS text[]), CAST(:reason AS varchar[]),
        CAST(:reason_detail AS integer[]), CAST(:due_date AS date[]),
        CAST(:scheduled_on AS date[])
    ) WITH ORDINALITY AS v(
        dedup_key, recipient_address, recipient_name, user_id, unit_id, item_kind, item_id,
        item_title, reason, reason_detail, due_date, scheduled_on, n
    )
    ORDER BY v.n
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING dedup_key
    """
).bindparams(bindparam("claimed_at", type_=UTCDateTime()))

_PG_COLUMNS = (
    "dedup_key",
    "recipient_address",
    "recipient_name",
    "user_id",
    "unit_id",
    "item_kind",
    "item_id",
    "item_title",
    "reason",
    "reason_detail",
    "due_date",
    "scheduled_on",
)


def _pg_claim_insert(
    session: Session, reminders: Sequence[DueReminder], run_id: str, now: dt.datetime
) -> list[str]:
    rows = [_log_row(r, run_id, now) for r in reminders]
    params: dict[str, Any] = {name: [row[name] for row in rows] for name in _PG_COLUMNS}
    params.update(state=LogState.CLAIMED.value, run_id=run_id, claimed_at=now)
    return list(session.execute(_PG_CLAIM, params).scalars())


def claim_reminders(
    session: Session,
    reminders: Sequence[DueReminder],
    *,
    run_id: str,
    now: dt.datetime,
    claim_timeout: dt.timedelta = DEFAULT_CLAIM_TIMEOUT,
) -> list[DueReminder]:
    """Claim the reminders for this run; return those this run won (in input order).

    Must be committed by the caller before anything is sent: an uncommitted claim protects
    nothing from a run on another host. See the module docstring.
    """
    if not reminders:
        return []
    by_key = {r.dedup_key: r for r in reminders}
    keys = sorted(by_key)
    table = table_of(SentReminder)
    dialect = session.get_bind().dialect.name
    won: set[str] = set()
    if dialect == "postgresql":
        for chunk in _chunks(keys, _PG_CHUNK):
            won.update(_pg_claim_insert(session, [by_key[k] for k in chunk], run_id, now))
    elif dialect == "sqlite":
        insert_stmt = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(table.c.dedup_key)
        )
        for chunk in _chunks(keys):
            rows = [_log_row(by_key[k], run_id, now) for k in chunk]
            won.update(session.execute(insert_stmt, rows).scalars().all())
    else:  # pragma: no cover - riskreg supports these two
        raise RuntimeError(f"reminder runs need PostgreSQL or SQLite, not {dialect}")

    # Take over failed attempts and claims of crashed runs; the WHERE lets one run win.
    cutoff = now - claim_timeout
    rest = [k for k in keys if k not in won]
    for chunk in _chunks(rest):
        won.update(
            session.execute(
                update(table)
                .where(
                    table.c.dedup_key.in_(chunk),
                    or_(
                        table.c.state == LogState.FAILED.value,
                        and_(
                            table.c.state == LogState.CLAIMED.value,
                            table.c.claimed_at < cutoff,
                        ),
                    ),
                )
                .values(
                    state=LogState.CLAIMED.value,
                    run_id=run_id,
                    claimed_at=now,
                    attempts=table.c.attempts + 1,
                    sent_at=None,
                    smtp_code=None,
                    smtp_result="",
                    message_id=None,
                )
                .returning(table.c.dedup_key)
            )
            .scalars()
            .all()
        )
    return [r for r in reminders if r.dedup_key in won]


def release_claims(
    session: Session, keys: Iterable[str], *, run_id: str, error: str, code: int | None = None
) -> int:
    """Mark this run's claims of ``keys`` as failed (not sent; the next run retries them)."""
    table = table_of(SentReminder)
    count = 0
    for chunk in _chunks(sorted(set(keys))):
        result = session.execute(
            update(table)
            .where(
                table.c.dedup_key.in_(chunk),
                table.c.run_id == run_id,
                table.c.state == LogState.CLAIMED.value,
            )
            .values(state=LogState.FAILED.value, smtp_code=code, smtp_result=error[:2000])
        )
        count += _rowcount(result)
    return count


# Per digest, with the keys as one array: "dedup_key = ANY(...)" is answered from the unique
# index whatever the table statistics say. (A join against unnest() of all keys was planned as
# a nested loop over a sequential scan when the statistics were stale: minutes, not seconds.)
_PG_MARK_SENT = text(
    """
    UPDATE reminder_log
    SET state = :sent, sent_at = :sent_at, smtp_code = 250, smtp_result = :result,
        message_id = :message_id
    WHERE dedup_key = ANY(CAST(:keys AS varchar[])) AND run_id = :run_id AND state = :claimed
    """
).bindparams(bindparam("sent_at", type_=UTCDateTime()))


def _mark_sent(
    session: Session,
    accepted: Sequence[tuple[Sequence[str], str | None]],
    *,
    run_id: str,
    now: dt.datetime,
) -> int:
    """Mark this run's claims as sent: per accepted digest, its keys and its Message-ID."""
    # smtplib raises unless the server answered DATA with 250, so an accepted digest got 250.
    count = 0
    if session.get_bind().dialect.name == "postgresql":
        for keys, message_id in accepted:
            result = session.execute(
                _PG_MARK_SENT,
                {
                    "sent": LogState.SENT.value,
                    "claimed": LogState.CLAIMED.value,
                    "run_id": run_id,
                    "sent_at": now,
                    "result": "250 accepted",
                    "message_id": (message_id or "")[:250] or None,
                    "keys": sorted(keys),
                },
            )
            count += _rowcount(result)
        return count
    table = table_of(SentReminder)
    stmt = (
        update(table)
        .where(
            table.c.dedup_key == bindparam("key"),
            table.c.run_id == run_id,
            table.c.state == LogState.CLAIMED.value,
        )
        .values(
            state=LogState.SENT.value,
            sent_at=now,
            smtp_code=250,
            smtp_result="250 accepted",
            message_id=bindparam("mid"),
        )
    )
    pairs = sorted(
        (key, (message_id or "")[:250] or None) for keys, message_id in accepted for key in keys
    )
    for chunk in _chunks(pairs, _PG_CHUNK):
        result = session.execute(stmt, [{"key": k, "mid": m} for k, m in chunk])
        count += _rowcount(result)
    return count


def record_results(
    session: Session,
    outgoing: Sequence[OutgoingDigest],
    result: SendResult,
    *,
    run_id: str,
    now: dt.datetime,
) -> tuple[int, int]:
    """Store what the SMTP server said about each digest; notify the users among the recipients.

    Returns (reminders marked sent, reminders marked failed).
    """
    failed = 0
    accepted: list[tuple[Sequence[str], str | None]] = []
    notifications: list[dict[str, Any]] = []
    for out, res in zip(outgoing, result.results, strict=True):
        keys = out.digest.dedup_keys
        if res.ok:
            accepted.append((keys, res.message_id))
            user_id = out.digest.recipient.user_id
            if user_id is not None:
                for entry in out.digest.entries:
                    reasons = [r.reason for r in entry.reminders]
                    if set(reasons) == {"assigned"}:
                        continue  # told in the app when the action was raised (raise_action)
                    notifications.append(
                        {
                            "user_id": user_id,
                            "created_at": now,
                            "run_id": run_id,
                            "item_kind": entry.item.kind,
                            "item_id": entry.item.item_id,
                            "title": entry.item.title,
                            "unit_code": entry.item.owner_unit_code[:40],
                            "reason": "escalation" if "escalation" in reasons else reasons[0],
                            "due_date": entry.item.due_date,
                            "url_path": entry.item.url_path[:200],
                            "read_at": None,
                        }
                    )
        else:
            failed += release_claims(
                session, keys, run_id=run_id, error=res.error or "not sent", code=res.code
            )
    sent = _mark_sent(session, accepted, run_id=run_id, now=now)
    if notifications:
        session.execute(insert(Notification), notifications)
    session.flush()
    return sent, failed
