"""Write docs/sampling-vectors.json: published test vectors for every selection rule.

Run ``.venv/bin/python scripts/sampling_vectors.py`` after a deliberate change of the
inputs below. The expected outputs come from riskreg.sampling.selection; the test
tests/sampling/test_sampling_spec.py checks them against both that code and an independent
re-implementation written from docs/sampling.md. Changing an expected output would mean
that stored samples no longer re-derive: never regenerate to make a failing test pass.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskreg.sampling import selection  # noqa: E402

SEED = "5b0f6c1e9a2d4c7f8e3b1a0d6c5f4e2a"
OUT = ROOT / "docs" / "sampling-vectors.json"


def amount(label: str, index: int, low: int, high: int) -> int:
    """Deterministic 'random' amounts so the inputs need no RNG either."""
    value = int.from_bytes(hashlib.sha256(f"{label}:{index}".encode()).digest()[:8], "big")
    return low + value % (high - low + 1)


def primitives() -> dict[str, Any]:
    ranks = [
        {"seed": SEED, "key": key, "rank": str(selection.record_rank(SEED, key)),
         "rank_hex": f"{selection.record_rank(SEED, key):016x}"}
        for key in ("P-001", "Å-1", "", "😀 kvitto")
    ]
    derived = [
        {"seed": SEED, "label": label, "value": str(selection.derived_int(SEED, label))}
        for label in ("riskreg:systematic-start", "riskreg:mus-start#0", "riskreg:mus-cell:0#0")
    ]
    bounded = []
    cases: list[tuple[str, str, int]] = [
        (SEED, "riskreg:mus-start", 1),
        (SEED, "riskreg:mus-start", 2),
        (SEED, "riskreg:mus-start", 1024),
        (SEED, "riskreg:mus-start", 2**63),
        (SEED, "riskreg:mus-start", 2**64),
        (SEED, "riskreg:mus-start", 10),
        (SEED, "riskreg:mus-start", 50_000),
    ]
    # A bound just above 2**63 rejects almost half the draws: publish one that is rejected.
    for tries in range(1000):
        label = f"exempel-{tries}"
        if selection.derived_int(SEED, f"{label}#0") >= 2**63 + 1:
            cases.append((SEED, label, 2**63 + 1))
            break
    for tries in range(1000):
        label = f"exempel-3x2^62-{tries}"
        if selection.derived_int(SEED, f"{label}#0") >= 3 * 2**62:
            cases.append((SEED, label, 3 * 2**62))
            break
    for seed, label, upper in cases:
        value = selection.randbelow(seed, label, upper)
        draws = []
        attempt = 0
        limit = (2**64 // upper) * upper
        while True:
            raw = selection.derived_int(seed, f"{label}#{attempt}")
            draws.append(str(raw))
            if raw < limit:
                break
            attempt += 1
        bounded.append({"seed": seed, "label": label, "upper": str(upper),
                        "limit": str(limit), "draws": draws, "value": str(value)})
    return {"rank": ranks, "derived_int": derived, "randbelow": bounded}


def keys(prefix: str, count: int, width: int = 3) -> list[str]:
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def srs(name: str, note: str, population: list[str], n: int, seed: str = SEED,
        file_keys: list[str] | None = None) -> dict[str, Any]:
    vector: dict[str, Any] = {
        "name": name, "rule": "simple_random", "note": note, "seed": seed,
        "population": [{"key": k} for k in population], "parameters": {"n": n},
        "expected": {"keys": selection.simple_random_sample(population, n, seed)},
    }
    if file_keys is not None:
        for row, raw in zip(vector["population"], file_keys, strict=True):
            row["key_in_file"] = raw
    return vector


def extension(name: str, population: list[str], n: int, additional: list[int]) -> dict[str, Any]:
    stages = [selection.simple_random_sample(population, n, SEED)]
    total = n
    for extra in additional:
        total = min(total + extra, len(population))
        stages.append(selection.simple_random_sample(population, total, SEED))
    return {
        "name": name, "rule": "extension",
        "note": "Utökning: varje steg är det obundna urvalet med det nya n; de tidigare "
                "posterna står kvar först.",
        "seed": SEED, "population": [{"key": k} for k in population],
        "parameters": {"n": n, "additional": additional},
        "expected": {"stages": stages, "keys": stages[-1]},
    }


def systematic(name: str, note: str, population: list[str], n: int) -> dict[str, Any]:
    result = selection.systematic_sample(population, n, SEED)
    return {
        "name": name, "rule": "systematic", "note": note, "seed": SEED,
        "population": [{"key": k} for k in population],
        "parameters": {"n": n, "population_size": len(population)},
        "expected": {"keys": list(result.keys), "positions": list(result.positions),
                     "start": str(result.start), "interval": str(result.interval)},
    }


def stratified(name: str, note: str, rows: list[tuple[str, str]], sizes: dict[str, int],
               seed: str = SEED) -> dict[str, Any]:
    strata: dict[str, list[str]] = {}
    for key, stratum in rows:
        strata.setdefault(stratum, []).append(key)
    picked = selection.stratified_sample(strata, sizes, seed)
    expected = [{"key": key, "stratum": name} for name in sorted(picked) for key in picked[name]]
    return {
        "name": name, "rule": "stratified", "note": note, "seed": seed,
        "population": [{"key": k, "stratum": s} for k, s in rows],
        "parameters": {"strata": sizes},
        "expected": {"keys": [e["key"] for e in expected], "items": expected,
                     "stratum_seeds": {s: selection.stratum_seed(seed, s) for s in sorted(sizes)}},
    }


def mus(name: str, note: str, rule: str, items: list[tuple[str, int | None]], interval: int,
        seed: str = SEED) -> dict[str, Any]:
    select = selection.mus_fixed_interval if rule == "mus_fixed_interval" else (
        selection.mus_cell_selection
    )
    chosen = select([(k, a or 0) for k, a in items], interval, seed)
    hits = [
        {"key": h.key, "amount_ore": h.amount, "points": list(h.points), "top_stratum": True}
        for h in chosen.top_stratum
    ] + [
        {"key": h.key, "amount_ore": h.amount, "points": list(h.points), "top_stratum": False}
        for h in chosen.selected
    ]
    return {
        "name": name, "rule": rule, "note": note, "seed": seed,
        "population": [{"key": k, "amount_ore": a} for k, a in items],
        "parameters": {"interval_ore": interval},
        "expected": {"keys": chosen.keys, "items": hits, "start": chosen.start,
                     "population_amount_ore": chosen.population_amount,
                     "excluded": [k for k, _ in chosen.excluded]},
    }


def payments(label: str, count: int, low: int, high: int) -> list[tuple[str, int | None]]:
    return [(f"U-{i:04d}", amount(label, i, low, high)) for i in range(1, count + 1)]


def boundary_items(interval: int) -> list[tuple[str, int | None]]:
    """Items placed so that the first point is exactly the last öre of the first item."""
    start = 1 + selection.randbelow(SEED, "riskreg:mus-start", interval)
    items: list[tuple[str, int | None]] = [("G-01", start), ("G-02", interval - 1)]
    items += [("G-03", 0), ("G-04", -12_500), ("G-05", None), ("G-06", interval)]
    items += [(f"G-{i:02d}", amount("gräns", i, 1, interval - 1)) for i in range(7, 25)]
    items.append(("G-25", 3 * interval + 17))
    return items


def cell_double_hit() -> tuple[str, list[tuple[str, int | None]]]:
    """A seed for which one item below the interval is hit by two cells' points."""
    items = payments("cell", 60, 5_000, 95_000)
    for attempt in range(10_000):
        seed = f"{SEED}-{attempt}"
        chosen = selection.mus_cell_selection([(k, a or 0) for k, a in items], 100_000, seed)
        if any(len(h.points) > 1 for h in chosen.selected):
            return seed, items
    raise SystemExit("no double hit found")


