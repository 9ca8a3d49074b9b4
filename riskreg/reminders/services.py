"""Reminders in the app: the policy row, "Mitt arbete", the dashboard counts, notifications, the
send log, and one reminder run (``riskreg reminders send``).

Plain functions taking the session and ``now``. All of them flush and never commit, except
:func:`run_reminders`, which is several transactions by design (see below).

One run and why it is safe to start twice
-----------------------------------------
The database is the arbiter. ``reminder_log.dedup_key`` is UNIQUE, and a run proceeds so:

1. **Decide** (read only): load the open items, the unit recipients and the policy; compute
   the candidates with the pure :func:`~riskreg.reminders.decide.due_reminders`; drop those whose
   key is already in the log as ``sent`` or as a live claim (that is ``already_sent``).
2. **Claim** (one short committed transaction): insert one log row per reminder in state
   ``claimed`` with ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key``. A key
   that another run inserted first, even one that has not committed yet, is not returned: on
   PostgreSQL the insert waits for the other transaction and then does nothing; on SQLite the
   writers are serialised (busy timeout). Rows left ``failed`` by an earlier run, and claims
   older than the claim timeout (a crashed run), are taken over with a conditional
   ``UPDATE ... WHERE state = 'failed' OR (state = 'claimed' AND claimed_at < cutoff)``, which
   also lets only one run win. Keys are processed in sorted order so two runs lock them in the
   same order (no deadlock).
3. **Send** what this run claimed (no database transaction is open meanwhile): one digest per
   recipient through :func:`~riskreg.reminders.smtp.send_digests`.
4. **Record** (second transaction): rows of accepted digests become ``sent`` (with the time, code
   250 and the Message-ID) and the users among the recipients get notifications; rows of refused
   or unsent digests become ``failed`` with the server's code and text, so nothing is marked as
   sent and the next run claims and sends them again. One audit entry sums up the run.

If the run is interrupted between 2 and 4 (an exception, Ctrl+C), its claims are released
(``failed``) before the exception propagates. If the process dies outright (kill -9, power), its
claims stay ``claimed`` and block those reminders until the claim timeout
(``REMINDER_CLAIM_TIMEOUT_MINUTES``, default 60) has passed; then the next run sends them. A
digest the server had accepted just before such a crash is then sent a second time: for a
reminder, a rare duplicate after a crash is better than a lost one. The timeout must be longer
than the longest run (a run over 10,000 items takes seconds; see BENCHMARKS.md).

Two runs that overlap may each send a part of one recipient's reminders (each its own claimed
keys), so a recipient can get two digests in that case, but never the same reminder twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, selectinload

from riskreg.audit.trail import record
from riskreg.auth.models import Unit, User
from riskreg.controls.models import (
    ACTION_STATUS_TITLES,
    CONTROL_STATUS_TITLES,
    Action,
    ActionStatus,
    Control,
    ControlStatus,
)
from riskreg.db import UTCDateTime
from riskreg.errors import ServiceError, StaleObject
from riskreg.reminders.decide import (
    STOCKHOLM,
    DueReminder,
    Recipient,
    ReminderItem,
    due_reminders,
    local_date,
)
from riskreg.reminders.digest import OutgoingDigest, build_messages
from riskreg.reminders.models import (
    POLICY_ROW_ID,
    LogState,
    Notification,
    ReminderPolicySetting,
    SentReminder,
)
from riskreg.reminders.policy import MAX_DAYS, ReminderPolicy, non_working_reason
from riskreg.reminders.smtp import SendResult, SmtpConfig, send_digests

T = TypeVar("T")

DEFAULT_CLAIM_TIMEOUT = dt.timedelta(minutes=60)
DUE_SOON_DAYS = 14
TITLE_MAX = 160
_CHUNK = 500

# --- paths ------------------------------------------------------------------------------------


def control_path(control_id: int) -> str:
    return f"/controls/{control_id}"


def action_path(action_id: int) -> str:
    return f"/controls/actions/{action_id}"


def short_title(text: str, limit: int = TITLE_MAX) -> str:
    """The first line of a description, cut at ``limit`` characters (for lists and e-mail)."""
    first = " ".join((text or "").strip().splitlines()[0].split()) if (text or "").strip() else ""
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


# --- policy -----------------------------------------------------------------------------------


def policy_row(session: Session) -> ReminderPolicySetting | None:
    return session.get(ReminderPolicySetting, POLICY_ROW_ID)


def load_policy(session: Session) -> ReminderPolicy:
    """The stored policy, or the defaults (14 and 3 days before, on the day, weekly, 14)."""
    row = policy_row(session)
    return row.to_policy() if row is not None else ReminderPolicy()


#: The version a policy form carries when no rules have been saved yet.
NO_POLICY_YET = 0


def ensure_policy(session: Session, *, now: dt.datetime) -> ReminderPolicySetting:
    """The policy row, created with the defaults if it does not exist yet."""
    row = policy_row(session)
    if row is None:
        default = ReminderPolicy()
        row = ReminderPolicySetting(
            id=POLICY_ROW_ID,
            days_before=",".join(str(d) for d in default.days_before),
            on_due_date=default.on_due_date,
            repeat_overdue_every_days=default.repeat_overdue_every_days,
            escalate_after_days=default.escalate_after_days,
            repeat_escalation_every_days=default.repeat_escalation_every_days,
            updated_at=now,
        )
        session.add(row)
        session.flush()
    return row


def parse_days(text: str) -> tuple[int, ...]:
    """ "14, 3" or "14 3" or "14;3" -> (14, 3). Raises ServiceError on anything else."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    days: list[int] = []
    for part in parts:
        if not part.strip().isdigit():
            raise ServiceError(f"”{part.strip()}” är inte ett antal dagar.")
        days.append(int(part))
    return tuple(days)


