"""Which reminders are due in one run: a pure function of the items, the policy and the clock.

Why pure: the CLI (``riskreg reminders send [--dry-run] [--now ...]``) and the tests must get
the same answer for the same input, a dry run must not differ from a real one, and the
idempotency rule ("never the same reminder twice") must not depend on database state other than
the set of keys already sent, which the caller passes in.

Semantics (the reasons are documented on :func:`due_reminders`)
-----------------------------------------------------------------
*Schedule.* For an open item with due date D the policy yields nominal reminder days:
``D - n`` for each ``n`` in ``days_before`` ("before", detail ``n``), ``D`` ("due", detail 0),
``D + k*N`` for k = 1, 2, ... ("overdue", detail ``k*N``) to the unit, and ``D + E`` (plus
``D + E + k*R`` when escalation repeats) ("escalation", detail = days overdue) to the manager.

*Working days.* Nothing is ever sent on a non-working day; a reminder whose nominal day is not a
working day is sent on the next working day. If *today* is a working day, every day up to today
"has been reachable", so the rule reduces to: on a working day, the reminders whose nominal day
is <= today are candidates; on a non-working day there are none.

*Catch-up without spamming.* Per item and recipient only the **latest** candidate (the one whose
nominal day is closest to today) is considered, and it is sent unless its key is already in
``already_sent``. Earlier candidates are stale: if the 14-days-before reminder was never sent
because cron did not run, but the 3-days-before one is now due, only the latter goes out; and if
the latest was already sent, an older unsent one is not dug up. The same rule resolves the
collisions caused by moving reminders past holidays (e.g. a 3-days-before reminder on Julafton
and the due-date reminder on the following Saturday both land on the Monday: only "due" is sent).

*Idempotency.* The key identifies item, reason, detail, due date and recipient address, so
re-running with the keys of the first run as ``already_sent`` yields nothing; changing the due
date changes every key (new reminders for the new date, none for the old one); a done item
yields nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from riskreg.db import LOCAL_TIMEZONE, local_date
from riskreg.reminders.policy import ReminderPolicy, is_working_day

__all__ = [
    "STOCKHOLM",
    "DueReminder",
    "ItemKind",
    "Reason",
    "Recipient",
    "ReminderItem",
    "due_reminders",
    "local_date",
    "normalize_address",
]

STOCKHOLM = LOCAL_TIMEZONE

ItemKind = Literal["control", "action"]
Reason = Literal["assigned", "before", "due", "overdue", "escalation"]

#: How many days after an action is raised its unit may still be told of it by e-mail: a run
#: that did not happen for a few days still sends the notice, an old action never gets one.
ASSIGNED_WITHIN_DAYS = 7

_KINDS: frozenset[str] = frozenset(get_args(ItemKind))
_REASONS: frozenset[str] = frozenset(get_args(Reason))


def normalize_address(address: str) -> str:
    """The form of an e-mail address used for keys and for grouping digests.

    Lower-cased: the domain is case-insensitive by definition, and no mail system a Swedish
    region uses treats local parts case-sensitively, so ``Enhet@Region.se`` and
    ``enhet@region.se`` are one mailbox and must not get two copies of a reminder.
    """
    return address.strip().lower()


@dataclass(frozen=True)
class ReminderItem:
    """A control or an action with an owner unit and a due date, as the decision needs it.

    ``url_path`` is the item's path in riskreg (``/actions/17``); the digest joins it with the
    configured base URL. It must be a path so that a stored value can never point the link at
    another host.
    """

    kind: ItemKind
    item_id: int
    title: str
    owner_unit_id: int
    owner_unit_code: str
    due_date: dt.date
    done: bool
    url_path: str
    #: The local date an action was raised: its unit is told of it once ("assigned").
    assigned_on: dt.date | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {self.kind!r}")
        if isinstance(self.due_date, dt.datetime) or not isinstance(self.due_date, dt.date):
            raise TypeError(f"due_date must be a date, got {self.due_date!r}")
        if not self.url_path.startswith("/") or self.url_path.startswith("//"):
            raise ValueError(f"url_path must be a path like /actions/1: {self.url_path!r}")


@dataclass(frozen=True)
class Recipient:
    """Someone who receives reminders: a unit's functional mailbox (``user_id`` None) or a user.

    ``locale`` is the user's language choice ("sv" or "en"; anything else falls back to sv).
    """

    address: str
    name: str
    locale: str
    user_id: int | None
    unit_id: int

    def __post_init__(self) -> None:
        if "@" not in self.address or any(c in self.address for c in "\r\n\t "):
            raise ValueError(f"not an e-mail address: {self.address!r}")

    @property
    def key_address(self) -> str:
        """The normalised address used in dedup keys and for digest grouping."""
        return normalize_address(self.address)


@dataclass(frozen=True)
class DueReminder:
    """One reminder to send: an item, why, to whom, about which due date.

    ``scheduled_on`` is the nominal day of the reminder (before moving it to a working day);
    it is informative (logs, "why did I get this") and not part of the key, because the key
    must not change when the holiday calendar is corrected.
    """

    item: ReminderItem
    reason: Reason
    reason_detail: int
    recipient: Recipient
    due_date: dt.date
    scheduled_on: dt.date

    def __post_init__(self) -> None:
        if self.reason not in _REASONS:
            raise ValueError(f"reason must be one of {sorted(_REASONS)}, got {self.reason!r}")
        if self.due_date != self.item.due_date:
            raise ValueError("due_date must equal item.due_date")

    @property
    def dedup_key(self) -> str:
        """Stable identity of this reminder, stored in the send log.

        Format ``{kind}:{item_id}|{reason}:{detail}|{due_date ISO}|{address}``, e.g.
        ``action:17|overdue:14|2025-06-20|ce@region.se``. The address comes last because it is
        the only free-text part; all fields before it are fixed-format, so the key cannot be
        ambiguous. Do not change this format: keys already in the log would stop matching and
        every open reminder would be sent again.
        """
        return (
            f"{self.item.kind}:{self.item.item_id}"
            f"|{self.reason}:{self.reason_detail}"
            f"|{self.due_date.isoformat()}"
            f"|{self.recipient.key_address}"
        )


@dataclass(frozen=True)
class _Candidate:
    reason: Reason
    detail: int
    scheduled_on: dt.date


def _latest_repeat(start: dt.date, every: int | None, today: dt.date) -> tuple[dt.date, int] | None:
    """Latest day ``start + k*every`` (k >= 0) that is <= today, and ``k*every``.

    Computed arithmetically so an item that is years overdue costs the same as a fresh one.
    """
    if today < start:
        return None
    if every is None:
        return start, 0
    steps = (today - start).days // every * every
    return start + dt.timedelta(days=steps), steps


def _unit_candidate(due: dt.date, policy: ReminderPolicy, today: dt.date) -> _Candidate | None:
    """The most recent before/due/overdue reminder whose nominal day is <= today."""
    best: _Candidate | None = None

    def consider(candidate: _Candidate) -> None:
        nonlocal best
        if candidate.scheduled_on <= today and (
            best is None or candidate.scheduled_on > best.scheduled_on
        ):
            best = candidate

    for days in policy.days_before:
        consider(_Candidate("before", days, due - dt.timedelta(days=days)))
    if policy.on_due_date:
        consider(_Candidate("due", 0, due))
    every = policy.repeat_overdue_every_days
    if every is not None:
        latest = _latest_repeat(due + dt.timedelta(days=every), every, today)
        if latest is not None:
            day, steps = latest
            consider(_Candidate("overdue", every + steps, day))
    return best


def _escalation_candidate(
    due: dt.date, policy: ReminderPolicy, today: dt.date
) -> _Candidate | None:
    """The most recent escalation whose nominal day is <= today, if escalation is on."""
    after = policy.escalate_after_days
    if after is None:
        return None
    latest = _latest_repeat(
        due + dt.timedelta(days=after), policy.repeat_escalation_every_days, today
    )
    if latest is None:
        return None
    day, steps = latest
    return _Candidate("escalation", after + steps, day)


def _unique_recipients(recipients: Iterable[Recipient]) -> list[Recipient]:
    """One recipient per normalised address, preferring a user entry over a mailbox entry.

    A unit's functional mailbox may also be registered as a member, or a user may be listed
    twice; they must still get one reminder. The user entry wins because it carries the user's
    language choice.
    """
    chosen: dict[str, Recipient] = {}
    for recipient in recipients:
        key = recipient.key_address
        current = chosen.get(key)
        if current is None or (current.user_id is None and recipient.user_id is not None):
            chosen[key] = recipient
    return list(chosen.values())


_REASON_ORDER: dict[str, int] = {
    "assigned": -1,
    "before": 0,
    "due": 1,
    "overdue": 2,
    "escalation": 3,
}


def _assigned_candidate(item: ReminderItem, today: dt.date) -> _Candidate | None:
    """The notice to the owner unit that an action was raised for it, on its first working
    day and for ASSIGNED_WITHIN_DAYS after. Its own track beside the due-date reminders; the
    key (with the due date in it) makes it go once, and again only if the due date is moved
    in that first week, which then tells the unit the new date."""
    assigned = item.assigned_on
    if assigned is None or assigned > today:
        return None
    if (today - assigned).days > ASSIGNED_WITHIN_DAYS:
        return None
    return _Candidate("assigned", 0, assigned)


def due_reminders(
    items: Iterable[ReminderItem],
    policy: ReminderPolicy,
    now: dt.datetime,
    recipients_for_unit: Callable[[int], list[Recipient]],
    manager_for_unit: Callable[[int], Recipient | None],
    already_sent: Collection[str],
) -> list[DueReminder]:
    """Reminders to send in a run at ``now`` (aware), excluding keys in ``already_sent``.

    Rules (see the module docstring for the reasoning):

    * Day decisions use the Stockholm calendar date of ``now`` (DST-safe).
    * On a non-working day (weekend, Swedish public holiday, Midsommar-/Jul-/Nyårsafton) the
      result is empty; the next working day's run picks up what was due.
    * Done items get nothing; only the item's current due date is considered.
    * Unit reminders (before/due/overdue) go to every address of the owner unit; escalations go
      to the unit's manager (none if ``manager_for_unit`` returns None).
    * Per item and address, only the latest reminder whose nominal day is <= today is a
      candidate; it is returned unless its key is in ``already_sent``. Unit reminders and
      escalations are separate tracks: a manager who is also a unit member can get both in one
      run (the digest shows the item once).

    The result is sorted (address, due date, kind, id, reason) so runs are reproducible.
    ``recipients_for_unit`` and ``manager_for_unit`` are called at most once per unit.
    """
    today = local_date(now)
    if not is_working_day(today):
        return []

    sent = already_sent if isinstance(already_sent, set | frozenset) else set(already_sent)
    unit_cache: dict[int, list[Recipient]] = {}
    manager_cache: dict[int, Recipient | None] = {}

    def unit_recipients(unit_id: int) -> list[Recipient]:
        if unit_id not in unit_cache:
            unit_cache[unit_id] = _unique_recipients(recipients_for_unit(unit_id))
        return unit_cache[unit_id]

    def manager(unit_id: int) -> Recipient | None:
        if unit_id not in manager_cache:
            manager_cache[unit_id] = manager_for_unit(unit_id)
        return manager_cache[unit_id]

    result: list[DueReminder] = []
    for item in items:
        if item.done:
            continue
        assigned = _assigned_candidate(item, today)
        if assigned is not None:
            for recipient in unit_recipients(item.owner_unit_id):
                result.append(_make(item, assigned, recipient))
        unit_candidate = _unit_candidate(item.due_date, policy, today)
        if unit_candidate is not None:
            for recipient in unit_recipients(item.owner_unit_id):
                result.append(_make(item, unit_candidate, recipient))
        escalation = _escalation_candidate(item.due_date, policy, today)
        if escalation is not None:
            boss = manager(item.owner_unit_id)
            if boss is not None:
                result.append(_make(item, escalation, boss))

    # Drop what was sent and any exact duplicate (the same item passed twice).
    seen: set[str] = set()
    fresh: list[DueReminder] = []
    for reminder in result:
        key = reminder.dedup_key
        if key in sent or key in seen:
            continue
        seen.add(key)
        fresh.append(reminder)
    fresh.sort(
        key=lambda r: (
            r.recipient.key_address,
            r.due_date,
            r.item.kind,
            r.item.item_id,
            _REASON_ORDER[r.reason],
        )
    )
    return fresh


def _make(item: ReminderItem, candidate: _Candidate, recipient: Recipient) -> DueReminder:
    return DueReminder(
        item=item,
        reason=candidate.reason,
        reason_detail=candidate.detail,
        recipient=recipient,
        due_date=item.due_date,
        scheduled_on=candidate.scheduled_on,
    )
