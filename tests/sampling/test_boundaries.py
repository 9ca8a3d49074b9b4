"""Verdicts and plans at the exact boundary, decided in exact arithmetic (issue 10, part 2),
and size searches that answer at once for any input the forms accept (part 3)."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom, gamma, hypergeom

from riskreg.sampling import stats
from riskreg.sampling.forms import parse_percent


def _hypergeometric_p0(population: int, bad: int, n: int) -> Fraction:
    """P(no deviation in n items) when ``bad`` of ``population`` deviate, exactly."""
    return Fraction(math.comb(population - bad, n), math.comb(population, n))


# ------------------------------------------------------------------ hypergeometric


@pytest.mark.parametrize(("population", "n", "tolerable"), [(100, 39, "0.05"), (300, 77, "0.03")])
def test_issue_cases_are_decided_alike(population: int, n: int, tolerable: str) -> None:
    """Both cases of the issue: a population at the tolerable rate is not ruled out."""
    bad = math.ceil(Fraction(tolerable) * population)
    assert _hypergeometric_p0(population, bad, n) > Fraction(5, 100)  # not ruled out
    result = stats.evaluate_attribute(n, 0, "0.95", tolerable, population_size=population)
    assert not result.within_tolerable
    assert "stöder inte" in result.explanation
    assert result.upper_deviation_count == bad  # D_U reaches T·N exactly
    # One more item rules it out, and the verdict turns with the probability.
    ruled_out = _hypergeometric_p0(population, bad, n + 1) <= Fraction(5, 100)
    after = stats.evaluate_attribute(n + 1, 0, "0.95", tolerable, population_size=population)
    assert after.within_tolerable == ruled_out


def test_hypergeometric_plan_at_an_exact_boundary() -> None:
    """N 40, T 5 % (D = 2), E 2.5 %: with 39 items and one allowed deviation the acceptance
    probability is 1 − 38/40 = 1/20, exactly the 5 % risk, so 39 qualifies; 38 does not."""
    exact = 1 - Fraction(math.comb(2, 2) * math.comb(38, 37), math.comb(40, 39))
    assert exact == Fraction(1, 20)
    assert 1 - Fraction(math.comb(38, 36), math.comb(40, 38)) > Fraction(1, 20)
    assert stats.attribute_sample_size("0.95", "0.05", "0.025", population_size=40) == (39, 1)
    # ...and the evaluation agrees with the plan at that boundary.
    assert stats.evaluate_attribute(39, 1, "0.95", "0.05", population_size=40).within_tolerable
    assert not stats.evaluate_attribute(39, 2, "0.95", "0.05", population_size=40).within_tolerable


# ----------------------------------------------------------------------- binomial


def test_binomial_boundary_is_exact() -> None:
    """n 1, T 95 %: P(no deviation) = 5 % exactly, which rules T out at 95 % confidence.

    In floats 1 − 0.95 is 0.050000000000000044, above 0.05: a float comparison would say
    the opposite of the exact one."""
    assert float(binom.cdf(0, 1, 0.95)) > 0.05
    assert stats.binomial_cdf_exact(0, 1, Fraction(95, 100)) == Fraction(1, 20)
    assert stats.evaluate_attribute(1, 0, "0.95", "0.95").within_tolerable
    assert stats.attribute_sample_size("0.95", "0.95") == (1, 0)
    # n 2, T 50 %, 75 %: P = 1/4 exactly at the 25 % risk; a hair lower T is not ruled out.
    assert stats.evaluate_attribute(2, 0, "0.75", "0.5").within_tolerable
    assert not stats.evaluate_attribute(2, 0, "0.75", "0.49").within_tolerable
    assert stats.attribute_sample_size("0.75", "0.5") == (2, 0)


@pytest.mark.parametrize("n", [59, 93, 124, 181])
def test_binomial_verdict_matches_the_exact_tail(n: int) -> None:
    for k in range(4):
        tail = sum(
            Fraction(math.comb(n, j)) * Fraction(5, 100) ** j * Fraction(95, 100) ** (n - j)
            for j in range(k + 1)
        )
        assert stats.evaluate_attribute(n, k, "0.95", "0.05").within_tolerable == (
            tail <= Fraction(5, 100)
        )


def test_census_knows_the_rate() -> None:
    """A census has no sampling risk: supported exactly when fewer than T·N deviate."""
    result = stats.evaluate_attribute(40, 0, "0.95", "0.05", population_size=40)
    assert result.within_tolerable and result.census
    assert result.upper_limit == 0.0
    assert "Hela populationen är granskad" in result.explanation
    assert "utan urvalsrisk" in result.explanation
    one = stats.evaluate_attribute(40, 1, "0.95", "0.05", population_size=40)
    two = stats.evaluate_attribute(40, 2, "0.95", "0.05", population_size=40)
    assert one.within_tolerable and not two.within_tolerable  # 2/40 = 5 % is not below T


# ---------------------------------------------------------------------------- MUS


def _nearest_integer_multiple(factor: float, limit: int) -> int:
    """The interval below ``limit`` whose multiple of ``factor`` lies closest to an integer."""
    intervals = np.arange(1, limit, dtype=np.float64)
    products = intervals * factor
    distance = np.abs(products - np.round(products))
    return int(intervals[int(np.argmin(distance))])


def test_mus_boundary_is_decided_to_fifty_digits() -> None:
    """Zero findings: the bound is RF(0) × interval = −ln(5 %) × interval. Pick the interval
    whose bound lies closest to a whole öre, and compare with −ln(0.05) to 50 digits."""
    rf0 = stats.reliability_factor(0, 0.95)
    interval = _nearest_integer_multiple(rf0, 2_000_000)
    tolerable = round(interval * rf0)
    with localcontext() as context:
        context.prec = 60
        exact_bound = -Decimal("0.05").ln() * interval
    assert abs(exact_bound - tolerable) < Decimal("1e-6")  # a genuine near-boundary case
    for amount in (tolerable - 1, tolerable, tolerable + 1):
        result = stats.evaluate_mus([], interval, "0.95", amount)
        assert result.within_tolerable == (exact_bound <= amount), amount


def test_mus_plan_is_supported_by_its_own_evaluation() -> None:
    """Consistency with planning: the planned size, no misstatement found, is supported."""
    book, tolerable = 10**9, 5 * 10**7
    plan = stats.plan_mus_sample(book, tolerable, 0, "0.95")
    assert stats.evaluate_mus([], plan.interval_ore, "0.95", tolerable).within_tolerable


def test_precise_reliability_factors_match_scipy() -> None:
    for errors in range(5):
        precise = stats.reliability_factor_precise(errors, Fraction(95, 100))
        assert float(precise) == pytest.approx(gamma.ppf(0.95, errors + 1), rel=1e-12)


# ------------------------------------------------------------ planning answers at once


class _Counting:
    """Wraps a SciPy distribution, counting vectorised calls and candidate sizes."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped
        self.calls = 0
        self.candidates = 0

    def _count(self, values: Any) -> None:
        self.calls += 1
        self.candidates += int(np.size(values))

    def cdf(self, *args: Any) -> Any:
        self._count(args[0])
        return self.wrapped.cdf(*args)

    def ppf(self, *args: Any) -> Any:
        self._count(args[1])
        return self.wrapped.ppf(*args)