def save_policy(
    session: Session,
    *,
    days_before: Sequence[int],
    on_due_date: bool,
    repeat_overdue_every_days: int | None,
    escalate_after_days: int | None,
    repeat_escalation_every_days: int | None,
    actor: User | None,
    now: dt.datetime,
    expected_version: int | None = None,
) -> ReminderPolicySetting:
    """Validate with :class:`ReminderPolicy` and store. Problems come back in Swedish."""
    problems: list[str] = []
    for value in days_before:
        if not 1 <= value <= MAX_DAYS:
            problems.append(f"Dagar före sista dag måste vara mellan 1 och {MAX_DAYS}.")
            break
    if len(set(days_before)) != len(tuple(days_before)):
        problems.append("Samma antal dagar före sista dag står flera gånger.")
    for label, value in (
        ("Upprepa efter sista dag", repeat_overdue_every_days),
        ("Eskalera efter", escalate_after_days),
        ("Upprepa eskaleringen", repeat_escalation_every_days),
    ):
        if value is not None and not 1 <= value <= MAX_DAYS:
            problems.append(f"{label}: ange 1–{MAX_DAYS} dagar eller lämna tomt.")
    if repeat_escalation_every_days is not None and escalate_after_days is None:
        problems.append("Eskaleringen kan bara upprepas om den är påslagen.")
    if problems:
        raise ServiceError(problems[0], messages=problems)
    try:
        policy = ReminderPolicy(
            days_before=tuple(days_before),
            on_due_date=on_due_date,
            repeat_overdue_every_days=repeat_overdue_every_days,
            escalate_after_days=escalate_after_days,
            repeat_escalation_every_days=repeat_escalation_every_days,
        )
    except (TypeError, ValueError) as exc:  # the dataclass has the last word
        raise ServiceError(f"Ogiltig påminnelseregel: {exc}") from exc
    existed = policy_row(session) is not None
    row = ensure_policy(session, now=now)
    # The form of a page shown before any rules were saved carries version 0 (NO_POLICY_YET).
    stored = row.version if existed else NO_POLICY_YET
    if expected_version is not None and stored != expected_version:
        raise StaleObject("Någon annan har ändrat reglerna sedan du öppnade sidan. Ladda om den.")
    row.days_before = ",".join(str(d) for d in policy.days_before)
    row.on_due_date = policy.on_due_date
    row.repeat_overdue_every_days = policy.repeat_overdue_every_days
    row.escalate_after_days = policy.escalate_after_days
    row.repeat_escalation_every_days = policy.repeat_escalation_every_days
    row.updated_at = now
    row.updated_by = actor
    session.flush()
    return row


