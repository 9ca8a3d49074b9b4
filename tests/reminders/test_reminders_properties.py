"""Property tests for due_reminders over random due dates, run instants and policies."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from riskreg.reminders.decide import (
    DueReminder,
    Recipient,
    ReminderItem,
    due_reminders,
    local_date,
)
from riskreg.reminders.policy import ReminderPolicy, is_working_day, next_working_day

STHLM = ZoneInfo("Europe/Stockholm")

# Unit 1: mailbox + member; unit 2: a mailbox listed twice in different case, its manager is
# also a member of unit 1; unit 3: no recipients and no manager.
RECIPIENTS: dict[int, list[Recipient]] = {
    1: [
        Recipient("u1@region.se", "U1", "sv", None, 1),
        Recipient("anna@region.se", "Anna", "en", 11, 1),
        Recipient("boss2@region.se", "Boss 2", "sv", 22, 1),
    ],
    2: [
        Recipient("u2@region.se", "U2", "sv", None, 2),
        Recipient("U2@Region.SE", "U2", "sv", None, 2),
    ],
    3: [],
}
MANAGERS: dict[int, Recipient | None] = {
    1: Recipient("boss1@region.se", "Boss 1", "sv", 21, 1),
    2: Recipient("boss2@region.se", "Boss 2", "sv", 22, 2),
    3: None,
}


def recipients_for_unit(unit_id: int) -> list[Recipient]:
    return list(RECIPIENTS[unit_id])


def manager_for_unit(unit_id: int) -> Recipient | None:
    return MANAGERS[unit_id]


@st.composite
def policies(draw: st.DrawFn) -> ReminderPolicy:
    escalate = draw(st.one_of(st.none(), st.integers(1, 60)))
    return ReminderPolicy(
        days_before=tuple(draw(st.lists(st.integers(1, 60), unique=True, max_size=4))),
        on_due_date=draw(st.booleans()),
        repeat_overdue_every_days=draw(st.one_of(st.none(), st.integers(1, 30))),
        escalate_after_days=escalate,
        repeat_escalation_every_days=(
            None if escalate is None else draw(st.one_of(st.none(), st.integers(1, 30)))
        ),
    )


due_dates = st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2027, 12, 31))


@st.composite
def item_lists(
    draw: st.DrawFn, max_size: int = 8, around: dt.date | None = None
) -> list[ReminderItem]:
    """Items; with ``around``, most due dates lie within 100 days of that date.

    Without that, most random (due date, run date) pairs are months apart and the run is empty.
    """
    near = due_dates
    if around is not None:
        near = st.one_of(
            st.integers(-100, 100).map(lambda d: around + dt.timedelta(days=d)), due_dates
        )
    count = draw(st.integers(0, max_size))
    return [
        ReminderItem(
            kind=draw(st.sampled_from(["control", "action"])),
            item_id=i,
            title=f"Post {i}",
            owner_unit_id=draw(st.sampled_from([1, 2, 3])),
            owner_unit_code="U",
            due_date=draw(near),
            done=draw(st.integers(0, 3)) == 0,
            url_path=f"/items/{i}",
        )
        for i in range(count)
    ]


run_instants = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),
    max_value=dt.datetime(2026, 12, 31),
    timezones=st.sampled_from([dt.UTC, STHLM, ZoneInfo("America/New_York")]),
    allow_imaginary=False,
)


def decide(
    items: list[ReminderItem], policy: ReminderPolicy, now: dt.datetime, sent: set[str]
) -> list[DueReminder]:
    return due_reminders(items, policy, now, recipients_for_unit, manager_for_unit, sent)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[ReminderItem], dt.datetime]:
    now = draw(run_instants)
    return draw(item_lists(around=local_date(now))), now


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios(), policy=policies())
def test_one_run_invariants(
    scenario: tuple[list[ReminderItem], dt.datetime], policy: ReminderPolicy
) -> None:
    items, now = scenario
    result = decide(items, policy, now, set())
    today = local_date(now)
    keys = [r.dedup_key for r in result]

    # Never the same key twice in a run.
    assert len(keys) == len(set(keys))
    # Never on a non-working day.
    if result:
        assert is_working_day(today)
    for r in result:
        assert not r.item.done
        assert r.scheduled_on <= today
        assert next_working_day(r.scheduled_on) <= today
        assert r.due_date == r.item.due_date
    # One unit reason and at most one escalation per item and address.
    unit_reasons = Counter(
        (r.item.kind, r.item.item_id, r.recipient.key_address)
        for r in result
        if r.reason != "escalation"
    )
    escalations = Counter(
        (r.item.kind, r.item.item_id, r.recipient.key_address)
        for r in result
        if r.reason == "escalation"
    )
    assert max(unit_reasons.values(), default=0) <= 1
    assert max(escalations.values(), default=0) <= 1
    # Escalations only to managers.
    managers = {m.key_address for m in MANAGERS.values() if m is not None}
    assert all(r.recipient.key_address in managers for r in result if r.reason == "escalation")

    # Idempotent: the same run again with the first run's keys sends nothing, also at any
    # other time of the same local day.
    assert decide(items, policy, now, set(keys)) == []
    same_day_evening = dt.datetime.combine(today, dt.time(23, 59), tzinfo=STHLM)
    assert decide(items, policy, same_day_evening, set(keys)) == []


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    policy=policies(),
    start=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2026, 6, 30)),
    days=st.integers(1, 120),
)
def test_daily_runs(data: st.DataObject, policy: ReminderPolicy, start: dt.date, days: int) -> None:
    """Cron every day: each reminder goes out on the first working day on or after its day."""
    items = data.draw(item_lists(max_size=4, around=start + dt.timedelta(days=days // 2)))
    sent: set[str] = set()
    per_day: list[tuple[dt.date, list[DueReminder]]] = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        now = dt.datetime.combine(day, dt.time(6, 30), tzinfo=STHLM)
        result = decide(items, policy, now, sent)
        new_keys = {r.dedup_key for r in result}
        assert not new_keys & sent  # never twice across runs
        sent |= new_keys
        per_day.append((day, result))

    last_sent: dict[tuple[str, int, str, bool], dt.date] = {}
    escalations: Counter[tuple[str, int, str]] = Counter()
    for day, result in per_day:
        if result:
            assert is_working_day(day)
        for r in result:
            if r.scheduled_on >= start:
                # Not late when cron runs daily (only the next working day, if moved).
                assert day == next_working_day(r.scheduled_on)
            track = (r.item.kind, r.item.item_id, r.recipient.key_address, r.reason == "escalation")
            # Reminders for one item and address move forward in time, never back.
            previous = last_sent.get(track)
            assert previous is None or r.scheduled_on > previous
            last_sent[track] = r.scheduled_on
            if r.reason == "escalation":
                escalations[track[:3]] += 1
    if policy.repeat_escalation_every_days is None:
        # Escalation once per due date (items keep their due date here).
        assert max(escalations.values(), default=0) <= 1


@settings(max_examples=100, deadline=None)
@given(due=due_dates, new_due=due_dates, now=run_instants, policy=policies())
def test_changed_due_date_never_reuses_old_keys(
    due: dt.date, new_due: dt.date, now: dt.datetime, policy: ReminderPolicy
) -> None:
    before = ReminderItem("action", 1, "x", 1, "U", due, False, "/a/1")
    after = ReminderItem("action", 1, "x", 1, "U", new_due, False, "/a/1")
    old_keys = {r.dedup_key for r in decide([before], policy, now, set())}
    for r in decide([after], policy, now, old_keys):
        assert r.due_date == new_due
        if new_due != due:
            assert r.dedup_key not in old_keys
            assert f"|{due.isoformat()}|" not in r.dedup_key


def _model_latest(
    due: dt.date, policy: ReminderPolicy, today: dt.date, escalation: bool
) -> tuple[str, int] | None:
    """Brute-force oracle: walk back day by day from today to the latest reminder day.

    Deliberately naive (no arithmetic shortcuts) so it is an independent statement of the
    schedule: before-days, the due date, every N days overdue, escalation after E (+ every R).
    """
    earliest = due - dt.timedelta(days=max(policy.days_before, default=0))
    day = today
    while day >= earliest:
        offset = (day - due).days  # negative before the due date
        if escalation:
            after, every = policy.escalate_after_days, policy.repeat_escalation_every_days
            if (
                after is not None
                and offset >= after
                and (offset == after or (every is not None and (offset - after) % every == 0))
            ):
                return "escalation", offset
        else:
            if -offset in policy.days_before:
                return "before", -offset
            if offset == 0 and policy.on_due_date:
                return "due", 0
            every = policy.repeat_overdue_every_days
            if offset > 0 and every is not None and offset % every == 0:
                return "overdue", offset
        day -= dt.timedelta(days=1)
    return None


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios(), policy=policies())
def test_first_run_matches_a_brute_force_model(
    scenario: tuple[list[ReminderItem], dt.datetime], policy: ReminderPolicy
) -> None:
    """Liveness as well as safety: exactly the latest due reminder per item and address."""
    items, now = scenario
    today = local_date(now)
    expected: set[tuple[int, str, int, str]] = set()
    if is_working_day(today):
        for it in items:
            if it.done:
                continue
            unit = _model_latest(it.due_date, policy, today, escalation=False)
            if unit is not None:
                for address in {r.key_address for r in RECIPIENTS[it.owner_unit_id]}:
                    expected.add((it.item_id, *unit, address))
            boss = MANAGERS[it.owner_unit_id]
            escalation = _model_latest(it.due_date, policy, today, escalation=True)
            if escalation is not None and boss is not None:
                expected.add((it.item_id, *escalation, boss.key_address))
    got = {
        (r.item.item_id, r.reason, r.reason_detail, r.recipient.key_address)
        for r in decide(items, policy, now, set())
    }
    assert got == expected
