"""Value parsers for table cells: text, integers, amounts in öre, dates, J/N answers.

Framework-free like :mod:`riskreg.tabular`, which reads the files these cells come from.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _

#: A value as it comes out of a table.  CSV gives ``str`` only; XLSX cells arrive typed.
#: An empty cell is always ``""`` (never ``None``), so callers test emptiness one way.
Cell = str | int | float | Decimal | bool | datetime | date | time | timedelta

EXCEL_ERRORS: Final = frozenset(
    {"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#GETTING_DATA"}
)

_MINUS_SIGNS: Final = "-\u2212"
_SPACE_SEPARATORS: Final = " \u00a0\u202f\u2009"
_DROP_SPACES: Final = str.maketrans("", "", _SPACE_SEPARATORS)
_SIMPLE_SEK_RE: Final = re.compile(
    r"(?P<sign>-?)(?P<kronor>\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})*|\d+)(?:,(?P<ore>\d{1,2}))?",
    re.ASCII,
)
_MAX_ORE: Final = 10**17  # fits a signed 64-bit column with margin
_MONTHS: Final = (
    N_("januari"),
    N_("februari"),
    N_("mars"),
    N_("april"),
    N_("maj"),
    N_("juni"),
    N_("juli"),
    N_("augusti"),
    N_("september"),
    N_("oktober"),
    N_("november"),
    N_("december"),
)
_TOO_MANY_DECIMALS: Final = N_(
    "%(value)s har fler än två decimaler; belopp anges i kronor och öre."
)
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_text(value: Cell) -> str:
    """Normalise a cell to text: stripped, NFC, ``\\n`` line breaks.

    NFC matters because Mac and some web forms deliver ``å`` decomposed (a + ring), which would
    not match a unit code typed on Windows.  Excel error values (``#REF!``) and control
    characters are refused: they are never what the user meant to import.
    """
    if isinstance(value, bool):
        return "SANT" if value else "FALSKT"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(_("är inte ett ändligt tal."))
        text = str(int(value)) if value.is_integer() else format(value, ".15g")
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if text.upper() in EXCEL_ERRORS:
        raise ValueError(_("innehåller Excels felvärde %(value)s.", value=text))
    if _CONTROL_RE.search(text):
        raise ValueError(_("innehåller otillåtna styrtecken."))
    return text


def parse_int(value: Cell) -> int:
    """Parse an integer: ``4``, ``-12``, ``1 000`` (space/NBSP grouping), or an integral XLSX
    number (``4.0``).  Decimals are refused, not truncated: "4,5" risks is a data error."""
    if isinstance(value, bool):
        raise ValueError(_("%(value)s är inte ett heltal.", value=_quote(value)))
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(_("%(value)s är inte ett heltal.", value=_quote(value)))
        if value != int(value):
            raise ValueError(_("%(value)s är inte ett heltal.", value=_quote(value)))
        return int(value)
    if not isinstance(value, str):
        raise ValueError(_("%(value)s är inte ett heltal.", value=_quote(value)))
    text = value.strip()
    if not text:
        raise ValueError(_("värde saknas."))
    sign, body = _split_sign(text)
    digits = _ungroup(body, ())
    if digits is None:
        raise ValueError(_("%(value)s är inte ett heltal.", value=_quote(text)))
    return sign * int(digits)


def parse_decimal_sek(value: Cell) -> int:
    """Parse a Swedish kronor amount and return **integer öre** (no float anywhere).

    Documented rule:

    * Thousands may be grouped by space, NBSP (U+00A0), narrow NBSP (U+202F) or thin space,
      in groups of exactly three digits: ``1 234 567,50``.
    * Decimal comma is the Swedish standard: ``1234,5`` and ``1 234,50``.
    * A decimal point with 1-2 decimals is accepted, as written by systems and Excel in
      English mode: ``1234.50``.
    * When both ``,`` and ``.`` occur, the rightmost is the decimal mark and the other must be
      valid three-digit grouping: ``1,234.50`` and ``1.234,50`` are both 1234.50 kr.
    * A single ``,`` or ``.`` followed by exactly three digits (``12,345``, ``1.234``) is
      **ambiguous** (thousands or decimals?) and refused.  With space grouping present
      (``1 234,567``) the mark can only be decimal, so that is "too many decimals".
    * At most two decimals (öre).  Sign: leading ``-``, ``+`` or U+2212 minus.
    * Suffix ``kr``, ``kr.``, ``SEK`` and whole-kronor marks ``:-`` / ``,-`` are accepted.
    * XLSX numbers: ``int`` is kronor; a ``float`` is first rounded to 15 significant digits
      (what Excel shows, removing binary noise like 1234.5000000000002) and must then have at
      most two decimals.
    """
    if isinstance(value, bool):
        raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(value)))
    if isinstance(value, int):
        return _check_ore(value * 100, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(value)))
        return _decimal_to_ore(Decimal(format(value, ".15g")), value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(value)))
        return _decimal_to_ore(value, value)
    if not isinstance(value, str):
        raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(value)))
    simple = _SIMPLE_SEK_RE.fullmatch(value)
    if simple:  # the common Swedish form, e.g. "-1 234,50"; same result as the full rules
        kronor = simple["kronor"].translate(_DROP_SPACES)
        ore = int(kronor) * 100 + int((simple["ore"] or "").ljust(2, "0"))
        return _check_ore(-ore if simple["sign"] else ore, value)
    original = value.strip()
    if not original:
        raise ValueError(_("belopp saknas."))
    text = original
    folded = text.casefold()
    for suffix in ("sek", "kr.", "kr"):
        if folded.endswith(suffix):
            text = text[: -len(suffix)].rstrip(" " + _SPACE_SEPARATORS)
            break
    whole_only = False
    if text.endswith((":-", ",-")):
        text, whole_only = text[:-2], True
    sign, body = _split_sign(text)
    if not body or not body[0].isdigit() or not body[-1].isdigit():
        raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(original)))
    if any(not (c.isdigit() and c.isascii()) and c not in ",." + _SPACE_SEPARATORS for c in body):
        raise ValueError(
            _("%(value)s är inte ett belopp (otillåtna tecken).", value=_quote(original))
        )
    commas, dots = body.count(","), body.count(".")
    spaced = any(c in _SPACE_SEPARATORS for c in body)
    decimal_mark: str | None = None
    thousands: tuple[str, ...] = ()
    if commas and dots:
        decimal_mark = "," if body.rfind(",") > body.rfind(".") else "."
        other = "." if decimal_mark == "," else ","
        if body.count(decimal_mark) != 1 or spaced:
            raise ValueError(
                _("%(value)s har felaktig tusentalsgruppering.", value=_quote(original))
            )
        thousands = (other,)
    elif commas == 1 or dots == 1:
        decimal_mark = "," if commas else "."
        integer_part, _mark, fraction = body.partition(decimal_mark)
        if (
            len(fraction) == 3
            and not spaced
            and 1 <= len(integer_part) <= 3
            and not integer_part.startswith("0")
        ):
            kr = f"{integer_part} {fraction}"
            raise ValueError(
                _(
                    "%(value)s är tvetydigt: det kan betyda %(kr)s kr eller %(decimals)s kr. "
                    "Skriv %(kr)s eller använd decimalkomma med högst två decimaler.",
                    value=_quote(original),
                    kr=kr,
                    decimals=f"{integer_part},{fraction}",
                )
            )
    elif commas or dots:
        if spaced:
            raise ValueError(
                _("%(value)s har felaktig tusentalsgruppering.", value=_quote(original))
            )
        thousands = (",",) if commas else (".",)
    if decimal_mark is not None:
        integer_part, _mark, fraction = body.partition(decimal_mark)
    else:
        integer_part, fraction = body, ""
    if decimal_mark is not None and whole_only:
        raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(original)))
    if decimal_mark is not None and not fraction.isdigit():
        raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(original)))
    if len(fraction) > 2:
        raise ValueError(_(_TOO_MANY_DECIMALS, value=_quote(original)))
    digits = _ungroup(integer_part, thousands)
    if digits is None:
        raise ValueError(_("%(value)s har felaktig tusentalsgruppering.", value=_quote(original)))
    ore = int(digits) * 100 + int(fraction.ljust(2, "0") or "0")
    return _check_ore(sign * ore, original)


def _split_sign(text: str) -> tuple[int, str]:
    if text[:1] in _MINUS_SIGNS:
        return -1, text[1:]
    if text[:1] == "+":
        return 1, text[1:]
    return 1, text


def _ungroup(text: str, marks: tuple[str, ...]) -> str | None:
    """Digits of ``text`` after removing valid three-digit grouping; ``None`` if invalid."""
    separators = _SPACE_SEPARATORS + "".join(marks)
    groups = re.split(f"[{re.escape(separators)}]", text)
    if not all(g.isascii() and g.isdigit() for g in groups):
        return None
    if len(groups) > 1 and (len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:])):
        return None
    return "".join(groups)


def _decimal_to_ore(amount: Decimal, shown: object) -> int:
    try:
        ore = amount * 100
        if ore != ore.to_integral_value():
            raise ValueError(_(_TOO_MANY_DECIMALS, value=_quote(shown)))
        return _check_ore(int(ore), shown)
    except InvalidOperation as exc:
        raise ValueError(_("%(value)s är inte ett belopp.", value=_quote(shown))) from exc


def _check_ore(ore: int, shown: object) -> int:
    if abs(ore) >= _MAX_ORE:
        raise ValueError(_("%(value)s är orimligt stort för ett belopp.", value=_quote(shown)))
    return ore


_DATE_RE: Final = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?",
    re.ASCII,
)
_COMPACT_DATE_RE: Final = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})", re.ASCII)


def parse_date(value: Cell, *, allow_time: bool = False) -> date:
    """Parse a date: ISO ``2025-08-15``, Excel's ``2025-08-15 00:00:00``, compact
    ``20250815``, or a native XLSX date/datetime.

    Other notations (``15/8/2025``, ``8/15/2025``, ``15.08.2025``) are refused: day and month
    order cannot be told apart safely.  A time of day other than midnight is refused unless
    ``allow_time`` (a deadline "at 13:45" is a data error; a payment timestamp is not).
    A bare number (an Excel date serial that lost its format) is refused as well.
    """
    if isinstance(value, datetime):
        if not allow_time and value.time() != time():
            raise ValueError(
                _("%(value)s innehåller ett klockslag; ange bara datum.", value=_quote(value))
            )
        return _check_year(value.date(), value)
    if isinstance(value, date):
        return _check_year(value, value)
    if isinstance(value, bool | int | float | Decimal):
        raise ValueError(
            _(
                "%(value)s är ett tal, inte ett datum. Formatera cellen som datum (ÅÅÅÅ-MM-DD).",
                value=_quote(value),
            )
        )
    if not isinstance(value, str):
        raise ValueError(_("%(value)s är inte ett datum.", value=_quote(value)))
    text = value.strip()
    if not text:
        raise ValueError(_("datum saknas."))
    match = _DATE_RE.fullmatch(text) or _COMPACT_DATE_RE.fullmatch(text)
    if not match:
        raise ValueError(
            _("%(value)s är inte ett datum i formatet ÅÅÅÅ-MM-DD.", value=_quote(text))
        )
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    if not 1 <= month <= 12:
        raise ValueError(
            _(
                "%(value)s är inget giltigt datum: månad %(month)s finns inte.",
                value=_quote(text),
                month=month,
            )
        )
    try:
        result = date(year, month, day)
    except ValueError:
        days = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
        raise ValueError(
            _(
                "%(value)s är inget giltigt datum: %(month)s %(year)s har %(days)s dagar.",
                value=_quote(text),
                month=_(_MONTHS[month - 1]),
                year=year,
                days=days,
            )
        ) from None
    groups = match.groupdict()
    if groups.get("H") is not None:
        hour, minute, second = int(groups["H"]), int(groups["M"]), int(groups["S"] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(_("%(value)s har ett ogiltigt klockslag.", value=_quote(text)))
        if not allow_time and (hour, minute, second) != (0, 0, 0):
            raise ValueError(
                _("%(value)s innehåller ett klockslag; ange bara datum.", value=_quote(text))
            )
    return _check_year(result, text)


def _check_year(result: date, shown: object) -> date:
    if not 1900 <= result.year <= 2100:
        raise ValueError(
            _("%(value)s: året %(year)s är orimligt.", value=_quote(shown), year=result.year)
        )
    return result


_TRUE: Final = frozenset({"j", "ja", "sant", "true"})
_FALSE: Final = frozenset({"n", "nej", "falskt", "false"})
_NOT_APPLICABLE: Final = frozenset({"ea", "e/a", "e.a.", "ej aktuellt", "ej aktuell"})


def parse_bool_jn(value: Cell) -> bool | None:
    """Parse J/N (Ja/Nej) answers as in the PPM-BHK protocols; ``EA`` (ej aktuellt) → None.

    Empty is an error, not "no": an unanswered step must not count as a failed one.
    """
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError(_("%(value)s är inte J, N eller EA.", value=_quote(value)))
    text = value.strip().casefold()
    if not text:
        raise ValueError(_("värde saknas (J, N eller EA)."))
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _NOT_APPLICABLE:
        return None
    raise ValueError(_("%(value)s är inte J, N eller EA.", value=_quote(value.strip())))


def _quote(value: object) -> str:
    if isinstance(value, datetime | date):
        return f"”{value.isoformat()}”"
    return f"”{value}”"
