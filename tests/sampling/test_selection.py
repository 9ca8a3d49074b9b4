"""Selection must be reproducible from the seed with nothing but SHA-256.

Pinned values were computed outside Python with coreutils, e.g.::

    printf 'audit-2025\\x1fP-0001' | sha256sum | cut -c1-16   # then hex -> decimal

and are re-derived in each test with :mod:`hashlib`, never with the code under test.
"""

from __future__ import annotations

import hashlib
import random
import string
import tracemalloc
from collections.abc import Callable, Iterator
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskreg.sampling.selection import (
    MusSelection,
    generate_seed,
    mus_cell_selection,
    mus_fixed_interval,
    randbelow,
    record_rank,
    simple_random_sample,
    stratified_sample,
    systematic_sample,
)

SEED = "audit-2025"
KEYS = ["P-0001", "P-0002", "P-0003", "P-0004", "P-0005"]


def sha_int(text: str) -> int:
    """Independent re-implementation: first 8 bytes of SHA-256, big-endian."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


# ------------------------------------------------------------- pinned values

PINNED_RANKS = {
    "P-0001": 9842368011945151427,
    "P-0002": 4336375856548361362,
    "P-0003": 5067063815409120406,
    "P-0004": 939183302083212097,
    "P-0005": 5001263138515296616,
}


@pytest.mark.parametrize(("key", "rank"), sorted(PINNED_RANKS.items()))
def test_pinned_ranks(key: str, rank: int) -> None:
    assert sha_int(SEED + "\x1f" + key) == rank
    assert record_rank(SEED, key) == rank


def test_pinned_rank_with_non_ascii_key() -> None:
    assert sha_int("seed\x1fåäö-nyckel") == 11949139510640019576
    assert record_rank("seed", "åäö-nyckel") == 11949139510640019576


def test_pinned_simple_random_sample() -> None:
    by_rank = sorted(KEYS, key=lambda key: PINNED_RANKS[key])
    assert by_rank == ["P-0004", "P-0002", "P-0005", "P-0003", "P-0001"]
    assert simple_random_sample(KEYS, 2, SEED) == ["P-0004", "P-0002"]
    assert simple_random_sample(reversed(KEYS), 5, SEED) == by_rank
    assert simple_random_sample(KEYS, 50, SEED) == by_rank  # census


def test_pinned_stratified_seed() -> None:
    assert sha_int(SEED + "\x1e" + "leavers" + "\x1f" + "K-7") == 8271355514992824155
    strata = {"leavers": ["K-7", "K-8", "K-9"], "others": ["K-1", "K-2", "K-3", "K-4"]}
    result = stratified_sample(strata, {"leavers": 3, "others": 2}, SEED)
    leavers_ranks = {k: sha_int(f"{SEED}\x1eleavers\x1f{k}") for k in strata["leavers"]}
    assert result["leavers"] == sorted(strata["leavers"], key=leavers_ranks.__getitem__)
    others = sorted(strata["others"], key=lambda k: sha_int(f"{SEED}\x1eothers\x1f{k}"))
    assert result["others"] == others[:2]


def test_pinned_systematic_start() -> None:
    raw = sha_int("riskreg:systematic-start\x1f" + SEED)
    assert raw == 10118601273564410330
    keys = [f"R{i}" for i in range(10)]
    result = systematic_sample(keys, 3, SEED)
    start = Fraction(raw, 2**64) * Fraction(10, 3)
    assert result.start == start
    assert result.interval == Fraction(10, 3)
    assert result.positions == (1, 5, 8)
    assert result.keys == ("R1", "R5", "R8")


def test_pinned_mus_fixed_interval_start() -> None:
    raw = sha_int("riskreg:mus-start#0\x1f" + SEED)
    assert raw == 11917408072586766567
    items = [("A", 30_000), ("B", 50_000), ("C", -5_000), ("D", 120_000), ("E", 0)]
    items += [("F", 70_000), ("G", 99_999)]
    result = mus_fixed_interval(items, 100_000, SEED)
    assert result.start == 1 + raw % 100_000 == 66_568
    # Cumulative positive amounts: A 30 000, B 80 000, D 200 000, F 270 000, G 369 999.
    # Points: 66 568 (B), 166 568 (D), 266 568 (F), 366 568 (G).
    assert [(hit.key, hit.points) for hit in result.selected] == [
        ("B", (66_568,)),
        ("F", (266_568,)),
        ("G", (366_568,)),
    ]
    assert [(hit.key, hit.points) for hit in result.top_stratum] == [("D", (166_568,))]
    assert result.excluded == (("C", -5_000), ("E", 0))
    assert result.excluded_amount == -5_000
    assert result.population_amount == 369_999
    assert result.keys == ["D", "B", "F", "G"]


def test_pinned_mus_cell_points() -> None:
    first = sha_int("riskreg:mus-cell:0#0\x1f" + SEED)
    second = sha_int("riskreg:mus-cell:1#0\x1f" + SEED)
    assert (first, second) == (1957602022608684234, 14217750850620240804)
    interval = 1000
    point0 = 1 + first % interval
    point1 = interval + 1 + second % interval
    items = [(f"I{i}", 100) for i in range(20)] + [("BIG", 5000)]
    result = mus_cell_selection(items, interval, SEED)
    hits = {hit.key: hit.points for hit in result.selected}
    assert hits[f"I{(point0 - 1) // 100}"] == (point0,)
    assert hits[f"I{(point1 - 1) // 100}"] == (point1,)
    assert len(hits) == 2
    assert [hit.key for hit in result.top_stratum] == ["BIG"]
    assert result.top_stratum[0].points == ()
    assert result.population_amount == 2000


def test_randbelow_rejects_biased_values() -> None:
    """With upper = 2**63 + 1 about half of all draws must be rejected."""
    upper = 2**63 + 1
    limit = (2**64 // upper) * upper
    expected = next(
        value % upper
        for value in (sha_int(f"lbl#{i}\x1f{SEED}") for i in range(100))
        if value < limit
    )
    assert randbelow(SEED, "lbl", upper) == expected


# ------------------------------------------------------------------ seeds, input


def test_generate_seed() -> None:
    seeds = {generate_seed() for _ in range(50)}
    assert len(seeds) == 50
    assert all(len(seed) == 32 and set(seed) <= set(string.hexdigits.lower()) for seed in seeds)


def test_bad_seeds_and_keys() -> None:
    with pytest.raises(ValueError):
        record_rank("", "k")
    with pytest.raises(ValueError):
        record_rank("a\x1fb", "k")
    with pytest.raises(TypeError):
        record_rank(SEED, 17)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        simple_random_sample([1, 2, 3], 2, SEED)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        simple_random_sample(KEYS, -1, SEED)
    with pytest.raises(ValueError):
        simple_random_sample(KEYS, 0, "")
    with pytest.raises(ValueError):
        systematic_sample(KEYS, 0, "bad\x1fseed")


def test_duplicate_keys_are_detected_when_selected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        simple_random_sample(["A", "A", "B"], 3, SEED)


def test_stratified_requires_matching_strata() -> None:
    with pytest.raises(ValueError, match="same strata"):
        stratified_sample({"a": ["1"], "b": ["2"]}, {"a": 1}, SEED)
    with pytest.raises(ValueError, match="more than one stratum"):
        stratified_sample({"a": ["1"], "b": ["1"]}, {"a": 1, "b": 1}, SEED)


def test_systematic_with_iterator_needs_population_size() -> None:
    keys = [f"R{i}" for i in range(10)]
    with pytest.raises(TypeError):
        systematic_sample(iter(keys), 3, SEED)
    assert systematic_sample(iter(keys), 3, SEED, population_size=10).keys == ("R1", "R5", "R8")
    with pytest.raises(ValueError, match="population_size"):
        systematic_sample(iter(keys), 3, SEED, population_size=11)
    with pytest.raises(ValueError):
        systematic_sample(keys, 11, SEED)
    assert systematic_sample(keys, 0, SEED).keys == ()


def test_mus_rejects_float_amounts() -> None:
    with pytest.raises(TypeError):
        mus_fixed_interval([("A", 10.5)], 100, SEED)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        mus_fixed_interval([("A", 10)], 0, SEED)


# --------------------------------------------------------------- properties

seeds = st.text(min_size=1, max_size=40).filter(lambda s: "\x1f" not in s)
key_lists = st.lists(st.text(max_size=12), unique=True, max_size=60)
SETTINGS = settings(max_examples=80, deadline=None)


@SETTINGS
@given(seeds, st.text(max_size=30))
def test_rank_matches_independent_implementation(seed: str, key: str) -> None:
    assert record_rank(seed, key) == sha_int(seed + "\x1f" + key)


@SETTINGS
@given(key_lists, seeds, st.integers(0, 70))
def test_srs_is_the_n_smallest_ranks(keys: list[str], seed: str, n: int) -> None:
    expected = sorted(keys, key=lambda k: (sha_int(seed + "\x1f" + k), k))[:n]
    assert simple_random_sample(keys, n, seed) == expected


@SETTINGS
@given(key_lists, seeds, st.integers(0, 30), st.integers(0, 30))
def test_srs_extension_keeps_earlier_picks(keys: list[str], seed: str, n: int, k: int) -> None:
    assert simple_random_sample(keys, n + k, seed)[:n] == simple_random_sample(keys, n, seed)


@SETTINGS
@given(key_lists, seeds, st.integers(0, 30), st.randoms(use_true_random=False))
def test_srs_ignores_population_order(
    keys: list[str], seed: str, n: int, rnd: random.Random
) -> None:
    shuffled = keys[:]
    rnd.shuffle(shuffled)
    assert simple_random_sample(iter(shuffled), n, seed) == simple_random_sample(keys, n, seed)


@SETTINGS
@given(st.integers(1, 500), st.data(), seeds)
def test_systematic_sample_size_and_spacing(size: int, data: st.DataObject, seed: str) -> None:
    n = data.draw(st.integers(1, size))
    keys = [f"K{i}" for i in range(size)]
    result = systematic_sample(keys, n, seed)
    assert len(result.keys) == n == len(set(result.positions))
    assert list(result.positions) == sorted(result.positions)
    assert result.positions[0] >= 0
    assert result.positions[-1] < size
    gaps = {b - a for a, b in zip(result.positions, result.positions[1:], strict=False)}
    assert gaps <= {size // n, -(-size // n)}
    assert result == systematic_sample(keys, n, seed)  # deterministic


amounts = st.lists(st.integers(min_value=-50_000, max_value=400_000), min_size=0, max_size=80)


def _check_points_fall_in_items(result: MusSelection, items: list[tuple[str, int]]) -> None:
    """Recompute each item's cumulative range independently and check its points."""
    ranges, cumulative = {}, 0
    for key, amount in items:
        if amount > 0 and not (result.method == "cell" and amount >= result.interval):
            ranges[key] = (cumulative, cumulative + amount)
            cumulative += amount
    for hit in result.selected + result.top_stratum:
        for point in hit.points:
            low, high = ranges[hit.key]
            assert low < point <= high


