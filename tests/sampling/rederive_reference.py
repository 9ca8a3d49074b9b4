"""An independent re-implementation of docs/sampling.md, for the tests only.

Written from the document, not from :mod:`riskreg.sampling.selection` (which it must never
import): nothing but :mod:`hashlib` and integer arithmetic. If the code and this file
disagree, either the code changed the published rule or the document is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

US = b"\x1f"  # U+001F UNIT SEPARATOR
RS = "\x1e"  # U+001E RECORD SEPARATOR
TWO_64 = 2**64

Digest = Callable[[bytes], bytes]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def u64(digest: bytes) -> int:
    """The first 8 bytes of a digest as an unsigned big-endian integer."""
    value = 0
    for byte in digest[:8]:
        value = value * 256 + byte
    return value


def rank(seed: str, key: str, digest: Digest = sha256) -> int:
    return u64(digest(seed.encode("utf-8") + US + key.encode("utf-8")))


def derived(seed: str, label: str) -> int:
    return u64(sha256(label.encode("utf-8") + US + seed.encode("utf-8")))


def bounded(seed: str, label: str, m: int) -> tuple[int, int]:
    """(value in [0, m), number of draws used)."""
    assert 1 <= m <= TWO_64
    limit = TWO_64 - TWO_64 % m
    i = 0
    while True:
        v = derived(seed, f"{label}#{i}")
        if v < limit:
            return v % m, i + 1
        i += 1


def _code_points(key: str) -> list[int]:
    return [ord(c) for c in key]


def simple_random(keys: Sequence[str], n: int, seed: str, digest: Digest = sha256) -> list[str]:
    ordered = sorted(keys, key=lambda k: (rank(seed, k, digest), _code_points(k)))
    return ordered[: min(n, len(ordered))]


def systematic(keys: Sequence[str], n: int, seed: str) -> tuple[list[str], list[int]]:
    big_n = len(keys)
    assert 0 <= n <= big_n
    if n == 0:
        return [], []
    u = derived(seed, "riskreg:systematic-start")
    positions = [(big_n * (u + i * TWO_64)) // (n * TWO_64) for i in range(n)]
    return [keys[p] for p in positions], positions


def stratum_seed(seed: str, name: str) -> str:
    return seed + RS + name


def stratified(
    rows: Sequence[tuple[str, str]], sizes: dict[str, int], seed: str
) -> list[tuple[str, str]]:
    """rows: (key, stratum) in file order; returns (key, stratum) in output order."""
    out: list[tuple[str, str]] = []
    for name in sorted(sizes, key=_code_points):
        members = [key for key, stratum in rows if stratum == name]
        picked = simple_random(members, sizes[name], stratum_seed(seed, name))
        out.extend((key, name) for key in picked)
    return out


@dataclass
class Hit:
    key: str
    amount: int
    points: list[int] = field(default_factory=list)
    top: bool = False


@dataclass
class Mus:
    start: int | None
    population_amount: int
    hits: list[Hit]  # output order: top stratum first, then the others, each in file order
    excluded: list[str]

    @property
    def keys(self) -> list[str]:
        return [h.key for h in self.hits]


def mus_fixed(items: Sequence[tuple[str, int | None]], interval: int, seed: str) -> Mus:
    start = 1 + bounded(seed, "riskreg:mus-start", interval)[0]
    top: list[Hit] = []
    other: list[Hit] = []
    excluded: list[str] = []
    total = 0
    for key, amount in items:
        amount = amount or 0
        if amount <= 0:
            excluded.append(key)
            continue
        low, total = total, total + amount
        # the points start + k*J that fall in (low, total]
        first = start if low < start else start + ((low - start) // interval + 1) * interval
        points = list(range(first, total + 1, interval))
        if amount >= interval:
            top.append(Hit(key, amount, points, True))
        elif points:
            other.append(Hit(key, amount, points))
    return Mus(start, total, top + other, excluded)


def mus_cell(items: Sequence[tuple[str, int | None]], interval: int, seed: str) -> Mus:
    top: list[Hit] = []
    other: list[Hit] = []
    excluded: list[str] = []
    total = 0
    remaining = []
    for key, amount in items:
        amount = amount or 0
        if amount <= 0:
            excluded.append(key)
        elif amount >= interval:
            top.append(Hit(key, amount, [], True))
        else:
            remaining.append((key, amount, total))
            total += amount
    cells = -(-total // interval)
    points = [
        c * interval + 1 + bounded(seed, f"riskreg:mus-cell:{c}", interval)[0]
        for c in range(cells)
    ]
    for key, amount, low in remaining:
        mine = [p for p in points if low < p <= low + amount]
        if mine:
            other.append(Hit(key, amount, mine))
    return Mus(None, total, top + other, excluded)


def population_digest(rows: Sequence[tuple[int, str, int | None, str | None]]) -> str:
    """SHA-256 of the rows as the draw read them: line US key US amount US stratum LF."""
    h = hashlib.sha256()
    for line, key, amount, stratum in rows:
        amount_text = "" if amount is None else str(amount)
        h.update(f"{line}\x1f{key}\x1f{amount_text}\x1f{stratum or ''}\n".encode())
    return h.hexdigest()