# --- what is open -----------------------------------------------------------------------------


def open_items(session: Session) -> list[ReminderItem]:
    """Controls that are not approved and actions that are not verified, with owner units."""
    items: list[ReminderItem] = []
    controls = session.execute(
        select(Control.id, Control.title, Control.responsible_unit_id, Unit.code, Control.deadline)
        .join(Unit, Unit.id == Control.responsible_unit_id)
        .where(Control.status != ControlStatus.APPROVED.value)
    )
    for cid, title, unit_id, code, deadline in controls:
        items.append(
            ReminderItem(
                "control",
                cid,
                short_title(title),
                unit_id,
                code,
                deadline,
                False,
                control_path(cid),
            )
        )
    actions = session.execute(
        select(Action.id, Action.description, Action.owner_unit_id, Unit.code, Action.due_date)
        .join(Unit, Unit.id == Action.owner_unit_id)
        # Only open actions: once the unit has answered, the next step is the controller's,
        # and reminding the unit about work it reported done would teach it to ignore mail.
        .where(Action.status == ActionStatus.OPEN.value)
    )
    for aid, description, unit_id, code, due in actions:
        items.append(
            ReminderItem(
                "action", aid, short_title(description), unit_id, code, due, False, action_path(aid)
            )
        )
    return items


class RecipientDirectory:
    """Who gets the reminders of a unit, loaded once per run.

    * Unit reminders: the unit's functional mailbox (Swedish) and its active members (users who
      have the unit among their units; each in the language they chose).
    * Escalations: the unit's manager; if the unit has no (active) manager, the manager of the
      nearest unit above it. A unit without any manager up the tree gets no escalations.

    Addresses that are not usable e-mail addresses are skipped and listed in ``problems``.
    """

    def __init__(self, session: Session) -> None:
        self.problems: list[str] = []
        units = session.scalars(
            select(Unit).options(selectinload(Unit.members), selectinload(Unit.manager))
        ).all()
        self._units: dict[int, Unit] = {u.id: u for u in units}
        self._recipients: dict[int, list[Recipient]] = {}
        self._managers: dict[int, Recipient | None] = {}

    def _recipient(
        self, address: str | None, name: str, locale: str, user_id: int | None, unit_id: int
    ) -> Recipient | None:
        if not address:
            return None
        try:
            return Recipient(address.strip(), name, locale, user_id, unit_id)
        except ValueError:
            self.problems.append(f"ogiltig e-postadress hoppas över: {address!r}")
            return None

    def recipients_for_unit(self, unit_id: int) -> list[Recipient]:
        if unit_id not in self._recipients:
            unit = self._units.get(unit_id)
            found: list[Recipient] = []
            if unit is not None:
                mailbox = self._recipient(unit.email, unit.name, "sv", None, unit.id)
                if mailbox is not None:
                    found.append(mailbox)
                for member in unit.members:
                    if member.active:
                        r = self._recipient(
                            member.email, member.full_name, member.locale, member.id, unit.id
                        )
                        if r is not None:
                            found.append(r)
            self._recipients[unit_id] = found
        return self._recipients[unit_id]

    def manager_for_unit(self, unit_id: int) -> Recipient | None:
        if unit_id not in self._managers:
            found: Recipient | None = None
            unit = self._units.get(unit_id)
            seen: set[int] = set()
            while unit is not None and unit.id not in seen:
                seen.add(unit.id)
                boss = unit.manager
                if boss is not None and boss.active:
                    found = self._recipient(
                        boss.email, boss.full_name, boss.locale, boss.id, unit_id
                    )
                    if found is not None:
                        break
                unit = self._units.get(unit.parent_id) if unit.parent_id else None
            self._managers[unit_id] = found
        return self._managers[unit_id]