@pytest.mark.parametrize(
    ("tolerable", "expected"), [("5", "4,99"), ("5", "4.999"), ("2", "1,99"), ("50", "49,99")]
)
def test_near_boundary_attribute_plans_answer_in_bounded_steps(
    monkeypatch: pytest.MonkeyPatch, tolerable: str, expected: str
) -> None:
    """Expected just under tolerable needs millions of items: the search refuses after at
    most PLAN_SEARCH_MAX_CHUNKS vectorised calls over at most PLAN_SIZE_LIMIT sizes."""
    proxy = _Counting(binom)
    monkeypatch.setattr(stats, "binom", proxy)
    with pytest.raises(stats.PlanTooLarge):
        stats.plan_attribute_sample("0.95", parse_percent(tolerable), parse_percent(expected))
    assert 1 <= proxy.calls <= stats.PLAN_SEARCH_MAX_CHUNKS
    assert proxy.candidates <= stats.PLAN_SIZE_LIMIT


class _CountingFunction:
    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.wrapped(*args)


@pytest.mark.parametrize(
    ("expected", "population", "refused"),
    [
        ("4,99", 10**6, True),
        ("4,999", 150_000, True),
        ("4,99", 100_000, False),  # found by bisection beyond the scanned sizes
        ("4,5", 100_000, False),
        ("4,99", 300, False),  # a census
    ],
)
def test_near_boundary_finite_population_plans_answer_in_bounded_steps(
    monkeypatch: pytest.MonkeyPatch, expected: str, population: int, refused: bool
) -> None:
    """With a finite population every candidate size costs one hypergeometric evaluation:
    at most the scanned sizes plus two bisections of log2(PLAN_SIZE_LIMIT) steps each."""
    proxy = _CountingFunction(stats.hypergeometric_cdf)
    monkeypatch.setattr(stats, "hypergeometric_cdf", proxy)
    bound = stats.HYPERGEOMETRIC_SCAN_SIZES + 4 * stats.PLAN_SIZE_LIMIT.bit_length()
    rate = parse_percent(expected)
    assert rate is not None
    if refused:
        with pytest.raises(stats.PlanTooLarge):
            stats.plan_attribute_sample("0.95", "0.05", rate, population)
    else:
        plan = stats.plan_attribute_sample("0.95", "0.05", rate, population)
        n, k = plan.sample_size, plan.allowed_deviations
        bad = math.ceil(Fraction(5, 100) * population)
        assert n <= population and k is not None
        if n < population:  # the criterion holds at the answer (scipy, independently)
            assert k == math.ceil(n * Fraction(rate))
            assert hypergeom.cdf(k, population, bad, n) <= 0.05
        else:
            assert k == bad - 1
    assert 1 <= proxy.calls <= bound


