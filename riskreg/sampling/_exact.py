"""Exact-arithmetic helpers shared by the sampling modules.

Audit sample sizes hinge on integer thresholds such as ``ceil(n * expected_rate)``.
Doing that in binary floating point is a known trap: ``200 * 0.035`` is
``7.000000000000001`` in IEEE 754, whose ceiling is 8, not 7, and that single unit
changes a sample size from the published table value. Every rate or amount that
feeds such a threshold is therefore converted to :class:`fractions.Fraction` from
its *decimal string form* first, so ``0.035`` means exactly 35/1000.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from riskreg import money

Exact = int | float | str | Decimal | Fraction
"""Anything we accept where an exact rational number is meant."""


def to_fraction(value: Exact, name: str = "value") -> Fraction:
    """Convert ``value`` to an exact :class:`Fraction` using its decimal form.

    Floats go through ``repr`` (the shortest string that round-trips), because the
    user typed ``0.035`` and means 35/1000, not the binary approximation
    0.035000000000000003330669073875469621270895004272460937500. Booleans are
    rejected: ``True`` silently becoming 1 would hide a programming error.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not bool")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be finite, got {value!r}")
        return Fraction(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except ArithmeticError as exc:
            raise ValueError(f"{name} is not a decimal number: {value!r}") from exc
        return to_fraction(parsed, name)
    raise TypeError(f"{name} must be int, float, str, Decimal or Fraction, not {type(value)}")


def ceil_fraction(value: Fraction) -> int:
    """Exact ceiling of a fraction (integer floor division never rounds wrongly)."""
    return -((-value.numerator) // value.denominator)


def require_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Validate an integer argument; bools and floats are refused on purpose.

    Sample sizes, deviation counts and öre amounts are counts, and accepting
    ``59.0`` or ``True`` would let a unit or type mistake slip through unnoticed.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def fraction_to_decimal(value: Fraction, places: int = 12) -> Decimal:
    """Exact decimal when the fraction terminates, else rounded to ``places``.

    Used only for display and for recording parameters, never for decisions.
    """
    decimal_value = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(decimal_value) == value:
        return decimal_value.normalize() if decimal_value != 0 else Decimal(0)
    quantum = Decimal(1).scaleb(-places)
    return decimal_value.quantize(quantum, rounding=ROUND_HALF_EVEN).normalize()


def _swedish_number(value: Decimal) -> str:
    """Decimal comma and no exponent, as Swedish reports expect."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def format_percent(rate: Fraction) -> str:
    """Format a rate (fraction of 1) as a Swedish percentage, e.g. ``3,25 %``."""
    return f"{_swedish_number(fraction_to_decimal(rate * 100, places=2))} %"


def format_percent_decimal(percent: Decimal) -> str:
    """Format an already computed percentage (e.g. a rounded-up limit) in Swedish."""
    return f"{format(percent, 'f').replace('.', ',')} %"


def format_count(count: int) -> str:
    """Group thousands with a space, as in Swedish text: ``2 000``."""
    return f"{count:,}".replace(",", " ")


def format_sek(ore: int | Fraction) -> str:
    """Format an amount in öre as ``1 234 567,89 kr`` (rounded up to whole öre; riskreg.money)."""
    return money.format_sek(ore)


def ceil_to_places(value: Fraction, places: int) -> Decimal:
    """Round an exact value up (towards +infinity) to ``places`` decimals."""
    units = ceil_fraction(value * 10**places)
    return (Decimal(units) * Decimal(1).scaleb(-places)).quantize(Decimal(1).scaleb(-places))