# --- the send log as the arbiter -------------------------------------------------------------


def _chunks(values: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def blocking_keys(
    session: Session, keys: Iterable[str], *, now: dt.datetime, claim_timeout: dt.timedelta
) -> set[str]:
    """The keys among ``keys`` that must not be sent: sent, or claimed by a live run."""
    table = SentReminder.__table__
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
    table = SentReminder.__table__
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
    table = SentReminder.__table__
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
        count += result.rowcount or 0
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
            count += result.rowcount or 0
        return count
    table = SentReminder.__table__
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
        count += result.rowcount or 0
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


# --- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestOutcome:
    address: str
    name: str
    locale: str
    subject: str
    entries: int
    reminders: int
    ok: bool | None  # None: not attempted (dry run)
    error: str | None = None


@dataclass
class RunReport:
    """What one run decided and did; ``lines()`` is the CLI's summary."""

    run_id: str
    now: dt.datetime
    today: dt.date
    dry_run: bool
    non_working: str | None = None
    open_items: int = 0
    due: int = 0
    already_handled: int = 0
    claimed: int = 0
    taken_by_other_run: int = 0
    sent: int = 0
    failed: int = 0
    digests: list[DigestOutcome] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.error is None and self.failed == 0 and all(d.ok is not False for d in self.digests)
        )

    def lines(self) -> list[str]:
        when = self.now.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        head = "Provkörning" if self.dry_run else "Körning"
        out = [f"{head} {self.run_id} {when} (Stockholm), {self.open_items} öppna ärenden."]
        if self.non_working:
            out.append(
                f"{self.today} är ingen arbetsdag ({self.non_working}); inga påminnelser skickas. "
                "Det som förfaller skickas nästa arbetsdag."
            )
            return out
        out.append(
            f"{self.due} påminnelser att skicka, {self.already_handled} redan skickade "
            "eller under utskick."
        )
        if self.taken_by_other_run:
            out.append(f"{self.taken_by_other_run} togs av en annan körning samtidigt.")
        for problem in self.problems:
            out.append(f"Varning: {problem}")
        for d in self.digests:
            status = "skulle skickas" if d.ok is None else "skickad" if d.ok else "EJ SKICKAD"
            line = (
                f"  {d.address} ({d.locale}): {d.entries} ärenden, {d.reminders} påminnelser, "
                f"{status}: {d.subject}"
            )
            if d.error:
                line += f"\n    {d.error}"
            out.append(line)
        if self.dry_run:
            out.append(f"{len(self.digests)} sammandrag skulle skickas; inget skickades.")
        else:
            out.append(
                f"{sum(1 for d in self.digests if d.ok)} av {len(self.digests)} sammandrag "
                f"skickade; {self.sent} påminnelser loggade som skickade, "
                f"{self.failed} misslyckade."
            )
        return out


@dataclass(frozen=True)
class MailSettings:
    """What a run needs from the app configuration."""

    config: Mapping[str, Any]  # the MAIL_* keys, as send_digests reads them
    base_url: str
    sender: str | tuple[str, str]
    claim_timeout: dt.timedelta = DEFAULT_CLAIM_TIMEOUT

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        minutes = config.get("REMINDER_CLAIM_TIMEOUT_MINUTES", 60)
        try:
            timeout = dt.timedelta(minutes=int(minutes))
        except (TypeError, ValueError):
            raise ServiceError(
                f"REMINDER_CLAIM_TIMEOUT_MINUTES måste vara ett antal minuter, inte {minutes!r}."
            ) from None
        if timeout <= dt.timedelta(0):
            raise ServiceError("REMINDER_CLAIM_TIMEOUT_MINUTES måste vara större än 0.")
        sender = config.get("MAIL_DEFAULT_SENDER")
        if isinstance(sender, list):
            sender = (str(sender[0]), str(sender[1]))
        return cls(
            config=config,
            base_url=str(config.get("BASE_URL") or ""),
            sender=sender or "",
            claim_timeout=timeout,
        )


