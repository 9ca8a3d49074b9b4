"""Money as Swedes read it. Amounts are integer öre everywhere; this is the one place that shows
them, by Babel's sv_SE rules: ``1 234 567,89 kr`` with no-break spaces (an amount never breaks
over two lines), a decimal comma and always two decimals.

Exact values (a ``Fraction`` from the sampling statistics, or a float from a formula) are
rounded up to whole öre before they are shown, so a limit is never understated.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from babel.numbers import format_currency, format_decimal

LOCALE = "sv_SE"
CURRENCY = "SEK"


def whole_ore(amount: int | Fraction | float) -> int:
    """An amount in öre rounded up (towards +infinity) to whole öre; floats by their repr."""
    exact = Fraction(Decimal(repr(amount))) if isinstance(amount, float) else Fraction(amount)
    return -((-exact.numerator) // exact.denominator)


def kronor(ore: int | Fraction | float) -> Decimal:
    """Öre as a Decimal number of kronor with two decimals: 123456 -> Decimal("1234.56")."""
    return Decimal(whole_ore(ore)).scaleb(-2)


def format_sek(ore: int | Fraction | float) -> str:
    """``1 234,56 kr`` (no-break spaces)."""
    return format_currency(kronor(ore), CURRENCY, locale=LOCALE)


def format_kronor(ore: int | Fraction | float) -> str:
    """The number without the currency, as in a column headed "kr": ``1 234,56``."""
    return format_decimal(kronor(ore), format="#,##0.00", locale=LOCALE)
