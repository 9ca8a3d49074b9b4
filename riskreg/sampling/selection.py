"""Reproducible sample selection (urval) for riskreg's sample checks.

ISA 530 documentation must let anyone re-draw the same sample from the same
population and seed. Python's ``random`` module is deliberately *not* used: its
algorithms are not promised to be stable across versions, and a reviewer should be
able to verify a selection with nothing but SHA-256. Every random choice here is
derived from SHA-256 of UTF-8 text, and the exact derivations are documented so that
they can be re-implemented in a spreadsheet or another language.

Keys are strings (the record's stable identifier as it appears in the imported
file); amounts are integer öre.
"""

from __future__ import annotations

import hashlib
import heapq
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from fractions import Fraction

from riskreg.sampling._exact import require_int

__all__ = [
    "MusHit",
    "MusSelection",
    "SystematicSample",
    "derived_int",
    "generate_seed",
    "mus_cell_selection",
    "mus_fixed_interval",
    "randbelow",
    "record_rank",
    "simple_random_sample",
    "stratified_sample",
    "stratum_seed",
    "systematic_sample",
]

UNIT_SEPARATOR = "\x1f"
RECORD_SEPARATOR = "\x1e"
_TWO_64 = 1 << 64


def _check_seed(seed: str) -> str:
    """Seeds are non-empty text without the unit separator.

    Forbidding U+001F in the seed makes ``seed + U+001F + key`` unambiguous, so no
    two (seed, key) pairs can hash the same text.
    """
    if not isinstance(seed, str):
        raise TypeError(f"seed must be str, got {type(seed).__name__}")
    if not seed:
        raise ValueError("seed must not be empty")
    if UNIT_SEPARATOR in seed:
        raise ValueError("seed must not contain the unit separator U+001F")
    return seed


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"record keys must be str, got {type(key).__name__}")
    return key


def generate_seed() -> str:
    """A fresh seed: 128 bits from the operating system's CSPRNG, as 32 hex digits.

    The seed is chosen before the population is seen by anyone who could game the
    selection, and is stored with the sample so the draw can be repeated.
    """
    return secrets.token_hex(16)


def record_rank(seed: str, record_key: str) -> int:
    """First 8 bytes of SHA-256(UTF-8(seed + U+001F + key)), big-endian unsigned.

    The rank is a uniform pseudo-random number that depends only on the seed and
    the key, never on the order of the population or on the other records. That
    is what makes the draw order-independent, verifiable with any SHA-256 tool,
    and extendable (see :func:`simple_random_sample`).
    """
    _check_seed(seed)
    text = seed + UNIT_SEPARATOR + _check_key(record_key)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _ranked(keys: Iterable[str], seed: str) -> Iterator[tuple[int, str]]:
    """(rank, key) pairs; the hasher state for the seed prefix is reused per key."""
    prefix = hashlib.sha256((_check_seed(seed) + UNIT_SEPARATOR).encode("utf-8"))
    for key in keys:
        hasher = prefix.copy()
        hasher.update(_check_key(key).encode("utf-8"))
        yield int.from_bytes(hasher.digest()[:8], "big"), key


def simple_random_sample(keys: Iterable[str], n: int, seed: str) -> list[str]:
    """The ``n`` keys with the smallest ranks, in rank order (ties broken by key).

    Ranking by a per-record hash gives a simple random sample without replacement.
    Because ranks do not depend on ``n``, the first ``n`` picks of a larger sample
    are exactly the smaller sample: extending a sample after deviations are found
    keeps everything already examined. ``heapq.nsmallest`` keeps only ``n`` entries,
    so a million keys can be streamed from a file or a query without sorting them.
    If the population has fewer than ``n`` keys, all of them are returned (a
    census). Keys must be unique; a duplicate that ends up selected raises.
    """
    require_int(n, "n", minimum=0)
    _check_seed(seed)  # also when n == 0 and the keys are never read
    picked = heapq.nsmallest(n, _ranked(keys, seed))
    selected = [key for _, key in picked]
    if len(set(selected)) != len(selected):
        raise ValueError("duplicate record keys in the population")
    return selected


def stratum_seed(seed: str, stratum: str) -> str:
    """Seed for one stratum: ``seed + U+001E + stratum name``.

    Namespacing keeps strata independent (a key present in two strata gets
    different ranks) while the whole draw still follows from one recorded seed.
    """
    _check_seed(seed)
    if not isinstance(stratum, str) or UNIT_SEPARATOR in stratum:
        raise ValueError("stratum names must be str without U+001F")
    return seed + RECORD_SEPARATOR + stratum