def _outcomes(outgoing: Sequence[OutgoingDigest], result: SendResult | None) -> list[DigestOutcome]:
    found = []
    for i, out in enumerate(outgoing):
        res = result.results[i] if result is not None else None
        recipient = out.digest.recipient
        found.append(
            DigestOutcome(
                address=recipient.key_address,
                name=recipient.name,
                locale=out.digest.locale,
                subject=str(out.message["Subject"]),
                entries=len(out.digest.entries),
                reminders=len(out.digest.reminders),
                ok=None if res is None else res.ok,
                error=None if res is None or res.ok else res.error,
            )
        )
    return found


Sender = Callable[[Sequence[Any], Mapping[str, Any]], SendResult]


def run_reminders(
    session: Session,
    *,
    now: dt.datetime,
    mail: MailSettings,
    dry_run: bool = False,
    send: Sender = send_digests,
    run_id: str | None = None,
    at: dt.datetime | None = None,
) -> RunReport:
    """One reminder run deciding as of ``now``. Commits (claim, then results); a dry run
    writes nothing.

    ``at`` is the real time of the run (default ``now``): claims, ``sent_at`` and
    notifications carry it, and claim expiry is measured on it, so a run with a made-up
    ``now`` (``--now``) can neither take over nor outlive the claims of a real one.

    Raises ServiceError for a configuration that cannot work (before anything is claimed).
    SMTP problems do not raise: they are in the report (``report.ok`` is False).
    """
    at = at or now
    run_id = run_id or uuid.uuid4().hex
    today = local_date(now)
    report = RunReport(run_id=run_id, now=now, today=today, dry_run=dry_run)
    try:
        SmtpConfig.from_mapping(mail.config)
    except ValueError as exc:
        raise ServiceError(f"E-postinställningarna går inte att använda: {exc}") from exc

    items = open_items(session)
    report.open_items = len(items)
    reason = non_working_reason(today)
    if reason is not None:
        report.non_working = reason
        session.rollback()
        return report

    policy = load_policy(session)
    directory = RecipientDirectory(session)
    candidates = due_reminders(
        items, policy, now, directory.recipients_for_unit, directory.manager_for_unit, ()
    )
    blocked = blocking_keys(
        session, (r.dedup_key for r in candidates), now=at, claim_timeout=mail.claim_timeout
    )
    # Same as passing ``blocked`` as already_sent: the latest candidate per item and recipient
    # does not depend on what was sent; a sent one is simply dropped (see due_reminders).
    reminders = [r for r in candidates if r.dedup_key not in blocked]
    report.already_handled = len(candidates) - len(reminders)
    report.due = len(reminders)
    report.problems = directory.problems

    try:
        outgoing = build_messages(reminders, base_url=mail.base_url, sender=mail.sender, now=now)
    except ValueError as exc:
        session.rollback()
        raise ServiceError(f"Påminnelserna kan inte byggas: {exc}") from exc
    if dry_run:
        report.digests = _outcomes(outgoing, None)
        session.rollback()
        return report
    if not reminders:
        session.rollback()
        return report

    # 2. Claim, committed before anything is sent.
    session.rollback()  # end the read transaction; the claim is a short one of its own
    claimed = claim_reminders(
        session, reminders, run_id=run_id, now=at, claim_timeout=mail.claim_timeout
    )
    session.commit()
    report.claimed = len(claimed)
    report.taken_by_other_run = len(reminders) - len(claimed)
    if not claimed:
        return report
    if len(claimed) != len(reminders):
        outgoing = build_messages(claimed, base_url=mail.base_url, sender=mail.sender, now=now)
    claimed_keys = [r.dedup_key for r in claimed]

    # 3. Send (no transaction open) and 4. record; release the claims if anything goes wrong.
    try:
        result = send([o.message for o in outgoing], mail.config)
        sent, failed = record_results(session, outgoing, result, run_id=run_id, now=at)
        record(
            session,
            "reminders.run",
            "reminder_run",
            run_id,
            {
                "now": now.isoformat(),
                "at": at.isoformat(),
                "digests_sent": len(result.sent),
                "digests_failed": len(result.failed),
                "reminders_sent": sent,
                "reminders_failed": failed,
                "error": result.error,
            },
        )
        session.commit()
    except BaseException as exc:
        session.rollback()
        release_claims(
            session, claimed_keys, run_id=run_id, error=f"Körningen avbröts: {exc!r}"[:2000]
        )
        session.commit()
        raise
    report.sent, report.failed = sent, failed
    report.error = result.error
    report.digests = _outcomes(outgoing, result)
    return report


