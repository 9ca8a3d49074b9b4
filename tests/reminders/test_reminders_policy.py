"""The Swedish working-day calendar and policy validation.

Expected dates are written out by hand from the 2025/2026 calendars, not computed.
"""

from __future__ import annotations

import datetime as dt

import holidays
import pytest

from riskreg.reminders.policy import (
    ReminderPolicy,
    is_working_day,
    next_working_day,
    non_working_reason,
    swedish_afton_days,
)

D = dt.date.fromisoformat


@pytest.mark.parametrize(
    "day",
    [
        "2025-01-01",  # Nyårsdagen
        "2025-01-06",  # Trettondedag jul
        "2025-04-18",  # Långfredagen
        "2025-04-20",  # Påskdagen (a Sunday)
        "2025-04-21",  # Annandag påsk
        "2025-05-01",  # Första maj
        "2025-05-29",  # Kristi himmelsfärdsdag
        "2025-06-06",  # Sveriges nationaldag
        "2025-06-20",  # Midsommarafton
        "2025-06-21",  # Midsommardagen (a Saturday)
        "2025-11-01",  # Alla helgons dag (a Saturday)
        "2025-12-24",  # Julafton
        "2025-12-25",  # Juldagen
        "2025-12-26",  # Annandag jul
        "2025-12-31",  # Nyårsafton
        "2026-01-01",  # Nyårsdagen
    ],
)
def test_non_working_days(day: str) -> None:
    assert not is_working_day(D(day))
    assert non_working_reason(D(day))


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        # Our own names for the afton days and weekends; holiday names come from the holidays
        # package and may change between its versions, so they are not pinned here.
        ("2025-06-20", "Midsommarafton"),
        ("2025-12-24", "Julafton"),
        ("2025-12-31", "Nyårsafton"),
        ("2025-06-14", "lördag"),
        ("2025-06-15", "söndag"),
    ],
)
def test_non_working_reason_names(day: str, reason: str) -> None:
    assert non_working_reason(D(day)) == reason


def test_holiday_names_are_swedish() -> None:
    assert non_working_reason(D("2025-04-18")) == "Långfredagen"


@pytest.mark.parametrize(
    "day",
    [
        "2025-04-17",  # Skärtorsdag: half day at most, a working day
        "2025-04-22",  # Tuesday after Annandag påsk
        "2025-04-30",  # Valborgsmässoafton: working day
        "2025-05-30",  # klämdag after Kristi himmelsfärd: working day
        "2025-06-19",  # Thursday before Midsommarafton
        "2025-06-23",  # Monday after Midsommar
        "2025-12-23",
        "2025-12-29",
        "2026-01-02",
        "2026-01-05",  # Trettondagsafton: working day
        "2025-03-31",  # Monday after the spring DST change
        "2025-10-27",  # Monday after the autumn DST change
    ],
)
def test_working_days(day: str) -> None:
    assert is_working_day(D(day))
    assert non_working_reason(D(day)) is None


def test_every_saturday_and_sunday_of_2025_is_non_working() -> None:
    # Guards against the holidays package's include_sundays default changing under us.
    day = D("2025-01-04")  # first Saturday of 2025
    while day.year == 2025:
        assert not is_working_day(day), day
        assert not is_working_day(day + dt.timedelta(days=1)), day + dt.timedelta(days=1)
        day += dt.timedelta(days=7)