def build() -> dict[str, Any]:
    mixed = ["Å-1", "Ö-2", "ä-3", "Ω-4", "収-5", "😀-6", "A-7", "a-8", "Ä-9", "z-10"]
    mixed_file = ["A\u030a-1", "O\u0308-2 ", " a\u0308-3", "Ω-4", "収-5", "😀-6", "A-7\u00a0",
                  "a-8", "A\u0308-9", "\tz-10"]
    double_seed, double_items = cell_double_hit()
    passcards = [(f"K-{i:02d}", "avslutade" if i % 3 == 0 else "övriga") for i in range(1, 31)]
    vectors = [
        srs("srs-basic", "Obundet slumpmässigt urval, 5 av 20.", keys("P-", 20), 5),
        srs("srs-census", "n = N: hela populationen, i rangordning.", keys("R-", 7), 7),
        srs("srs-n-above-N", "n större än N ger hela populationen (appen begränsar n till N).",
            keys("R-", 4), 9),
        srs("srs-non-ascii-nfc",
            "Nycklar utanför ASCII. key_in_file är cellen som den stod i filen; "
            "importen gör NFC och tar bort blanktecken i början och slutet, och det är key "
            "som hashas.",
            mixed, 6, file_keys=mixed_file),
        extension("extension", keys("P-", 30), 4, [3, 5, 100]),
        systematic("systematic-fraction", "Intervall 20/6 = 10/3 (bråk).", keys("S-", 20), 6),
        systematic("systematic-integer", "Heltalsintervall 4.", keys("S-", 20), 5),
        systematic("systematic-census", "n = N: intervall 1.", keys("S-", 7), 7),
        systematic("systematic-one", "n = 1.", keys("S-", 5), 1),
        stratified("stratified-passcards",
                   "Skikten i kodpunktsordning (avslutade före övriga), var för sig med "
                   "skiktets frö.", passcards, {"avslutade": 4, "övriga": 5}),
        stratified("stratified-census-and-empty",
                   "Ett skikt helt (n = N) och ett skikt med storlek 0.",
                   passcards, {"avslutade": 10, "övriga": 0}),
        mus("mus-fixed", "Fast intervall 500 000 öre; toppskikt, noll, negativa och "
            "saknade belopp.", "mus_fixed_interval",
            [*payments("fast", 40, 100, 400_000), ("T-1", 1_250_000), ("T-2", 500_000),
             ("Z-0", 0), ("N-1", -40_000), ("M-1", None)],
            500_000),
        mus("mus-fixed-power-of-two-boundary",
            "Intervall 1024 öre (en tvåpotens: första dragningen godtas alltid). G-01 slutar "
            "exakt på startpunkten och väljs; G-02 börjar på nästa öre.",
            "mus_fixed_interval", boundary_items(1024), 1024),
        mus("mus-cell", "Cellurval 500 000 öre; toppskikt utan punkter.", "mus_cell",
            [*payments("cell-a", 40, 100, 400_000), ("T-1", 1_250_000), ("T-2", 500_000),
             ("Z-0", 0), ("N-1", -40_000)],
            500_000),
        mus("mus-cell-double-hit",
            "Cellurval där en post under intervallet träffas av två cellers punkter.",
            "mus_cell", double_items, 100_000, seed=double_seed),
        mus("mus-cell-power-of-two", "Cellurval med intervall 4096 öre (tvåpotens).",
            "mus_cell", boundary_items(4096), 4096),
    ]
    return {
        "about": "Test vectors for docs/sampling.md. Every expected output is checked by "
                 "tests/sampling/test_sampling_spec.py against riskreg's code and against an "
                 "independent re-implementation. 64-bit values are decimal strings; amounts "
                 "are integer öre; an amount_ore of null is a row without an amount. Equal "
                 "64-bit ranks cannot be produced on purpose, so no vector has a rank tie; "
                 "the tie-break (key by code point) is tested with truncated ranks instead. "
                 "MUS ties are published: a point on an item's last öre (inclusive upper end).",
        "primitives": primitives(),
        "vectors": vectors,
    }


def main() -> None:
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