def test_small_population_near_boundary_is_a_census() -> None:
    plan = stats.plan_attribute_sample("0.95", "0.05", "0.0499", population_size=300)
    assert (plan.sample_size, plan.allowed_deviations) == (300, 14)  # ceil(15) − 1
    assert "måste hela populationen (300 poster) granskas" in plan.explanation


def test_fast_hypergeometric_matches_scipy() -> None:
    rng = np.random.default_rng(10)
    for _ in range(500):
        population = int(rng.integers(1, 2000))
        bad = int(rng.integers(0, population + 1))
        n = int(rng.integers(0, population + 1))
        k = int(rng.integers(0, n + 1))
        assert stats.hypergeometric_cdf(k, population, bad, n) == pytest.approx(
            hypergeom.cdf(k, population, bad, n), abs=1e-11
        )
    assert stats.hypergeometric_cdf(0, 10**12, 5 * 10**10, 59) == pytest.approx(
        0.95**59, rel=1e-6
    )


def test_near_boundary_mus_plan_answers_in_bounded_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = _Counting(gamma)
    monkeypatch.setattr(stats, "gamma", proxy)
    with pytest.raises(stats.PlanTooLarge):
        stats.mus_sample_size(10**10, 5 * 10**8, 499 * 10**6, "0.95")
    # the RF(0) lower bound is one call, then the bounded chunks
    assert proxy.calls <= stats.PLAN_SEARCH_MAX_CHUNKS + 1
    assert proxy.candidates <= stats.PLAN_SIZE_LIMIT + 1


def test_size_chunks_are_bounded() -> None:
    chunks = list(stats._size_chunks(1, stats.PLAN_SIZE_LIMIT))
    assert len(chunks) <= stats.PLAN_SEARCH_MAX_CHUNKS
    joined = np.concatenate(chunks)
    assert joined[0] == 1 and joined[-1] == stats.PLAN_SIZE_LIMIT
    assert np.all(np.diff(joined) == 1)