@SETTINGS
@given(amounts, st.integers(1, 150_000), seeds)
def test_mus_fixed_interval_properties(values: list[int], interval: int, seed: str) -> None:
    items = [(f"I{i}", amount) for i, amount in enumerate(values)]
    result = mus_fixed_interval(iter(items), interval, seed)
    big = {key for key, amount in items if amount >= interval}
    assert {hit.key for hit in result.top_stratum} == big
    assert all(hit.points for hit in result.top_stratum)  # always selected
    assert all(len(hit.points) == 1 for hit in result.selected)
    assert {key for key, _ in result.excluded} == {k for k, a in items if a <= 0}
    total = sum(a for _, a in items if a > 0)
    assert result.population_amount == total
    assert result.start is not None and 1 <= result.start <= interval
    points = sorted(p for hit in result.selected + result.top_stratum for p in hit.points)
    expected_count = 0 if total < result.start else (total - result.start) // interval + 1
    assert len(points) == expected_count
    assert points == [result.start + i * interval for i in range(expected_count)]
    _check_points_fall_in_items(result, items)
    assert result == mus_fixed_interval(items, interval, seed)


@SETTINGS
@given(amounts, st.integers(1, 150_000), seeds)
def test_mus_cell_selection_properties(values: list[int], interval: int, seed: str) -> None:
    items = [(f"I{i}", amount) for i, amount in enumerate(values)]
    result = mus_cell_selection(iter(items), interval, seed)
    big = {key for key, amount in items if amount >= interval}
    assert {hit.key for hit in result.top_stratum} == big
    cells = [(p - 1) // interval for hit in result.selected for p in hit.points]
    assert len(cells) == len(set(cells))  # at most one point per cell
    full_cells = result.population_amount // interval
    assert set(range(full_cells)) <= set(cells)  # every complete cell yields its point
    _check_points_fall_in_items(result, items)
    assert result == mus_cell_selection(items, interval, seed)


# ---------------------------------------------------------------- streaming


def _counting(keys: Iterator[str], counter: list[int]) -> Iterator[str]:
    for key in keys:
        counter[0] += 1
        yield key


def _peak_memory(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_srs_memory_is_bounded_by_the_sample_not_the_population() -> None:
    """200 000 (rank, key) pairs would need tens of MB; the heap keeps only n."""
    counter = [0]
    keys = _counting((f"payment-{i:07d}" for i in range(200_000)), counter)
    peak = _peak_memory(lambda: simple_random_sample(keys, 100, SEED))
    assert counter[0] == 200_000
    assert peak < 1_000_000  # bytes


def test_mus_memory_is_bounded_and_one_pass() -> None:
    counter = [0]

    def items() -> Iterator[tuple[str, int]]:
        for i in range(200_000):
            counter[0] += 1
            yield f"pay-{i}", 1_000 + (i * 7919) % 500_000

    peak = _peak_memory(lambda: mus_fixed_interval(items(), 500_000_000, SEED))
    assert counter[0] == 200_000
    assert peak < 1_000_000


@pytest.mark.slow
def test_a_million_keys_and_items() -> None:
    sample = simple_random_sample((f"payment-{i:07d}" for i in range(1_000_000)), 100, SEED)
    assert len(sample) == 100
    assert sample == sorted(sample, key=lambda key: sha_int(SEED + "\x1f" + key))
    items = ((f"pay-{i}", 1_000 + (i * 7919) % 500_000) for i in range(1_000_000))
    result = mus_fixed_interval(items, 2_500_000_000, SEED)
    assert result.start is not None
    expected = (result.population_amount - result.start) // 2_500_000_000 + 1
    assert len(result.selected) + len(result.top_stratum) == expected
    assert expected in (100, 101)  # 250 999 500 000 öre / 2 500 000 000 = 100.4
