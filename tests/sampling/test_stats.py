"""Unit tests for sample sizes, limits, evaluations and plans (worked examples)."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from scipy.stats import beta

from riskreg.sampling.stats import (
    MusFinding,
    allowed_deviations,
    attribute_sample_size,
    evaluate_attribute,
    evaluate_mus,
    mus_sample_size,
    mus_sampling_interval,
    plan_attribute_sample,
    plan_mus_sample,
    reliability_factor,
    round_up_percent,
    upper_deviation_limit,
    upper_deviation_limit_hypergeometric,
)

from .aicpa_tables import A1_SIZES

# ------------------------------------------------------------------ float trap


def test_the_float_trap_exists() -> None:
    """Why exact arithmetic is needed at all: these products are not integers."""
    assert 200 * 0.035 == 7.000000000000001
    assert 400 * 0.035 == 14.000000000000002
    assert math.ceil(200 * 0.035) == 8


@pytest.mark.parametrize(
    ("n", "rate", "expected"),
    [
        (200, 0.035, 7),
        (400, 0.035, 14),
        (1300, 0.07, 91),
        (100, 0.07, 7),
        (300, "0.0325", 10),  # 9.75 rounds up
        (93, Decimal("0.01"), 1),
        (0, 0.05, 0),
    ],
)
def test_allowed_deviations_are_exact(n: int, rate: float | str | Decimal, expected: int) -> None:
    assert allowed_deviations(n, rate) == expected


def test_float_trap_cell_is_table_value_for_any_input_type() -> None:
    for rate in (0.035, "0.035", Decimal("0.035"), Fraction(7, 200)):
        assert attribute_sample_size(0.90, 0.05, rate) == (400, 14)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((1.0, 0.05, 0.0), ValueError),
        ((0, 0.05, 0.0), ValueError),
        ((0.95, 0.0, 0.0), ValueError),
        ((0.95, 0.05, 0.05), ValueError),
        ((0.95, 0.05, 0.06), ValueError),
        ((0.95, 0.05, -0.01), ValueError),
        ((0.95, float("nan"), 0.0), ValueError),
        ((True, 0.05, 0.0), TypeError),
        ((0.95, "fem procent", 0.0), ValueError),
        ((0.95, None, 0.0), TypeError),
    ],
)
def test_attribute_sample_size_rejects_bad_input(args: tuple, error: type[Exception]) -> None:
    with pytest.raises(error):
        attribute_sample_size(*args)


def test_population_size_must_be_a_positive_int() -> None:
    with pytest.raises(ValueError):
        attribute_sample_size(0.95, 0.05, 0.0, population_size=0)
    with pytest.raises(TypeError):
        attribute_sample_size(0.95, 0.05, 0.0, population_size=100.0)  # type: ignore[arg-type]


def test_mus_amounts_must_be_exact() -> None:
    with pytest.raises(TypeError):
        mus_sample_size(1_000_000.0, 50_000, 0)
    with pytest.raises(ValueError):
        mus_sample_size(1_000_000, 50_000, 50_000)
    with pytest.raises(ValueError):
        mus_sample_size(0, 50_000, 0)


# ---------------------------------------------------------------- plans / text


def test_attribute_plan_explanation_in_swedish() -> None:
    plan = plan_attribute_sample(0.95, 0.05, 0.01)
    assert plan.method == "attribute-binomial"
    assert (plan.sample_size, plan.allowed_deviations) == (93, 1)
    assert plan.explanation == (
        "Med 95 % konfidens, tolerabel avvikelsefrekvens 5 % och förväntad 1 % "
        "krävs 93 poster; högst 1 avvikelse tillåts."
    )
    assert plan.parameter("confidence") == "0.95"
    assert plan.parameter("expected_rate") == "0.01"
    assert not plan.beyond_table_range


def test_attribute_plan_text_for_zero_and_several_deviations() -> None:
    assert plan_attribute_sample(0.95, 0.05).explanation.endswith(
        "krävs 59 poster; inga avvikelser tillåts."
    )
    text = plan_attribute_sample(0.90, 0.05, "0.035").explanation
    assert "förväntad 3,5 %" in text
    assert text.endswith("krävs 400 poster; högst 14 avvikelser tillåts.")


def test_mus_plan() -> None:
    book = 1_000_000_000  # 10 000 000,00 kr
    plan = plan_mus_sample(book, 50_000_000, 10_000_000, 0.95)  # T 5 %, E/T 0.2
    assert plan.sample_size == 93  # table C-1, 5 % risk, ratio 0.2, 5 %
    assert plan.interval_ore == book // 93 == 10_752_688
    assert plan.expected_taintings == Decimal("0.93")
    assert plan.allowed_deviations is None
    assert plan.explanation == (
        "Med 95 % konfidens, tolerabel felsumma 500\u00a0000,00\u00a0kr och förväntad felsumma "
        "100\u00a0000,00\u00a0kr i en population om 10\u00a0000\u00a0000,00\u00a0kr krävs 93 "
        "beloppsenheter (MUS); urvalsintervall 107\u00a0526,88\u00a0kr."
    )


def test_mus_sampling_interval_rounds_down() -> None:
    assert mus_sampling_interval(1000, 3) == 333
    assert mus_sampling_interval(999, 3) == 333
    assert mus_sampling_interval(5, 5) == 1
    with pytest.raises(ValueError):
        mus_sampling_interval(4, 5)


# ----------------------------------------------------------- hypergeometric


def test_hypergeometric_small_population_needs_fewer_items() -> None:
    assert attribute_sample_size(0.95, 0.05, 0.0, population_size=20) == (19, 0)
    assert attribute_sample_size(0.95, 0.05, 0.01, population_size=1000) == (90, 1)
    plan = plan_attribute_sample(0.95, 0.05, 0.01, population_size=1000)
    assert plan.method == "attribute-hypergeometric"
    assert "krävs 90 poster av 1000" in plan.explanation


def test_hypergeometric_census_when_sampling_cannot_separate() -> None:
    """N = 20 at 5 % tolerable means one deviation is already intolerable."""
    plan = plan_attribute_sample(0.95, 0.05, 0.005, population_size=20)
    assert (plan.sample_size, plan.allowed_deviations) == (20, 0)
    assert "måste hela populationen (20 poster) granskas; inga avvikelser tillåts" in (
        plan.explanation
    )


def _distinct_small_cells() -> list[tuple[tuple[str, str], int]]:
    """One A-1 cell per printed size up to 400 (keeps the slow N = 10^8 runs few)."""
    cells: dict[int, tuple[str, str]] = {}
    for cell, size in sorted(A1_SIZES.items()):
        if size <= 400:
            cells.setdefault(size, cell)
    return sorted((cell, size) for size, cell in cells.items())


@pytest.mark.parametrize(("cell", "size"), _distinct_small_cells())
def test_hypergeometric_converges_to_binomial(cell: tuple[str, str], size: int) -> None:
    expected, tolerable = cell
    n, k = attribute_sample_size(0.95, tolerable, expected, population_size=10**8)
    assert (n, k) == attribute_sample_size(0.95, tolerable, expected)


def test_hypergeometric_upper_limit() -> None:
    # A census leaves no sampling risk: the limit is the observed rate.
    assert upper_deviation_limit_hypergeometric(60, 0, 0.95, 60) == 0.0
    assert upper_deviation_limit_hypergeometric(60, 3, 0.95, 60) == 3 / 60
    # A huge population behaves like the binomial (finite-population effect ~ n/N).
    big = upper_deviation_limit_hypergeometric(60, 0, 0.95, 10**7)
    assert big == pytest.approx(upper_deviation_limit(60, 0, 0.95), abs=1e-6)
    # Finite populations give a lower (tighter) limit.
    assert upper_deviation_limit_hypergeometric(60, 1, 0.95, 200) < upper_deviation_limit(
        60, 1, 0.95
    )


# -------------------------------------------------------------- upper limits


def test_upper_limit_edge_cases() -> None:
    assert upper_deviation_limit(10, 10, 0.95) == 1.0
    assert upper_deviation_limit(60, 0, 0.95) == pytest.approx(1 - 0.05 ** (1 / 60))
    with pytest.raises(ValueError):
        upper_deviation_limit(10, 11, 0.95)
    with pytest.raises(ValueError):
        upper_deviation_limit(0, 0, 0.95)
    with pytest.raises(TypeError):
        upper_deviation_limit(10, 1.0, 0.95)  # type: ignore[arg-type]


def test_upper_limit_is_the_clopper_pearson_bound() -> None:
    """Check against the defining equation P(X <= k | n, p_U) = 1 - confidence."""
    from scipy.stats import binom

    for n, k in [(25, 0), (60, 2), (125, 7), (500, 10)]:
        limit = upper_deviation_limit(n, k, 0.95)
        assert binom.cdf(k, n, limit) == pytest.approx(0.05, abs=1e-12)
        assert limit == beta.ppf(0.95, k + 1, n - k)


# ----------------------------------------------------------- round_up_percent


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0.049, 1, "4.9"),
        (0.04900000001, 1, "4.9"),  # float noise must not become 5.0
        (0.0489999999999, 1, "4.9"),
        (0.0490001, 1, "5.0"),
        (0.04870291331009749, 1, "4.9"),
        (Fraction(49, 1000), 1, "4.9"),
        (Fraction(49_000_000_001, 10**12), 1, "5.0"),  # exact input: no tolerance
        (Decimal("0.0491"), 1, "5.0"),
        ("0.05", 1, "5.0"),
        (Fraction(1, 3), 1, "33.4"),
        (0.0, 1, "0.0"),
        (1.0, 1, "100.0"),
        (0.049431, 2, "4.95"),
        (0.0299573, 0, "3"),
    ],
)
def test_round_up_percent(
    value: float | Fraction | Decimal | str, decimals: int, expected: str
) -> None:
    result = round_up_percent(value, decimals)
    assert isinstance(result, Decimal)
    assert str(result) == expected


# --------------------------------------------------------- attribute evaluation


def test_evaluate_attribute_within_and_beyond_tolerable() -> None:
    ok = evaluate_attribute(93, 1, 0.95, 0.05)
    assert ok.within_tolerable
    assert ok.sample_rate == Fraction(1, 93)
    assert ok.upper_limit_percent == Decimal("5.0")
    assert ok.upper_limit <= 0.05
    assert "urvalet stöder att kontrollen fungerar" in ok.explanation

    bad = evaluate_attribute(93, 2, 0.95, 0.05)
    assert not bad.within_tolerable
    assert bad.explanation.startswith("2 avvikelser i 93 poster (2,15 %).")
    assert "stöder inte" in bad.explanation


def test_evaluate_attribute_with_population_size() -> None:
    finite = evaluate_attribute(90, 1, 0.95, 0.05, population_size=1000)
    assert finite.within_tolerable
    assert not evaluate_attribute(90, 1, 0.95, 0.05).within_tolerable


# --------------------------------------------------------------- MUS evaluation


def _poisson_upper_limit(errors: int, confidence: float) -> float:
    """Independent route: bisection on the Poisson cdf, pure Python, no SciPy."""

    def cdf(lam: float) -> float:
        term, total = math.exp(-lam), 0.0
        for i in range(errors + 1):
            total += term
            term *= lam / (i + 1)
        return total

    low, high = 0.0, 100.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) > 1 - confidence else (low, middle)
    return low


RF0, RF1, RF2 = (_poisson_upper_limit(k, 0.95) for k in range(3))


def test_reliability_factor_matches_known_values() -> None:
    assert math.isclose(RF0, -math.log(0.05), abs_tol=1e-12)
    assert reliability_factor(0, 0.95) == pytest.approx(RF0, abs=1e-10)
    assert reliability_factor(1, 0.95) == pytest.approx(RF1, abs=1e-10)
    assert reliability_factor(2, 0.95) == pytest.approx(RF2, abs=1e-10)
    assert reliability_factor(1, 0.95) == pytest.approx(4.743865, abs=1e-6)  # the brief
    assert RF0 < reliability_factor(0.5, 0.95) < RF1  # fractional errors interpolate
    with pytest.raises(ValueError):
        reliability_factor(-1, 0.95)


def _example_findings() -> list[MusFinding]:
    return [
        MusFinding("A", 50_000, 25_000),  # tainting 0.5
        MusFinding("B", 20_000, 0),  # tainting 1.0
        MusFinding("C", 250_000, 240_000),  # top stratum, 10 000 öre overstated
        MusFinding("D", 40_000, 44_000),  # understatement, tainting 0.1
        MusFinding("E", 30_000, 30_000),  # correct
    ]


def test_evaluate_mus_stringer_worked_example() -> None:
    interval = 100_000
    result = evaluate_mus(_example_findings(), interval, 0.95, tolerable_misstatement=1_000_000)
    basic = RF0 * interval
    # Ranked taintings 1.0 then 0.5, times the incremental factors, plus top stratum.
    upper = basic + (RF1 - RF0) * 1.0 * interval + (RF2 - RF1) * 0.5 * interval + 10_000
    assert result.basic_precision == pytest.approx(basic)
    assert result.projected_misstatement == 1 * interval + Fraction(1, 2) * interval + 10_000
    assert result.top_stratum_misstatement == 10_000
    assert result.upper_misstatement_limit == pytest.approx(upper, abs=1e-6)
    assert result.upper_misstatement_limit_ore == math.ceil(upper)
    assert result.incremental_allowance == pytest.approx(upper - basic - 160_000, abs=1e-6)
    assert result.projected_understatement == Fraction(1, 10) * interval
    assert [line.key for line in result.lines] == ["B", "A"]
    assert result.within_tolerable
    assert "Övre felgräns med 95 % konfidens (Stringer)" in result.explanation


def test_evaluate_mus_is_order_independent_and_compares_with_tolerable() -> None:
    findings = _example_findings()
    shuffled = findings[:]
    random.Random(7).shuffle(shuffled)
    first = evaluate_mus(findings, 100_000, 0.95, 500_000)  # upper limit is ~561 983
    assert evaluate_mus(shuffled, 100_000, 0.95, 500_000) == first
    assert not first.within_tolerable
    assert "överstiger" in first.explanation


def test_evaluate_mus_without_misstatements_is_basic_precision() -> None:
    result = evaluate_mus([MusFinding("A", 5, 5)], 100_000, 0.95, 300_000)
    assert result.upper_misstatement_limit == pytest.approx(RF0 * 100_000)
    assert result.projected_misstatement == 0
    assert result.lines == ()
    assert result.within_tolerable  # 299 573 <= 300 000


def test_evaluate_mus_counts_an_item_hit_twice_twice() -> None:
    """Cell selection can hit a straddling item twice: two sampling units."""
    once = evaluate_mus([MusFinding("A", 60_000, 30_000)], 100_000, 0.95, 10**7)
    twice = evaluate_mus([MusFinding("A", 60_000, 30_000, points=2)], 100_000, 0.95, 10**7)
    assert [line.rank for line in twice.lines] == [1, 2]
    assert twice.projected_misstatement == 2 * once.projected_misstatement == 100_000
    expected = RF0 * 100_000 + (RF2 - RF0) * 0.5 * 100_000
    assert twice.upper_misstatement_limit == pytest.approx(expected, abs=1e-6)


def test_mus_finding_validation() -> None:
    with pytest.raises(ValueError):
        MusFinding("A", 0, 0)
    with pytest.raises(TypeError):
        MusFinding("A", 100.0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MusFinding("A", 100, 0, points=0)
