"""The published selection spec (docs/sampling.md) and its vectors agree with the code.

Each vector in docs/sampling-vectors.json is run through riskreg's selection code and through
tests/sampling/rederive_reference.py, a re-implementation written from the document with
nothing but hashlib. A stored sample that no longer re-derives, or a document that no longer
describes the code, fails here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from riskreg.sampling import selection
from riskreg.sampling.checktypes import PAYMENTS
from riskreg.sampling.importing import _parse_cell
from tests.sampling import rederive_reference as ref

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "docs" / "sampling-vectors.json").read_text(encoding="utf-8"))
SPEC = (ROOT / "docs" / "sampling.md").read_text(encoding="utf-8")
BY_NAME = {v["name"]: v for v in VECTORS["vectors"]}


def _items(vector: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(row["key"], row.get("amount_ore")) for row in vector["population"]]


def _keys(vector: dict[str, Any]) -> list[str]:
    return [row["key"] for row in vector["population"]]


def code_selects(vector: dict[str, Any]) -> list[str]:
    rule, seed, params = vector["rule"], vector["seed"], vector["parameters"]
    if rule == "simple_random":
        return selection.simple_random_sample(_keys(vector), params["n"], seed)
    if rule == "extension":
        total = params["n"]
        for extra in params["additional"]:
            total = min(total + extra, len(vector["population"]))
        return selection.simple_random_sample(_keys(vector), total, seed)
    if rule == "systematic":
        return list(selection.systematic_sample(_keys(vector), params["n"], seed).keys)
    if rule == "stratified":
        strata: dict[str, list[str]] = {}
        for row in vector["population"]:
            strata.setdefault(row["stratum"], []).append(row["key"])
        picked = selection.stratified_sample(strata, params["strata"], seed)
        return [key for name in sorted(picked) for key in picked[name]]
    run = selection.mus_fixed_interval if rule == "mus_fixed_interval" else (
        selection.mus_cell_selection
    )
    return run([(k, a or 0) for k, a in _items(vector)], params["interval_ore"], seed).keys


def reference_selects(vector: dict[str, Any]) -> list[str]:
    rule, seed, params = vector["rule"], vector["seed"], vector["parameters"]
    if rule == "simple_random":
        return ref.simple_random(_keys(vector), params["n"], seed)
    if rule == "extension":
        total = params["n"]
        for extra in params["additional"]:
            total = min(total + extra, len(vector["population"]))
        return ref.simple_random(_keys(vector), total, seed)
    if rule == "systematic":
        return ref.systematic(_keys(vector), params["n"], seed)[0]
    if rule == "stratified":
        rows = [(row["key"], row["stratum"]) for row in vector["population"]]
        return [key for key, _ in ref.stratified(rows, params["strata"], seed)]
    run = ref.mus_fixed if rule == "mus_fixed_interval" else ref.mus_cell
    return run(_items(vector), params["interval_ore"], seed).keys


RULES = {"simple_random", "extension", "systematic", "stratified", "mus_fixed_interval",
         "mus_cell"}


def test_every_rule_has_vectors_and_a_section_in_the_spec() -> None:
    assert {v["rule"] for v in VECTORS["vectors"]} == RULES
    for rule in RULES:
        assert f"`{rule}`" in SPEC, rule


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_vector_matches_the_code(name: str) -> None:
    vector = BY_NAME[name]
    assert code_selects(vector) == vector["expected"]["keys"]


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_vector_matches_the_independent_implementation(name: str) -> None:
    vector = BY_NAME[name]
    assert reference_selects(vector) == vector["expected"]["keys"]


@pytest.mark.parametrize(
    "name", [n for n, v in BY_NAME.items() if v["rule"].startswith("mus_")]
)
def test_mus_vectors_points_start_and_exclusions(name: str) -> None:
    vector = BY_NAME[name]
    expected = vector["expected"]
    run = ref.mus_fixed if vector["rule"] == "mus_fixed_interval" else ref.mus_cell
    mine = run(_items(vector), vector["parameters"]["interval_ore"], vector["seed"])
    assert mine.start == expected["start"]
    assert mine.population_amount == expected["population_amount_ore"]
    assert mine.excluded == expected["excluded"]
    assert [(h.key, h.points, h.top) for h in mine.hits] == [
        (i["key"], i["points"], i["top_stratum"]) for i in expected["items"]
    ]


def test_systematic_vectors_positions_and_start() -> None:
    for vector in (v for v in VECTORS["vectors"] if v["rule"] == "systematic"):
        _, positions = ref.systematic(_keys(vector), vector["parameters"]["n"], vector["seed"])
        assert positions == vector["expected"]["positions"]
        result = selection.systematic_sample(_keys(vector), vector["parameters"]["n"],
                                             vector["seed"])
        assert str(result.start) == vector["expected"]["start"]


def test_extension_stages_keep_what_was_drawn() -> None:
    vector = BY_NAME["extension"]
    stages = vector["expected"]["stages"]
    sizes = [len(s) for s in stages]
    assert sizes == [4, 7, 12, 30]  # the last extension stops at N
    for smaller, larger in itertools.pairwise(stages):
        assert larger[: len(smaller)] == smaller
        assert larger == ref.simple_random(_keys(vector), len(larger), vector["seed"])


def test_stratum_seeds_are_as_published() -> None:
    vector = BY_NAME["stratified-passcards"]
    for name, seed in vector["expected"]["stratum_seeds"].items():
        assert selection.stratum_seed(vector["seed"], name) == seed == ref.stratum_seed(
            vector["seed"], name
        )


def test_primitives() -> None:
    prims = VECTORS["primitives"]
    for case in prims["rank"]:
        assert str(selection.record_rank(case["seed"], case["key"])) == case["rank"]
        assert str(ref.rank(case["seed"], case["key"])) == case["rank"]
        assert f"{int(case['rank']):016x}" == case["rank_hex"]
    for case in prims["derived_int"]:
        assert str(selection.derived_int(case["seed"], case["label"])) == case["value"]
        assert str(ref.derived(case["seed"], case["label"])) == case["value"]
    for case in prims["randbelow"]:
        upper = int(case["upper"])
        value, draws = ref.bounded(case["seed"], case["label"], upper)
        assert str(selection.randbelow(case["seed"], case["label"], upper)) == case["value"]
        assert str(value) == case["value"]
        assert draws == len(case["draws"])


def test_vectors_cover_the_edge_cases() -> None:
    bounds = [int(c["upper"]) for c in VECTORS["primitives"]["randbelow"]]
    assert 2**64 in bounds and 1 in bounds and 1024 in bounds
    assert any(len(c["draws"]) > 1 for c in VECTORS["primitives"]["randbelow"])  # a rejection
    srs = BY_NAME["srs-census"]
    assert len(srs["expected"]["keys"]) == len(srs["population"])
    nfc = BY_NAME["srs-non-ascii-nfc"]
    assert any(row["key_in_file"] != row["key"] for row in nfc["population"])
    assert any(not row["key"].isascii() for row in nfc["population"])
    double = BY_NAME["mus-cell-double-hit"]["expected"]["items"]
    assert any(len(i["points"]) == 2 and not i["top_stratum"] for i in double)
    boundary = BY_NAME["mus-fixed-power-of-two-boundary"]
    first = boundary["population"][0]
    assert first["amount_ore"] == boundary["expected"]["start"]  # the point is its last öre
    assert "G-01" in boundary["expected"]["keys"]


@pytest.mark.parametrize("name", ["srs-non-ascii-nfc"])
def test_import_turns_the_file_cell_into_the_published_key(name: str) -> None:
    key_column = PAYMENTS.column("payment_id")
    for row in BY_NAME[name]["population"]:
        assert _parse_cell(key_column, row["key_in_file"]) == row["key"]


def test_an_excel_error_key_is_refused_with_or_without_leading_space() -> None:
    key_column = PAYMENTS.column("payment_id")
    for raw in ("#REF!", " #REF!", "\u00a0#N/A"):
        with pytest.raises(ValueError, match="felvärde"):
            _parse_cell(key_column, raw)


@pytest.mark.parametrize("seed", ["a", "0123456789abcdef0123456789abcdef", "frö med åäö"])
def test_code_and_reference_agree_on_many_draws(seed: str) -> None:
    population = [f"X{i}" for i in range(57)] + ["Å", "A\u030a", "ß", "😀"]
    for n in (0, 1, 13, 61):
        assert selection.simple_random_sample(population, n, seed) == ref.simple_random(
            population, n, seed
        )
        assert list(selection.systematic_sample(population, n, seed).keys) == ref.systematic(
            population, n, seed
        )[0]
    amounts = [(k, (i * 7919) % 23_000 - 1_000) for i, k in enumerate(population)]
    for interval in (1, 2, 999, 1024, 20_000, 50_000):
        assert selection.mus_fixed_interval(amounts, interval, seed).keys == ref.mus_fixed(
            amounts, interval, seed
        ).keys
        assert selection.mus_cell_selection(amounts, interval, seed).keys == ref.mus_cell(
            amounts, interval, seed
        ).keys


class _TruncatedSha:
    """SHA-256 whose digest keeps only its first byte: ranks then tie all the time."""

    def __init__(self, data: bytes = b"") -> None:
        self._h = hashlib.sha256(data)

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def copy(self) -> _TruncatedSha:
        clone = _TruncatedSha()
        clone._h = self._h.copy()
        return clone

    def digest(self) -> bytes:
        return self._h.digest()[:1] + bytes(31)


def test_equal_ranks_are_ordered_by_key_code_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real 64-bit tie can be published; force ties to see the documented tie-break."""
    monkeypatch.setattr(selection, "hashlib", SimpleNamespace(sha256=_TruncatedSha))
    population = [f"T{i}" for i in range(600)] + ["\uffff", "😀", "é", "e\u0301"]
    seed = "tie"

    def truncated(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()[:1] + bytes(31)

    ranks = [ref.rank(seed, k, truncated) for k in population]
    assert len(set(ranks)) < len(ranks) / 2  # plenty of ties
    picked = selection.simple_random_sample(population, 300, seed)
    assert picked == ref.simple_random(population, 300, seed, truncated)
    everything = selection.simple_random_sample(population, len(population), seed)
    groups: dict[int, list[str]] = {}
    for key in everything:
        groups.setdefault(ref.rank(seed, key, truncated), []).append(key)
    assert list(groups) == sorted(groups)  # ranks ascending
    for tied in groups.values():  # within a rank, keys by code point (not UTF-16 units)
        assert tied == sorted(tied, key=lambda k: [ord(c) for c in k])
    assert any(len(t) > 1 and any(ord(c) > 0xFFFF for k in t for c in k) for t in groups.values())


def _accepts_with_u64_only(v: int, m: int) -> bool:
    """The spec's 64-bit-only form of the rejection rule (m < 2**64)."""
    mask = 2**64 - 1
    r = ((0 - m) & mask) % m
    return r == 0 or v <= mask - r


@pytest.mark.parametrize("m", [1, 2, 3, 10, 1024, 50_000, 2**63, 2**63 + 1, 3 * 2**62, 2**64 - 1])
def test_the_64_bit_form_of_the_rejection_rule_is_the_same_rule(m: int) -> None:
    limit = (2**64 // m) * m
    probes = {0, 1, limit - 1, limit, min(limit + 1, 2**64 - 1), 2**64 - 1, 2**63, 2**63 - 1}
    probes |= {int(c) for case in VECTORS["primitives"]["randbelow"] for c in case["draws"]}
    for v in probes:
        if v < 2**64:
            assert _accepts_with_u64_only(v, m) == (v < limit), (v, m)


def test_the_python_sketch_in_the_spec_agrees_with_the_vectors() -> None:
    block = SPEC.split("```python\n", 1)[1].split("```", 1)[0]
    sketch: dict[str, Any] = {}
    exec(compile(block, "docs/sampling.md", "exec"), sketch)  # the document is ours
    for case in VECTORS["primitives"]["randbelow"]:
        assert str(sketch["bounded"](case["seed"], case["label"], int(case["upper"]))) == (
            case["value"]
        )
    for case in VECTORS["primitives"]["rank"]:
        assert str(sketch["rank"](case["seed"], case["key"])) == case["rank"]
    for vector in (v for v in VECTORS["vectors"] if v["rule"] == "simple_random"):
        assert sketch["simple_random"](
            _keys(vector), vector["parameters"]["n"], vector["seed"]
        ) == vector["expected"]["keys"]
