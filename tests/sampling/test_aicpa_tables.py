"""Every transcribed AICPA 2017 table cell must be reproduced exactly.

The cells live in :mod:`tests.sampling.aicpa_tables` with a note on their source.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from scipy.stats import binom

from riskreg.sampling.stats import (
    AICPA_TABLE_SIZE_LIMIT,
    attribute_sample_size,
    mus_sample_size,
    plan_attribute_sample,
    plan_mus_sample,
    reliability_factor,
    round_up_percent,
    upper_deviation_limit,
)

from .aicpa_tables import (
    A1_DEVIATIONS,
    A1_SIZES,
    A1_STARRED,
    A2_DEVIATIONS,
    A2_PRINTED_NOT_JFA,
    A2_SIZES,
    A2_STARRED,
    A2_TABLE_ERRATA,
    A3_PERCENT,
    A4_PERCENT,
    C1_ROWS,
    C1_TOLERABLE_COLUMNS,
    C1_UNCERTAIN_TAINTINGS,
    POISSON_FACTORS,
    POISSON_ZERO_FACTORS,
    c1_cells,
    upper_limit_cells,
)

A1_CASES = sorted(A1_SIZES.items())
A2_CASES = sorted((cell, size) for cell, size in A2_SIZES.items() if cell not in A2_TABLE_ERRATA)


def test_transcription_has_the_expected_shape() -> None:
    """Guard against a dropped or duplicated value while transcribing."""
    assert len(A1_SIZES) == 194
    assert len(A2_SIZES) == 198
    assert len(A1_STARRED) == 9
    assert len(A2_STARRED) == 5
    assert len(c1_cells()) == 38 * 11
    assert all(len(row) == 11 for row in A3_PERCENT + A4_PERCENT)


@pytest.mark.parametrize(("cell", "size"), A1_CASES, ids=[f"E{e}-T{t}" for (e, t), _ in A1_CASES])
def test_table_a1_sample_sizes(cell: tuple[str, str], size: int) -> None:
    expected, tolerable = cell
    n, _ = attribute_sample_size("0.95", tolerable, expected)
    assert n == size


@pytest.mark.parametrize(("cell", "size"), A2_CASES, ids=[f"E{e}-T{t}" for (e, t), _ in A2_CASES])
def test_table_a2_sample_sizes(cell: tuple[str, str], size: int) -> None:
    expected, tolerable = cell
    n, _ = attribute_sample_size("0.90", tolerable, expected)
    assert n == size


FLOAT_TRAP_CASES = sorted(
    (cell, printed) for cell, printed in A2_PRINTED_NOT_JFA.items() if cell not in A2_TABLE_ERRATA
)


@pytest.mark.parametrize(("cell", "printed"), FLOAT_TRAP_CASES)
def test_a2_cells_where_float_arithmetic_fails(cell: tuple[str, str], printed: int) -> None:
    """400 and 1300 are only reached with exact arithmetic (n × rate is an integer)."""
    expected, tolerable = cell
    n, k = attribute_sample_size(0.90, float(tolerable), float(expected))
    assert n == printed
    assert Fraction(n) * Fraction(expected) == k  # exactly an integer: the float trap


@pytest.mark.parametrize(("cell", "values"), sorted(A2_TABLE_ERRATA.items()))
def test_a2_errata(cell: tuple[str, str], values: tuple[int, int]) -> None:
    """The guide prints 112, which does not reach 90 % confidence; we return 113."""
    expected, tolerable = cell
    printed, correct = values
    n, k = attribute_sample_size("0.90", tolerable, expected)
    assert (n, k) == (correct, 4)
    assert binom.cdf(4, printed, float(tolerable)) > 0.10
    assert binom.cdf(4, correct, float(tolerable)) <= 0.10


@pytest.mark.parametrize(("cell", "plan"), sorted(A1_DEVIATIONS.items()))
def test_table_a1_allowed_deviations(cell: tuple[str, str], plan: tuple[int, int]) -> None:
    expected, tolerable = cell
    assert attribute_sample_size(0.95, tolerable, expected) == plan


@pytest.mark.parametrize(("cell", "plan"), sorted(A2_DEVIATIONS.items()))
def test_table_a2_allowed_deviations(cell: tuple[str, str], plan: tuple[int, int]) -> None:
    expected, tolerable = cell
    assert attribute_sample_size(0.90, tolerable, expected) == plan


def test_brief_sanity_cells() -> None:
    assert attribute_sample_size(0.95, 0.05, 0.0) == (59, 0)
    assert attribute_sample_size(0.95, 0.05, 0.01) == (93, 1)
    assert attribute_sample_size(0.95, 0.10, 0.0) == (29, 0)
    assert attribute_sample_size(0.90, 0.05, 0.0) == (45, 0)
    assert attribute_sample_size(0.90, 0.05, 0.01) == (77, 1)
    assert round_up_percent(upper_deviation_limit(60, 0, 0.95)) == Decimal("4.9")


@pytest.mark.parametrize(
    ("confidence", "cells", "sizes"),
    [("0.95", A1_STARRED, A1_SIZES), ("0.90", A2_STARRED, A2_SIZES)],
    ids=["A-1", "A-2"],
)
def test_starred_cells_are_beyond_the_table_limit(
    confidence: str, cells: list[tuple[str, str]], sizes: dict[tuple[str, str], int]
) -> None:
    """Our reading of "*": computed size above 2 000; printed cells never are."""
    for expected, tolerable in cells:
        plan = plan_attribute_sample(confidence, tolerable, expected)
        assert plan.sample_size > AICPA_TABLE_SIZE_LIMIT
        assert plan.beyond_table_range
        assert "AICPA-tabellernas 2 000 poster" in plan.explanation
    assert max(sizes.values()) <= AICPA_TABLE_SIZE_LIMIT


A3_CASES = upper_limit_cells(A3_PERCENT)
A4_CASES = upper_limit_cells(A4_PERCENT)


@pytest.mark.parametrize(
    ("n", "k", "printed"), A3_CASES, ids=[f"n{n}-k{k}" for n, k, _ in A3_CASES]
)
def test_table_a3_upper_limits(n: int, k: int, printed: str) -> None:
    assert round_up_percent(upper_deviation_limit(n, k, 0.95)) == Decimal(printed)


@pytest.mark.parametrize(
    ("n", "k", "printed"), A4_CASES, ids=[f"n{n}-k{k}" for n, k, _ in A4_CASES]
)
def test_table_a4_upper_limits(n: int, k: int, printed: str) -> None:
    assert round_up_percent(upper_deviation_limit(n, k, 0.90)) == Decimal(printed)


C1_CASES = c1_cells()


@pytest.mark.parametrize(
    ("risk", "ratio", "tolerable", "size"),
    C1_CASES,
    ids=[f"risk{r}-ratio{q}-T{t}" for r, q, t, _ in C1_CASES],
)
def test_table_c1_mus_sample_sizes(risk: str, ratio: str, tolerable: str, size: int) -> None:
    book_value = 10**12  # öre; any book value works, only the ratios matter
    tolerable_amount = Fraction(tolerable) * book_value
    expected_amount = tolerable_amount * Fraction(ratio)
    assert tolerable_amount.denominator == expected_amount.denominator == 1
    n = mus_sample_size(book_value, int(tolerable_amount), int(expected_amount), 1 - Fraction(risk))
    assert n == size


C1_TAINT_CASES = sorted(
    (row, content) for row, content in C1_ROWS.items() if row not in C1_UNCERTAIN_TAINTINGS
)


@pytest.mark.parametrize(("row", "content"), C1_TAINT_CASES)
def test_table_c1_expected_taintings(
    row: tuple[str, str], content: tuple[tuple[int, ...], str]
) -> None:
    """The last C-1 column is n × E for the 0.5 % column, rounded up to 0.01."""
    risk, ratio = row
    book_value = 10**9
    tolerable = int(Fraction(C1_TOLERABLE_COLUMNS[-1]) * book_value)
    expected = int(tolerable * Fraction(ratio))
    plan = plan_mus_sample(book_value, tolerable, expected, 1 - Fraction(risk))
    assert plan.sample_size == content[0][-1]
    assert plan.expected_taintings == Decimal(content[1])


POISSON_CASES = [
    (risk, errors, printed)
    for risk, values in POISSON_FACTORS.items()
    for errors, printed in enumerate(values)
    if printed is not None
] + [(risk, 0, printed) for risk, printed in POISSON_ZERO_FACTORS.items()]


@pytest.mark.parametrize(("risk", "errors", "printed"), POISSON_CASES)
def test_poisson_confidence_factor_table(risk: str, errors: int, printed: str) -> None:
    factor = reliability_factor(errors, 1 - Fraction(risk))
    assert round_up_percent(factor / 100, decimals=2) == Decimal(printed)


def test_reliability_factors_unrounded() -> None:
    assert reliability_factor(0, 0.95) == pytest.approx(2.995732273553991, abs=1e-12)
    assert reliability_factor(1, 0.95) == pytest.approx(4.743864518390566, abs=1e-9)
    assert reliability_factor(0, 0.90) == pytest.approx(2.302585092994046, abs=1e-12)