# --- "Mitt arbete" and the dashboard ---------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    kind: str  # "control" | "action"
    item_id: int
    title: str
    unit_code: str
    due_date: dt.date
    status: str
    status_title: str
    done: bool
    url_path: str
    days_left: int

    @property
    def overdue(self) -> bool:
        return not self.done and self.days_left < 0

    @property
    def due_soon(self) -> bool:
        return not self.done and 0 <= self.days_left <= DUE_SOON_DAYS


def my_work(
    session: Session, user: User, *, today: dt.date, include_done: bool = False
) -> list[WorkItem]:
    """What the user and their units own, sorted by due date (earliest, i.e. most late, first).

    Controls the user is assigned to as controller or whose responsible unit is in the user's
    scope (their units and the units below them); actions whose owner unit is in scope.
    """
    scope = user.scoped_unit_ids()
    work: list[WorkItem] = []
    control_filter: Any = Control.controllers.any(User.id == user.id)
    if scope:
        control_filter = or_(control_filter, Control.responsible_unit_id.in_(scope))
    controls = (
        select(Control.id, Control.title, Unit.code, Control.deadline, Control.status)
        .join(Unit, Unit.id == Control.responsible_unit_id)
        .where(control_filter)
    )
    if not include_done:
        controls = controls.where(Control.status != ControlStatus.APPROVED.value)
    for cid, title, code, deadline, status in session.execute(controls):
        done = status == ControlStatus.APPROVED.value
        work.append(
            WorkItem(
                "control",
                cid,
                short_title(title),
                code,
                deadline,
                status,
                CONTROL_STATUS_TITLES.get(ControlStatus(status), status),
                done,
                control_path(cid),
                (deadline - today).days,
            )
        )
    if scope:
        actions = (
            select(Action.id, Action.description, Unit.code, Action.due_date, Action.status)
            .join(Unit, Unit.id == Action.owner_unit_id)
            .where(Action.owner_unit_id.in_(scope))
        )
        if not include_done:
            actions = actions.where(Action.status != ActionStatus.VERIFIED.value)
        for aid, description, code, due, status in session.execute(actions):
            done = status == ActionStatus.VERIFIED.value
            work.append(
                WorkItem(
                    "action",
                    aid,
                    short_title(description),
                    code,
                    due,
                    status,
                    ACTION_STATUS_TITLES.get(ActionStatus(status), status),
                    done,
                    action_path(aid),
                    (due - today).days,
                )
            )
    work.sort(key=lambda w: (w.done, w.due_date, w.kind, w.item_id))
    return work


@dataclass(frozen=True)
class UnitCounts:
    unit_id: int
    code: str
    name: str
    due_soon: int
    overdue: int
    done: int


