"""The decision function: which reminders go out on which day.

Every expected date is written out by hand from the calendar (2025-06-20 is Midsommarafton, a
Friday; 2025-04-18 Långfredag; 2025-12-24 Julafton, a Wednesday; ...), never computed with the
code under test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import pytest

from riskreg.reminders.decide import (
    DueReminder,
    Recipient,
    ReminderItem,
    due_reminders,
    local_date,
    normalize_address,
)
from riskreg.reminders.policy import ReminderPolicy

D = dt.date.fromisoformat
STHLM = ZoneInfo("Europe/Stockholm")
UNIT = 10

MAILBOX = Recipient("ce@region.se", "CE", "sv", None, UNIT)
MEMBER = Recipient("anna.andersson@region.se", "Anna Andersson", "sv", 1, UNIT)
MANAGER = Recipient("chef.ce@region.se", "Bo Chef", "sv", 2, UNIT)


def item(
    due: str, *, item_id: int = 1, kind: str = "action", done: bool = False, unit: int = UNIT
) -> ReminderItem:
    return ReminderItem(
        kind=kind,  # type: ignore[arg-type]
        item_id=item_id,
        title=f"Åtgärd {item_id}",
        owner_unit_id=unit,
        owner_unit_code="CE",
        due_date=D(due),
        done=done,
        url_path=f"/{kind}s/{item_id}",
    )


def at(day: str, time: str = "07:00") -> dt.datetime:
    """A run at local Stockholm time on ``day``."""
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=STHLM)


def run(
    items: Iterable[ReminderItem],
    now: dt.datetime,
    *,
    policy: ReminderPolicy | None = None,
    sent: Iterable[str] = (),
    recipients: list[Recipient] | None = None,
    manager: Recipient | None = MANAGER,
) -> list[DueReminder]:
    members = [MAILBOX] if recipients is None else recipients
    return due_reminders(
        list(items),
        policy or ReminderPolicy(),
        now,
        lambda unit_id: list(members) if unit_id == UNIT else [],
        lambda unit_id: manager if unit_id == UNIT else None,
        set(sent),
    )


def simulate(
    items: list[ReminderItem],
    first: str,
    last: str,
    *,
    policy: ReminderPolicy | None = None,
    every_days: int = 1,
    manager: Recipient | None = MANAGER,
) -> list[tuple[str, str, str, int]]:
    """Run once a day (or every ``every_days``) like cron, logging what was sent.

    Returns (run date, address, reason, detail) for every reminder sent.
    """
    sent: set[str] = set()
    log: list[tuple[str, str, str, int]] = []
    day = D(first)
    while day <= D(last):
        for r in run(items, at(day.isoformat()), policy=policy, sent=sent, manager=manager):
            log.append((day.isoformat(), r.recipient.address, r.reason, r.reason_detail))
            sent.add(r.dedup_key)
        day += dt.timedelta(days=every_days)
    return log


def unit_log(log: list[tuple[str, str, str, int]]) -> list[tuple[str, str, int]]:
    return [(d, reason, detail) for d, addr, reason, detail in log if addr == MAILBOX.address]


def manager_log(log: list[tuple[str, str, str, int]]) -> list[tuple[str, str, int]]:
    return [(d, reason, detail) for d, addr, reason, detail in log if addr == MANAGER.address]


# --- schedules over weekends and holidays -------------------------------------------------


def test_plain_schedule_on_working_days() -> None:
    # Due Thursday 2025-09-25: every nominal day is a working day.
    log = simulate([item("2025-09-25")], "2025-09-01", "2025-10-31")
    assert unit_log(log) == [
        ("2025-09-11", "before", 14),
        ("2025-09-22", "before", 3),
        ("2025-09-25", "due", 0),
        ("2025-10-02", "overdue", 7),
        ("2025-10-09", "overdue", 14),
        ("2025-10-16", "overdue", 21),
        ("2025-10-23", "overdue", 28),
        ("2025-10-30", "overdue", 35),
    ]
    # Escalation exactly once per due date.
    assert manager_log(log) == [("2025-10-09", "escalation", 14)]


def test_14_days_before_on_midsommarafton() -> None:
    # Due Fri 2025-07-04; 14 days before is Midsommarafton 2025-06-20 -> Monday 06-23.
    log = simulate([item("2025-07-04")], "2025-06-01", "2025-07-26")
    assert unit_log(log) == [
        ("2025-06-23", "before", 14),
        ("2025-07-01", "before", 3),
        ("2025-07-04", "due", 0),
        ("2025-07-11", "overdue", 7),
        ("2025-07-18", "overdue", 14),
        ("2025-07-25", "overdue", 21),
    ]
    assert manager_log(log) == [("2025-07-18", "escalation", 14)]


def test_14_days_before_on_midsommardagen_and_due_on_saturday() -> None:
    # Due Sat 2025-07-05. 14 before = Midsommardagen 06-21 -> Mon 06-23; 3 before = Wed 07-02;
    # due Saturday -> Mon 07-07; overdue 7 = Sat 07-12 -> Mon 07-14; 14 = Sat 07-19 -> 07-21.
    log = simulate([item("2025-07-05")], "2025-06-01", "2025-07-31")
    assert unit_log(log) == [
        ("2025-06-23", "before", 14),
        ("2025-07-02", "before", 3),
        ("2025-07-07", "due", 0),
        ("2025-07-14", "overdue", 7),
        ("2025-07-21", "overdue", 14),
        ("2025-07-28", "overdue", 21),
    ]
    assert manager_log(log) == [("2025-07-21", "escalation", 14)]


def test_due_on_midsommarafton_and_14_before_on_nationaldagen() -> None:
    # Due 2025-06-20 (Midsommarafton). 14 before = Fri 06-06 Nationaldagen -> Mon 06-09.
    log = simulate([item("2025-06-20")], "2025-06-01", "2025-07-05")
    assert unit_log(log) == [
        ("2025-06-09", "before", 14),
        ("2025-06-17", "before", 3),
        ("2025-06-23", "due", 0),
        ("2025-06-27", "overdue", 7),
        ("2025-07-04", "overdue", 14),
    ]
    assert manager_log(log) == [("2025-07-04", "escalation", 14)]


def test_christmas_collision_sends_only_the_most_relevant_reminder() -> None:
    # Due Sat 2025-12-27. 3 before = Julafton 12-24, then 25, 26 (holidays), 27-28 (weekend):
    # both "3 before" and "due" land on Mon 12-29; only "due" is sent.
    # Overdue 7 = Sat 2026-01-03 -> Mon 01-05 (Trettondagsafton is a working day);
    # overdue 14 = Sat 01-10 -> Mon 01-12.
    log = simulate([item("2025-12-27")], "2025-12-01", "2026-01-16")
    assert unit_log(log) == [
        ("2025-12-15", "before", 14),
        ("2025-12-29", "due", 0),
        ("2026-01-05", "overdue", 7),
        ("2026-01-12", "overdue", 14),
    ]
    assert manager_log(log) == [("2026-01-12", "escalation", 14)]


def test_nyarsafton() -> None:
    # Due Wed 2025-12-31 (Nyårsafton), then Nyårsdagen Thu -> due reminder Fri 2026-01-02.
    # 3 before = Sun 12-28 -> Mon 12-29. 14 before = Wed 12-17.
    # Overdue 7 = Wed 2026-01-07 (Trettondedag jul is Tue 01-06).
    log = simulate([item("2025-12-31")], "2025-12-01", "2026-01-10")
    assert unit_log(log) == [
        ("2025-12-17", "before", 14),
        ("2025-12-29", "before", 3),
        ("2026-01-02", "due", 0),
        ("2026-01-07", "overdue", 7),
    ]


def test_easter_2025_14_before_on_langfredag() -> None:
    # Due Fri 2025-05-02. 14 before = Långfredag 04-18 -> Tue 04-22 (Annandag påsk 04-21).
    log = simulate([item("2025-05-02")], "2025-04-01", "2025-05-10")
    assert unit_log(log) == [
        ("2025-04-22", "before", 14),
        ("2025-04-29", "before", 3),
        ("2025-05-02", "due", 0),
        ("2025-05-09", "overdue", 7),
    ]


def test_easter_2025_due_on_annandag_pask() -> None:
    # Due 2025-04-21 (Annandag påsk). 3 before = Långfredag 04-18; both it and "due" move to
    # Tue 04-22, so only "due" is sent. Overdue 7 = Mon 04-28.
    log = simulate([item("2025-04-21")], "2025-03-25", "2025-04-30")
    assert unit_log(log) == [
        ("2025-04-07", "before", 14),
        ("2025-04-22", "due", 0),
        ("2025-04-28", "overdue", 7),
    ]


def test_easter_2025_3_before_on_annandag_pask() -> None:
    # Due Thu 2025-04-24: 3 before = Annandag påsk 04-21 -> Tue 04-22.
    log = simulate([item("2025-04-24")], "2025-04-01", "2025-04-25")
    assert unit_log(log) == [
        ("2025-04-10", "before", 14),
        ("2025-04-22", "before", 3),
        ("2025-04-24", "due", 0),
    ]


def test_month_end_on_saturday() -> None:
    # Due Sat 2025-05-31: 14 before Sat 05-17 -> Mon 05-19; 3 before Wed 05-28;
    # due -> Mon 06-02; overdue 7 Sat 06-07 -> Mon 06-09; 14 Sat 06-14 -> Mon 06-16.
    log = simulate([item("2025-05-31")], "2025-05-01", "2025-06-20")
    assert unit_log(log) == [
        ("2025-05-19", "before", 14),
        ("2025-05-28", "before", 3),
        ("2025-06-02", "due", 0),
        ("2025-06-09", "overdue", 7),
        ("2025-06-16", "overdue", 14),
    ]
    assert manager_log(log) == [("2025-06-16", "escalation", 14)]


def test_leap_day() -> None:
    # Due Thu 2024-02-29: 14 before Thu 02-15, 3 before Mon 02-26, overdue 7 Thu 03-07.
    log = simulate([item("2024-02-29")], "2024-02-01", "2024-03-08")
    assert unit_log(log) == [
        ("2024-02-15", "before", 14),
        ("2024-02-26", "before", 3),
        ("2024-02-29", "due", 0),
        ("2024-03-07", "overdue", 7),
    ]


def test_nothing_is_ever_sent_on_a_non_working_day() -> None:
    # Many items, run every calendar day including weekends and holidays.
    items = [
        item((D("2025-06-01") + dt.timedelta(days=i)).isoformat(), item_id=i) for i in range(60)
    ]
    log = simulate(items, "2025-05-10", "2025-09-30")
    run_days = {D(day) for day, *_ in log}
    assert run_days
    for bad in ["2025-06-06", "2025-06-20", "2025-06-21", "2025-06-22", "2025-07-05"]:
        assert D(bad) not in run_days


def test_empty_on_weekend_and_holidays() -> None:
    overdue = item("2025-01-15")
    for day in ["2025-06-20", "2025-06-21", "2025-06-22", "2025-04-18", "2025-12-24"]:
        assert run([overdue], at(day)) == [], day
    assert run([overdue], at("2025-06-23")) != []


# --- DST and the local date ---------------------------------------------------------------


def test_local_date_across_dst_changes() -> None:
    utc = dt.UTC
    # Spring: 2025-03-30 02:00 CET -> 03:00 CEST. 22:30Z on 03-30 is 00:30 on 03-31 locally.
    assert local_date(dt.datetime(2025, 3, 30, 22, 30, tzinfo=utc)) == D("2025-03-31")
    assert local_date(dt.datetime(2025, 3, 30, 21, 30, tzinfo=utc)) == D("2025-03-30")
    # Autumn: 2025-10-26 03:00 CEST -> 02:00 CET. 22:30Z is 23:30 on 10-26 locally.
    assert local_date(dt.datetime(2025, 10, 26, 22, 30, tzinfo=utc)) == D("2025-10-26")
    assert local_date(dt.datetime(2025, 10, 26, 23, 30, tzinfo=utc)) == D("2025-10-27")
    # A run at 00:30 local the day after the spring change, given with a non-UTC offset.
    assert local_date(dt.datetime.fromisoformat("2025-03-31T00:30:00+02:00")) == D("2025-03-31")


def test_local_date_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(dt.datetime(2025, 3, 31, 0, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        run([item("2025-03-31")], dt.datetime(2025, 3, 31, 0, 30))


def test_run_at_0030_after_spring_dst_change_uses_the_new_day() -> None:
    # Due Monday 2025-03-31. At 2025-03-30T22:30Z it is Monday 00:30 in Stockholm.
    due_monday = item("2025-03-31")
    got = run([due_monday], dt.datetime(2025, 3, 30, 22, 30, tzinfo=dt.UTC))
    assert [(r.reason, r.reason_detail) for r in got] == [("due", 0)]
    # One hour earlier it is still Sunday 23:30: nothing is sent on a Sunday.
    assert run([due_monday], dt.datetime(2025, 3, 30, 21, 30, tzinfo=dt.UTC)) == []


def test_run_around_autumn_dst_change() -> None:
    # Due Monday 2025-10-27. 22:30Z on Sunday 10-26 is 23:30 CET (still Sunday): nothing.
    # (Using the summer offset +02:00 by mistake would make it Monday 00:30.)
    due_monday = item("2025-10-27")
    assert run([due_monday], dt.datetime(2025, 10, 26, 22, 30, tzinfo=dt.UTC)) == []
    got = run([due_monday], dt.datetime(2025, 10, 26, 23, 30, tzinfo=dt.UTC))
    assert [(r.reason, r.reason_detail) for r in got] == [("due", 0)]


def test_dst_weekend_schedule() -> None:
    # Due Sun 2025-03-30 (spring DST): due reminder Mon 03-31; overdue 7 Sun 04-06 -> 04-07.
    log = simulate([item("2025-03-30")], "2025-03-10", "2025-04-08")
    assert unit_log(log) == [
        ("2025-03-17", "before", 14),
        ("2025-03-27", "before", 3),
        ("2025-03-31", "due", 0),
        ("2025-04-07", "overdue", 7),
    ]


# --- idempotency, changes, done -----------------------------------------------------------


def test_second_run_with_first_runs_keys_sends_nothing() -> None:
    items = [item("2025-09-25", item_id=1), item("2025-08-01", item_id=2)]
    now = at("2025-09-22")
    first = run(items, now, recipients=[MAILBOX, MEMBER])
    assert len(first) == 5  # 2 items x 2 unit addresses + 1 escalation
    assert run(items, now, recipients=[MAILBOX, MEMBER], sent={r.dedup_key for r in first}) == []
    # And later the same day, too.
    assert (
        run(
            items,
            at("2025-09-22", "16:45"),
            recipients=[MAILBOX, MEMBER],
            sent={r.dedup_key for r in first},
        )
        == []
    )


def test_dedup_key_format() -> None:
    [reminder] = run([item("2025-09-25", item_id=17)], at("2025-09-22"))
    assert reminder.dedup_key == "action:17|before:3|2025-09-25|ce@region.se"
    [reminder] = run(
        [item("2025-09-25", item_id=4, kind="control")], at("2025-10-09"), manager=None
    )
    assert reminder.dedup_key == "control:4|overdue:14|2025-09-25|ce@region.se"


def test_partially_sent_run_only_sends_the_rest() -> None:
    # A previous run reached the mailbox but failed for the member.
    items = [item("2025-09-25")]
    got = run(
        items,
        at("2025-09-22"),
        recipients=[MAILBOX, MEMBER],
        sent={"action:1|before:3|2025-09-25|ce@region.se"},
    )
    assert [r.recipient.address for r in got] == [MEMBER.address]


def test_changing_the_due_date_stops_old_reminders_and_starts_new_ones() -> None:
    old = item("2025-09-25")
    first = run([old], at("2025-09-22"))
    sent = {r.dedup_key for r in first}
    assert [r.reason for r in first] == ["before"]

    # Moved later, far enough that no new reminder is due yet: nothing at all.
    later = item("2025-11-28")
    assert run([later], at("2025-09-25"), sent=sent) == []
    assert run([later], at("2025-10-02"), sent=sent) == []  # no "overdue" for the old date
    # The new date's reminders come with new keys.
    [new] = run([later], at("2025-11-14"), sent=sent)
    assert (new.reason, new.reason_detail, new.due_date) == ("before", 14, D("2025-11-28"))
    assert new.dedup_key == "action:1|before:14|2025-11-28|ce@region.se"
    assert new.dedup_key not in sent


def test_moving_the_due_date_after_a_reminder_sends_the_reminder_for_the_new_date() -> None:
    # 3-days-before was sent for 09-25; the date moves to 09-30 on 09-23 (Tue).
    sent = {r.dedup_key for r in run([item("2025-09-25")], at("2025-09-22"))}
    [again] = run([item("2025-09-30")], at("2025-09-23"), sent=sent)
    # 14 before 09-30 was 09-16 (passed); 3 before is 09-27 (future): latest is "before 14".
    assert (again.reason, again.reason_detail) == ("before", 14)
    assert again.dedup_key.endswith("|2025-09-30|ce@region.se")


def test_done_items_get_nothing() -> None:
    for day in ["2025-09-11", "2025-09-22", "2025-09-25", "2025-10-09", "2026-03-02"]:
        assert run([item("2025-09-25", done=True)], at(day)) == []


def test_completing_an_item_stops_reminders_at_once() -> None:
    open_item, done_item = item("2025-09-25"), item("2025-09-25", done=True)
    assert run([open_item], at("2025-10-09")) != []
    assert run([done_item], at("2025-10-09")) == []


def test_items_far_in_the_future_get_nothing() -> None:
    assert run([item("2026-06-01")], at("2025-09-22")) == []


# --- catch-up after missed runs -----------------------------------------------------------


def test_missed_runs_send_only_the_latest_pending_reason() -> None:
    # Due Fri 2025-09-12: 14 before = Fri 08-29, 3 before = Tue 09-09.
    due = item("2025-09-12")
    # Cron did not run 08-29 .. 09-09; on Wed 09-10 only "3 before" goes out, not "14 before".
    got = run([due], at("2025-09-10"))
    assert [(r.reason, r.reason_detail) for r in got] == [("before", 3)]
    # Last run 09-01, next run Mon 09-15 (after the due date): only "due".
    sent = {r.dedup_key for r in run([due], at("2025-09-01"))}
    got = run([due], at("2025-09-15"), sent=sent)
    assert [(r.reason, r.reason_detail) for r in got] == [("due", 0)]
    # First run ever 19 days overdue: the 14-days-overdue reminder and the escalation only.
    got = run([due], at("2025-10-01"))
    assert sorted((r.reason, r.reason_detail) for r in got) == [
        ("escalation", 14),
        ("overdue", 14),
    ]


def test_if_the_latest_was_sent_older_unsent_ones_are_not_dug_up() -> None:
    due = item("2025-09-12")
    sent = {"action:1|before:3|2025-09-12|ce@region.se"}  # 14-before never sent
    assert run([due], at("2025-09-10"), sent=sent) == []


def test_weekly_cron_still_delivers_something_for_every_step() -> None:
    # Cron only on Mondays: each Monday sends the latest pending reminder.
    log = simulate([item("2025-09-25")], "2025-09-01", "2025-10-27", every_days=7)
    assert unit_log(log) == [
        ("2025-09-15", "before", 14),
        ("2025-09-22", "before", 3),
        ("2025-09-29", "due", 0),
        ("2025-10-06", "overdue", 7),
        ("2025-10-13", "overdue", 14),
        ("2025-10-20", "overdue", 21),
        ("2025-10-27", "overdue", 28),
    ]
    assert manager_log(log) == [("2025-10-13", "escalation", 14)]


def test_item_years_overdue_gets_one_current_reminder() -> None:
    # Due Mon 2020-01-06 is a holiday, irrelevant now; 2025-09-22 is 2086 days later,
    # 2086 // 7 * 7 = 2086: exactly a 7-day step (Monday to Monday).
    got = run([item("2020-01-06")], at("2025-09-22"))
    assert sorted((r.reason, r.reason_detail) for r in got) == [
        ("escalation", 14),
        ("overdue", 2086),
    ]


# --- escalation ---------------------------------------------------------------------------


def test_escalation_goes_to_the_manager_only() -> None:
    got = run([item("2025-09-25")], at("2025-10-09"), recipients=[MAILBOX, MEMBER])
    by_address = {(r.recipient.address, r.reason) for r in got}
    assert by_address == {
        (MAILBOX.address, "overdue"),
        (MEMBER.address, "overdue"),
        (MANAGER.address, "escalation"),
    }


def test_no_escalation_before_14_days() -> None:
    got = run([item("2025-09-25")], at("2025-10-08"))  # 13 days overdue
    assert MANAGER.address not in {r.recipient.address for r in got}


def test_no_manager_means_no_escalation_but_unit_reminders_continue() -> None:
    got = run([item("2025-09-25")], at("2025-10-09"), manager=None)
    assert [(r.recipient.address, r.reason) for r in got] == [(MAILBOX.address, "overdue")]


def test_repeated_escalation_when_configured() -> None:
    policy = ReminderPolicy(repeat_escalation_every_days=7)
    log = simulate([item("2025-09-25")], "2025-09-01", "2025-10-31", policy=policy)
    assert manager_log(log) == [
        ("2025-10-09", "escalation", 14),
        ("2025-10-16", "escalation", 21),
        ("2025-10-23", "escalation", 28),
        ("2025-10-30", "escalation", 35),
    ]


def test_manager_who_is_also_a_member_gets_both_reasons() -> None:
    # Separate tracks: the digest shows the item once, both keys are logged.
    got = run([item("2025-09-25")], at("2025-10-09"), recipients=[MAILBOX, MANAGER])
    assert sorted((r.recipient.address, r.reason) for r in got) == [
        (MAILBOX.address, "overdue"),
        (MANAGER.address, "escalation"),
        (MANAGER.address, "overdue"),
    ]


# --- policy variants ----------------------------------------------------------------------


def test_custom_policy() -> None:
    policy = ReminderPolicy(
        days_before=(30, 7, 1),
        on_due_date=False,
        repeat_overdue_every_days=14,
        escalate_after_days=30,
    )
    # Due Thu 2025-09-25: 30 before Tue 08-26; 7 before Thu 09-18; 1 before Wed 09-24;
    # overdue 14 Thu 10-09, 28 Thu 10-23; escalation 30 Sat 10-25 -> Mon 10-27.
    log = simulate([item("2025-09-25")], "2025-08-01", "2025-10-31", policy=policy)
    assert unit_log(log) == [
        ("2025-08-26", "before", 30),
        ("2025-09-18", "before", 7),
        ("2025-09-24", "before", 1),
        ("2025-10-09", "overdue", 14),
        ("2025-10-23", "overdue", 28),
    ]
    assert manager_log(log) == [("2025-10-27", "escalation", 30)]


def test_without_overdue_repetition_the_due_reminder_is_the_last() -> None:
    policy = ReminderPolicy(repeat_overdue_every_days=None, escalate_after_days=None)
    log = simulate([item("2025-09-25")], "2025-09-01", "2025-11-30", policy=policy)
    assert unit_log(log) == [
        ("2025-09-11", "before", 14),
        ("2025-09-22", "before", 3),
        ("2025-09-25", "due", 0),
    ]
    assert manager_log(log) == []


# --- recipients ---------------------------------------------------------------------------


def test_duplicate_addresses_get_one_reminder_and_the_user_entry_wins() -> None:
    shouting = Recipient("CE@Region.se", "CE", "sv", None, UNIT)
    as_user = Recipient("ce@region.se", "CE-gruppen", "en", 7, UNIT)
    got = run([item("2025-09-25")], at("2025-09-22"), recipients=[shouting, MAILBOX, as_user])
    assert len(got) == 1
    assert got[0].recipient == as_user
    assert normalize_address(" CE@Region.SE ") == "ce@region.se"


def test_a_new_member_gets_the_current_reminder() -> None:
    # Documented behaviour: the key includes the address, so someone who joins the unit after
    # a reminder went out gets the current (latest) reminder in the next run.
    sent = {r.dedup_key for r in run([item("2025-09-25")], at("2025-09-22"))}
    got = run([item("2025-09-25")], at("2025-09-23"), recipients=[MAILBOX, MEMBER], sent=sent)
    assert [(r.recipient.address, r.reason, r.reason_detail) for r in got] == [
        (MEMBER.address, "before", 3)
    ]


def test_unit_without_recipients_gets_nothing() -> None:
    assert run([item("2025-09-25")], at("2025-09-22"), recipients=[]) == []


def test_callbacks_are_called_once_per_unit() -> None:
    calls: list[tuple[str, int]] = []

    def recipients_for_unit(unit_id: int) -> list[Recipient]:
        calls.append(("unit", unit_id))
        return [MAILBOX]

    def manager_for_unit(unit_id: int) -> Recipient | None:
        calls.append(("manager", unit_id))
        return MANAGER

    items = [item("2025-09-01", item_id=i) for i in range(5)]
    due_reminders(
        items, ReminderPolicy(), at("2025-10-01"), recipients_for_unit, manager_for_unit, ()
    )
    assert sorted(calls) == [("manager", UNIT), ("unit", UNIT)]


def test_result_is_sorted_and_deterministic() -> None:
    items = [
        item("2025-09-25", item_id=2),
        item("2025-09-01", item_id=1, kind="control"),
        item("2025-09-01", item_id=3),
    ]
    got = run(items, at("2025-10-01"), recipients=[MEMBER, MAILBOX])
    keys = [r.dedup_key for r in got]
    assert keys == [
        "action:3|overdue:28|2025-09-01|anna.andersson@region.se",
        "control:1|overdue:28|2025-09-01|anna.andersson@region.se",
        "action:2|due:0|2025-09-25|anna.andersson@region.se",
        "action:3|overdue:28|2025-09-01|ce@region.se",
        "control:1|overdue:28|2025-09-01|ce@region.se",
        "action:2|due:0|2025-09-25|ce@region.se",
        "action:3|escalation:14|2025-09-01|chef.ce@region.se",
        "control:1|escalation:14|2025-09-01|chef.ce@region.se",
    ]
    assert [
        r.dedup_key
        for r in run(list(reversed(items)), at("2025-10-01"), recipients=[MEMBER, MAILBOX])
    ] == keys


# --- validation ---------------------------------------------------------------------------


def test_item_validation() -> None:
    with pytest.raises(ValueError):
        item("2025-09-25", kind="risk")
    with pytest.raises(ValueError):
        ReminderItem("action", 1, "x", UNIT, "CE", D("2025-09-25"), False, "https://evil.example/")
    with pytest.raises(ValueError):
        ReminderItem("action", 1, "x", UNIT, "CE", D("2025-09-25"), False, "//evil.example/x")
    with pytest.raises(TypeError):
        ReminderItem("action", 1, "x", UNIT, "CE", dt.datetime(2025, 9, 25), False, "/a/1")


def test_recipient_validation() -> None:
    with pytest.raises(ValueError):
        Recipient("not-an-address", "x", "sv", None, UNIT)
    with pytest.raises(ValueError):
        Recipient("a@b.se\r\nBcc: x@y.se", "x", "sv", None, UNIT)


def test_due_reminder_validation() -> None:
    it = item("2025-09-25")
    with pytest.raises(ValueError):
        DueReminder(it, "later", 0, MAILBOX, it.due_date, it.due_date)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DueReminder(it, "due", 0, MAILBOX, D("2025-09-26"), it.due_date)
