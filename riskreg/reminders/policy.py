"""Reminder policy and the Swedish working-day calendar.

Why a separate module: the calendar decides *when* a reminder may go out, the decision function
decides *what* goes out. Keeping the calendar here lets the web layer (e.g. a "next reminder on"
hint) reuse it without importing the decision logic.

Working days
------------
A day is a working day unless it is

* a Saturday or a Sunday,
* a Swedish public holiday (``allmän helgdag``, lag 1989:253) as listed by the ``holidays``
  package, or
* one of the three "afton" days: Midsommarafton, Julafton and Nyårsafton.

The afton days are not public holidays by law, but semesterlagen (1977:480) 7 § treats them
like Sundays, public offices (the region's included) are closed, and a reminder sent on
Julafton would be read on the next working day anyway. We therefore treat them as non-working.

Sundays: depending on its version, ``holidays`` lists every Sunday as a Swedish holiday or not
(the ``include_sundays`` default changed over time). We pass ``include_sundays=False`` and test
weekends ourselves so the result does not depend on the installed version. The afton days are
computed here rather than taken from the package's ``DE_FACTO`` category because that category
does not exist in every version that ``holidays>=0.60`` allows; a test cross-checks both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import holidays

__all__ = [
    "ReminderPolicy",
    "is_working_day",
    "next_working_day",
    "non_working_reason",
    "swedish_afton_days",
]

#: Upper bound for "days before" values. A reminder more than a year ahead is almost certainly a
#: typo in the configuration (e.g. 140 instead of 14) and is rejected rather than silently used.
MAX_DAYS = 366


def _check_days(name: str, value: object, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    # bool is an int subclass; True as "1 day" is never what someone meant.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int{' or None' if allow_none else ''}, got {value!r}")
    if not 1 <= value <= MAX_DAYS:
        raise ValueError(f"{name} must be between 1 and {MAX_DAYS} days, got {value}")


@dataclass(frozen=True)
class ReminderPolicy:
    """When owners (and their managers) are reminded about a due date.

    * ``days_before``: send a reminder this many days before the due date (each value once).
      Stored sorted from the earliest reminder (largest number) to the latest so that two
      policies with the same days compare equal regardless of input order.
    * ``on_due_date``: send a reminder on the due date itself.
    * ``repeat_overdue_every_days``: after the due date, remind the unit on day N, 2N, 3N ...
      overdue. ``None`` switches overdue reminders off.
    * ``escalate_after_days``: tell the unit's manager when the item is this many days overdue.
      ``None`` switches escalation off.
    * ``repeat_escalation_every_days``: by default (``None``) the manager is told **once per due
      date**: the unit keeps getting its overdue reminders, and a manager who gets the same
      escalation every week learns to ignore it. Set it to e.g. 7 to repeat the escalation every
      7 days after the first one.

    A reminder whose day falls on a non-working day is sent on the next working day (see
    :func:`next_working_day`).
    """

    days_before: tuple[int, ...] = (14, 3)
    on_due_date: bool = True
    repeat_overdue_every_days: int | None = 7
    escalate_after_days: int | None = 14
    repeat_escalation_every_days: int | None = None

    def __post_init__(self) -> None:
        raw = self.days_before
        if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
            raise TypeError(f"days_before must be a sequence of ints, got {raw!r}")
        days = tuple(raw)
        for value in days:
            _check_days("days_before", value, allow_none=False)
        if len(set(days)) != len(days):
            raise ValueError(f"days_before contains duplicates: {days!r}")
        # Frozen dataclass: normalise through object.__setattr__ (the documented way).
        object.__setattr__(self, "days_before", tuple(sorted(days, reverse=True)))
        if not isinstance(self.on_due_date, bool):
            raise TypeError(f"on_due_date must be a bool, got {self.on_due_date!r}")
        _check_days("repeat_overdue_every_days", self.repeat_overdue_every_days, allow_none=True)
        _check_days("escalate_after_days", self.escalate_after_days, allow_none=True)
        _check_days(
            "repeat_escalation_every_days", self.repeat_escalation_every_days, allow_none=True
        )
        if self.repeat_escalation_every_days is not None and self.escalate_after_days is None:
            raise ValueError("repeat_escalation_every_days needs escalate_after_days")


def swedish_afton_days(year: int) -> dict[dt.date, str]:
    """Midsommarafton, Julafton and Nyårsafton of ``year``.

    Midsommarafton is the Friday before Midsommardagen, which is the Saturday between 20 and 26
    June (lag 1989:253), so the afton is the Friday between 19 and 25 June.
    """
    june19 = dt.date(year, 6, 19)
    midsommarafton = june19 + dt.timedelta(days=(4 - june19.weekday()) % 7)  # 4 = Friday
    return {
        midsommarafton: "Midsommarafton",
        dt.date(year, 12, 24): "Julafton",
        dt.date(year, 12, 31): "Nyårsafton",
    }


@lru_cache(maxsize=64)
def _non_working_days(year: int) -> dict[dt.date, str]:
    """Holidays and afton days of one year (weekends are handled arithmetically).

    Cached per year: building a ``holidays`` calendar is far slower than a dict lookup, and the
    decision function asks about many days per run.
    """
    public = holidays.country_holidays("SE", years=year, include_sundays=False, language="sv")
    days: dict[dt.date, str] = {d: str(name) for d, name in public.items()}
    for day, name in swedish_afton_days(year).items():
        days.setdefault(day, name)
    return days


def non_working_reason(day: dt.date) -> str | None:
    """Why ``day`` is not a working day (Swedish name), or ``None`` if it is one.

    Useful for messages and tests; :func:`is_working_day` is the predicate.
    """
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"expected a date, got {day!r}")
    holiday = _non_working_days(day.year).get(day)
    if holiday is not None:
        return holiday
    if day.weekday() == 5:
        return "lördag"
    if day.weekday() == 6:
        return "söndag"
    return None


def is_working_day(day: dt.date) -> bool:
    """True unless ``day`` is a weekend, a Swedish public holiday or an afton day."""
    return non_working_reason(day) is None


def next_working_day(day: dt.date) -> dt.date:
    """``day`` itself if it is a working day, otherwise the first working day after it.

    Inclusive on purpose: a reminder scheduled for a Tuesday is sent that Tuesday.
    """
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day