def unit_status_counts(
    session: Session, unit_ids: set[int] | None, *, today: dt.date
) -> list[UnitCounts]:
    """Per responsible/owner unit: open items due within 14 days, overdue items, done items.

    ``unit_ids`` None means every unit (for users who read the whole register).
    """
    soon_limit = today + dt.timedelta(days=DUE_SOON_DAYS)
    totals: dict[int, list[int]] = {}

    def add(unit_col: Any, due_col: Any, status_col: Any, done_value: str, model: Any) -> None:
        done = status_col == done_value
        query = (
            select(
                unit_col,
                func.sum(case((and_(~done, due_col >= today, due_col <= soon_limit), 1), else_=0)),
                func.sum(case((and_(~done, due_col < today), 1), else_=0)),
                func.sum(case((done, 1), else_=0)),
            )
            .select_from(model)
            .group_by(unit_col)
        )
        if unit_ids is not None:
            query = query.where(unit_col.in_(sorted(unit_ids)))
        for unit_id, soon, late, finished in session.execute(query):
            row = totals.setdefault(unit_id, [0, 0, 0])
            row[0] += int(soon or 0)
            row[1] += int(late or 0)
            row[2] += int(finished or 0)

    add(
        Control.responsible_unit_id,
        Control.deadline,
        Control.status,
        ControlStatus.APPROVED.value,
        Control,
    )
    add(Action.owner_unit_id, Action.due_date, Action.status, ActionStatus.VERIFIED.value, Action)
    if not totals:
        return []
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(totals)))}
    return sorted(
        (
            UnitCounts(uid, units[uid].code, units[uid].name, *counts)
            for uid, counts in totals.items()
            if uid in units
        ),
        key=lambda c: (-c.overdue, -c.due_soon, c.code),
    )


# --- notifications ----------------------------------------------------------------------------


def notify_control_event(
    session: Session,
    control: Any,
    recipients: Iterable[User],
    *,
    reason: str,
    title: str,
    now: dt.datetime,
) -> list[Notification]:
    """An in-app notification about ``control`` for each recipient (once per user).

    Used for workflow events the other party must hear of at once (e.g. ``reason`` "reopened"
    when an approved review is opened again), beside the scheduled reminders.
    """
    run_id = f"{reason}-{uuid.uuid4().hex[:20]}"
    created: list[Notification] = []
    seen: set[int] = set()
    for user in recipients:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        notification = Notification(
            user_id=user.id,
            created_at=now,
            run_id=run_id,
            item_kind="control",
            item_id=control.id,
            title=short_title(title, TITLE_MAX * 2),
            unit_code=control.responsible_unit.code if control.responsible_unit else "",
            reason=reason,
            due_date=control.deadline,
            url_path=control_path(control.id),
        )
        session.add(notification)
        created.append(notification)
    session.flush()
    return created


def notifications_for(
    session: Session, user: User, *, unread_only: bool = False, limit: int = 200
) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(
        session.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
        )
    )


def unread_count(session: Session, user: User) -> int:
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(session: Session, user: User, ids: Iterable[int] | None, *, now: dt.datetime) -> int:
    """Mark the user's own notifications ``ids`` (None: all of them) as read. Others' ids are
    ignored, so a forged id reveals and changes nothing."""
    stmt = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        stmt = stmt.where(Notification.id.in_(wanted))
    result = session.execute(stmt.values(read_at=now))
    session.flush()
    return result.rowcount or 0


# --- the log ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    unit_id: int | None = None
    recipient: str = ""
    kind: str = ""
    reason: str = ""
    state: str = ""
    item_id: int | None = None


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=STOCKHOLM).astimezone(dt.UTC)


def log_query(flt: LogFilter) -> Select[tuple[SentReminder]]:
    """The send log, newest first; dates are Stockholm days of the (last) attempt."""
    query = select(SentReminder).options(selectinload(SentReminder.unit))
    if flt.date_from:
        query = query.where(SentReminder.claimed_at >= _day_start(flt.date_from))
    if flt.date_to:
        query = query.where(
            SentReminder.claimed_at < _day_start(flt.date_to + dt.timedelta(days=1))
        )
    if flt.unit_id:
        query = query.where(SentReminder.unit_id == flt.unit_id)
    if flt.recipient.strip():
        query = query.where(
            func.lower(SentReminder.recipient_address).contains(flt.recipient.strip().lower())
        )
    if flt.kind:
        query = query.where(SentReminder.item_kind == flt.kind)
    if flt.item_id:
        query = query.where(SentReminder.item_id == flt.item_id)
    if flt.reason:
        query = query.where(SentReminder.reason == flt.reason)
    if flt.state:
        query = query.where(SentReminder.state == flt.state)
    return query.order_by(SentReminder.claimed_at.desc(), SentReminder.id.desc())