def stratified_sample(
    strata: Mapping[str, Iterable[str]], sizes: Mapping[str, int], seed: str
) -> dict[str, list[str]]:
    """Simple random sample within each stratum (e.g. oversampling the leavers).

    ``sizes`` must name exactly the strata given, so that a forgotten stratum is an
    error rather than a silently unsampled part of the population. A key selected
    in two strata means the strata overlap, which would distort the evaluation.
    """
    if set(strata) != set(sizes):
        missing = sorted(set(strata) ^ set(sizes))
        raise ValueError(f"strata and sizes must name the same strata; differ in {missing}")
    result = {
        name: simple_random_sample(keys, sizes[name], stratum_seed(seed, name))
        for name, keys in strata.items()
    }
    seen: set[str] = set()
    for picked in result.values():
        if seen.intersection(picked):
            raise ValueError("a record was selected in more than one stratum")
        seen.update(picked)
    return result


def derived_int(seed: str, label: str) -> int:
    """First 8 bytes of SHA-256(UTF-8(label + U+001F + seed)), big-endian.

    Labels (``riskreg:systematic-start``, ``riskreg:mus-start#0``, ...) separate the
    purposes a seed is used for, so a start value never equals a record's rank.
    """
    text = label + UNIT_SEPARATOR + _check_seed(seed)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def randbelow(seed: str, label: str, upper: int) -> int:
    """Uniform integer in ``[0, upper)`` from the seed, without modulo bias.

    Draws ``derived_int(seed, f"{label}#{i}")`` for i = 0, 1, ... and takes the
    first value below the largest multiple of ``upper`` that fits in 64 bits,
    reduced modulo ``upper``. The first draw is accepted except with probability
    below ``upper / 2**64``.
    """
    require_int(upper, "upper", minimum=1)
    if upper > _TWO_64:
        raise ValueError("upper must not exceed 2**64")
    limit = (_TWO_64 // upper) * upper
    attempt = 0
    while True:
        value = derived_int(seed, f"{label}#{attempt}")
        if value < limit:
            return value % upper
        attempt += 1


@dataclass(frozen=True)
class SystematicSample:
    """Systematic selection with its start and interval, for the audit trail.

    ``positions`` are 0-based indices into the population in the given order.
    """

    keys: tuple[str, ...]
    positions: tuple[int, ...]
    start: Fraction
    interval: Fraction
    population_size: int


def systematic_sample(
    keys: Iterable[str], n: int, seed: str, population_size: int | None = None
) -> SystematicSample:
    """Every ``N/n``-th record from a seed-derived random start.

    The interval is the exact fraction ``N / n`` and the start is
    ``derived_int(seed, "riskreg:systematic-start") / 2**64 × interval``, a point in
    ``[0, interval)``. Position ``i`` is ``floor(start + i × interval)``. With a
    fractional interval the gaps alternate between its floor and ceiling, which is
    what guarantees exactly ``n`` distinct records (an integer interval would give
    ``n`` or ``n + 1``). The order of ``keys`` matters and must be recorded with the
    population (e.g. sorted by payment date). ``keys`` may be a one-pass iterator
    if ``population_size`` is given; the count is then verified.
    """
    require_int(n, "n", minimum=0)
    _check_seed(seed)
    size = _population_size(keys, population_size)
    if n > size:
        raise ValueError(f"n ({n}) exceeds the population size ({size})")
    if n == 0:
        return SystematicSample((), (), Fraction(0), Fraction(0), size)
    interval = Fraction(size, n)
    start = Fraction(derived_int(seed, "riskreg:systematic-start"), _TWO_64) * interval
    positions = tuple(int(start + i * interval) for i in range(n))
    picked = _pick_positions(keys, positions, size)
    return SystematicSample(tuple(picked), positions, start, interval, size)


def _population_size(keys: Iterable[str], population_size: int | None) -> int:
    if population_size is not None:
        return require_int(population_size, "population_size", minimum=0)
    if not isinstance(keys, Sized):
        raise TypeError("give population_size when keys is a one-pass iterable")
    return len(keys)


def _pick_positions(keys: Iterable[str], positions: tuple[int, ...], size: int) -> list[str]:
    wanted = iter(positions)
    target = next(wanted, None)
    picked: list[str] = []
    count = 0
    for index, key in enumerate(keys):
        _check_key(key)
        count = index + 1
        if index == target:
            picked.append(key)
            target = next(wanted, None)
    if count != size:
        raise ValueError(f"population_size was {size} but {count} keys were given")
    return picked


@dataclass(frozen=True)
class MusHit:
    """A selected item and the selection points (monetary units) that hit it."""

    key: str
    amount: int
    points: tuple[int, ...]


@dataclass(frozen=True)
class MusSelection:
    """Outcome of a monetary-unit selection, with everything needed to re-draw it.

    ``population_amount`` is the sum of the positive amounts that the selection
    points ran over; ``excluded`` lists items with zero or negative amounts, which
    have no monetary units to select and must be covered by other procedures.
    """

    method: str
    interval: int
    start: int | None
    population_amount: int
    selected: tuple[MusHit, ...]
    top_stratum: tuple[MusHit, ...]
    excluded: tuple[tuple[str, int], ...]

    @property
    def keys(self) -> list[str]:
        """Top stratum first, then the sampled items, each in population order."""
        return [hit.key for hit in self.top_stratum] + [hit.key for hit in self.selected]

    @property
    def excluded_amount(self) -> int:
        """Sum of the excluded (non-positive) amounts, in öre."""
        return sum(amount for _, amount in self.excluded)


def _items(items: Iterable[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    for key, amount in items:
        require_int(amount, "amount")
        yield _check_key(key), amount


def mus_fixed_interval(
    items: Iterable[tuple[str, int]], interval_ore: int, seed: str
) -> MusSelection:
    """Fixed-interval MUS: points ``start, start + J, start + 2J, ...`` in one pass.

    ``start = 1 + randbelow(seed, "riskreg:mus-start", J)``, uniform in 1..J. The
    item whose cumulative range ``(before, before + amount]`` contains a point is
    selected, so each item's chance is proportional to its amount. Items with
    ``amount >= J`` always contain a point; they form the top stratum, listed
    separately because they are evaluated at their actual misstatement. Only the
    current cumulative sum is kept, so a million-row population is one pass.
    """
    require_int(interval_ore, "interval_ore", minimum=1)
    start = 1 + randbelow(seed, "riskreg:mus-start", interval_ore)
    selected: list[MusHit] = []
    top: list[MusHit] = []
    excluded: list[tuple[str, int]] = []
    cumulative, next_point = 0, start
    for key, amount in _items(items):
        if amount <= 0:
            excluded.append((key, amount))
            continue
        cumulative += amount
        points = []
        while next_point <= cumulative:
            points.append(next_point)
            next_point += interval_ore
        if amount >= interval_ore:
            top.append(MusHit(key, amount, tuple(points)))
        elif points:
            selected.append(MusHit(key, amount, tuple(points)))
    return MusSelection(
        "fixed-interval",
        interval_ore,
        start,
        cumulative,
        tuple(selected),
        tuple(top),
        tuple(excluded),
    )


def _cell_point(seed: str, cell: int, interval: int) -> int:
    """The random point of cell ``c`` (0-based): ``c J + 1 + randbelow(...)``."""
    return cell * interval + 1 + randbelow(seed, f"riskreg:mus-cell:{cell}", interval)


def mus_cell_selection(
    items: Iterable[tuple[str, int]], interval_ore: int, seed: str
) -> MusSelection:
    """Cell MUS: one independent random point in each cell of ``J`` monetary units.

    Unlike a fixed interval, cell selection does not guarantee that an item of at
    least ``J`` is hit (its units may straddle two cells whose points fall
    elsewhere). Such items are therefore taken out first as the top stratum –
    selected with certainty and given no points – and the cells ``(cJ, (c+1)J]``
    run over the remaining positive amounts. Cell c's point is
    ``c J + 1 + randbelow(seed, f"riskreg:mus-cell:{c}", J)``; a point in the last,
    partial cell that falls beyond the total selects nothing. An item straddling two
    cells can be hit twice; each point is a separate sampling unit in evaluation.
    """
    require_int(interval_ore, "interval_ore", minimum=1)
    selected: list[MusHit] = []
    top: list[MusHit] = []
    excluded: list[tuple[str, int]] = []
    cumulative, cell = 0, 0
    next_point = _cell_point(seed, cell, interval_ore)
    for key, amount in _items(items):
        if amount <= 0:
            excluded.append((key, amount))
            continue
        if amount >= interval_ore:
            top.append(MusHit(key, amount, ()))
            continue
        cumulative += amount
        points = []
        while next_point <= cumulative:
            points.append(next_point)
            cell += 1
            next_point = _cell_point(seed, cell, interval_ore)
        if points:
            selected.append(MusHit(key, amount, tuple(points)))
    return MusSelection(
        "cell", interval_ore, None, cumulative, tuple(selected), tuple(top), tuple(excluded)
    )