def test_number_of_working_days_in_2025() -> None:
    # 2025 starts on a Wednesday: 52 Saturdays + 52 Sundays. Holidays and aftons on weekdays:
    # Jan 1, Jan 6, Apr 18, Apr 21, May 1, May 29, Jun 6, Jun 20 (afton), Dec 24 (afton),
    # Dec 25, Dec 26, Dec 31 (afton) = 12. Midsommardagen and Alla helgons dag are Saturdays.
    days = [D("2025-01-01") + dt.timedelta(days=i) for i in range(365)]
    assert sum(is_working_day(d) for d in days) == 365 - 104 - 12


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2025-06-19", "2025-06-19"),  # already a working day: same day
        ("2025-06-20", "2025-06-23"),  # Midsommarafton -> Monday
        ("2025-06-21", "2025-06-23"),  # Midsommardagen -> Monday
        ("2025-04-18", "2025-04-22"),  # Långfredag -> Tuesday after Annandag påsk
        ("2025-04-21", "2025-04-22"),
        ("2025-12-24", "2025-12-29"),  # Julafton .. weekend -> Monday
        ("2025-12-31", "2026-01-02"),  # Nyårsafton, Nyårsdagen -> Friday
        ("2025-05-31", "2025-06-02"),  # month end on a Saturday
        ("2025-11-01", "2025-11-03"),
        ("2026-01-06", "2026-01-07"),
    ],
)
def test_next_working_day(day: str, expected: str) -> None:
    assert next_working_day(D(day)) == D(expected)


@pytest.mark.parametrize(
    ("year", "midsommarafton"),
    [
        (2024, "2024-06-21"),
        (2025, "2025-06-20"),
        (2026, "2026-06-19"),
        (2027, "2027-06-25"),
        (2028, "2028-06-23"),
    ],
)
def test_afton_days(year: int, midsommarafton: str) -> None:
    assert swedish_afton_days(year) == {
        D(midsommarafton): "Midsommarafton",
        dt.date(year, 12, 24): "Julafton",
        dt.date(year, 12, 31): "Nyårsafton",
    }


def test_afton_days_agree_with_holidays_de_facto_category() -> None:
    if "de_facto" not in getattr(holidays.Sweden, "supported_categories", ()):
        pytest.skip("this holidays version has no DE_FACTO category for Sweden")
    years = range(1960, 2101)
    de_facto = holidays.country_holidays("SE", years=years, categories=("de_facto",))
    ours = {d for y in years for d in swedish_afton_days(y)}
    assert set(de_facto) == ours


def test_non_working_reason_rejects_datetime() -> None:
    with pytest.raises(TypeError):
        non_working_reason(dt.datetime(2025, 6, 20, 12, 0))  # type: ignore[arg-type]


# --- policy ---------------------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = ReminderPolicy()
    assert policy.days_before == (14, 3)
    assert policy.on_due_date is True
    assert policy.repeat_overdue_every_days == 7
    assert policy.escalate_after_days == 14
    assert policy.repeat_escalation_every_days is None


def test_policy_normalises_days_before() -> None:
    assert ReminderPolicy(days_before=(3, 14)) == ReminderPolicy()
    assert ReminderPolicy(days_before=[1, 30, 7]).days_before == (30, 7, 1)  # type: ignore[arg-type]
    assert ReminderPolicy(days_before=()).days_before == ()


def test_policy_is_frozen_and_hashable() -> None:
    policy = ReminderPolicy()
    with pytest.raises(AttributeError):
        policy.on_due_date = False  # type: ignore[misc]
    assert hash(policy) == hash(ReminderPolicy())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"days_before": (14, 14)}, ValueError),
        ({"days_before": (0,)}, ValueError),
        ({"days_before": (-3,)}, ValueError),
        ({"days_before": (400,)}, ValueError),
        ({"days_before": (True,)}, TypeError),
        ({"days_before": (3.0,)}, TypeError),
        ({"days_before": "14"}, TypeError),
        ({"days_before": 14}, TypeError),
        ({"on_due_date": 1}, TypeError),
        ({"repeat_overdue_every_days": 0}, ValueError),
        ({"repeat_overdue_every_days": "7"}, TypeError),
        ({"escalate_after_days": 0}, ValueError),
        ({"escalate_after_days": False}, TypeError),
        ({"repeat_escalation_every_days": 0}, ValueError),
        ({"escalate_after_days": None, "repeat_escalation_every_days": 7}, ValueError),
    ],
)
def test_policy_validation(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        ReminderPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_allows_switching_parts_off() -> None:
    policy = ReminderPolicy(
        days_before=(), on_due_date=False, repeat_overdue_every_days=None, escalate_after_days=None
    )
    assert policy.repeat_overdue_every_days is None
