"""One way to show money and one time zone: every surface formats amounts through riskreg.money
(Babel's sv_SE rules) and takes Europe/Stockholm from riskreg.db."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskreg import money
from riskreg.db import LOCAL_TIMEZONE, LOCAL_TIMEZONE_NAME
from riskreg.tabular import parse_decimal_sek

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("ore", "shown"),
    [
        (0, "0,00 kr"),
        (5, "0,05 kr"),
        (125_000, "1 250,00 kr"),
        (123_456_789, "1 234 567,89 kr"),
        (-125_050, "-1 250,50 kr"),
        (Fraction(1, 3), "0,01 kr"),  # rounded up: a limit is never understated
        (Fraction(-1, 3), "0,00 kr"),
        (1000.5, "10,01 kr"),
    ],
)
def test_amounts_as_swedes_write_them_with_no_break_spaces(ore: int | Fraction, shown: str) -> None:
    assert money.format_sek(ore) == shown.replace(" ", NBSP)


def test_the_number_alone_for_kronor_columns() -> None:
    assert money.format_kronor(123_456_789) == f"1{NBSP}234{NBSP}567,89"


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_every_shown_amount_reads_back_as_the_same_ore(ore: int) -> None:
    """What the pages, PDFs and demo files show can be typed or imported back unchanged."""
    assert parse_decimal_sek(money.format_sek(ore)) == ore
    assert parse_decimal_sek(money.format_kronor(ore)) == ore


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_pages_pdfs_and_statistics_show_an_amount_alike(ore: int) -> None:
    from riskreg.controls.views import ControlsUI
    from riskreg.reports._layout import fmt_ore
    from riskreg.reports.assemble import _sek
    from riskreg.sampling._exact import format_sek
    from riskreg.sampling.demo import _sek as demo_amount

    shown = money.format_sek(ore)
    assert {ControlsUI().sek(ore), fmt_ore(ore), _sek(ore), format_sek(ore)} == {shown}
    assert demo_amount(ore) + f"{NBSP}kr" == shown


def test_stockholm_is_named_in_one_place() -> None:
    root = Path(__file__).resolve().parents[1] / "riskreg"
    naming = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"""["']Europe/Stockholm["']""", path.read_text(encoding="utf-8"))
    )
    assert naming == ["db.py"]
    assert str(LOCAL_TIMEZONE) == LOCAL_TIMEZONE_NAME == "Europe/Stockholm"


def test_the_app_shows_times_in_the_same_zone() -> None:
    from riskreg.audit.services import DISPLAY_TIMEZONE
    from riskreg.config import DEFAULTS

    assert DEFAULTS["BABEL_DEFAULT_TIMEZONE"] == LOCAL_TIMEZONE_NAME
    assert DISPLAY_TIMEZONE is LOCAL_TIMEZONE
