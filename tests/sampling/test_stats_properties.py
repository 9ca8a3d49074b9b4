"""Property-based tests of the statistics (Hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import beta, gamma

from riskreg.sampling.stats import (
    attribute_sample_size,
    evaluate_attribute,
    mus_sample_size,
    round_up_percent,
    upper_deviation_limit,
)

SETTINGS = settings(max_examples=60, deadline=None)

# Rates on a 0.25 % grid, as auditors state them; kept away from expected ≈
# tolerable, where sizes explode and the tests would only measure patience.
tolerable_rates = st.integers(min_value=8, max_value=80).map(lambda q: Fraction(q, 400))
confidences = st.sampled_from([Fraction(9, 10), Fraction(95, 100), Fraction(99, 100)])


@st.composite
def plans(draw: st.DrawFn) -> tuple[Fraction, Fraction, Fraction]:
    tolerable = draw(tolerable_rates)
    quarter_steps = int(tolerable * 400)
    expected = Fraction(draw(st.integers(min_value=0, max_value=quarter_steps // 2)), 400)
    return draw(confidences), tolerable, expected


@SETTINGS
@given(plans(), st.integers(min_value=1, max_value=8))
def test_higher_tolerable_rate_never_needs_more(
    plan: tuple[Fraction, Fraction, Fraction], step: int
) -> None:
    confidence, tolerable, expected = plan
    n_low, _ = attribute_sample_size(confidence, tolerable, expected)
    n_high, _ = attribute_sample_size(confidence, tolerable + Fraction(step, 400), expected)
    assert n_high <= n_low


@SETTINGS
@given(plans(), st.integers(min_value=1, max_value=8))
def test_higher_expected_rate_never_needs_less(
    plan: tuple[Fraction, Fraction, Fraction], step: int
) -> None:
    confidence, tolerable, expected = plan
    higher = expected + Fraction(step, 400)
    assume(higher <= tolerable / 2)
    n_low, k_low = attribute_sample_size(confidence, tolerable, expected)
    n_high, k_high = attribute_sample_size(confidence, tolerable, higher)
    assert n_high >= n_low
    assert k_high >= k_low


@SETTINGS
@given(plans())
def test_higher_confidence_never_needs_less(plan: tuple[Fraction, Fraction, Fraction]) -> None:
    _, tolerable, expected = plan
    sizes = [attribute_sample_size(c, tolerable, expected)[0] for c in ("0.9", "0.95", "0.99")]
    assert sizes == sorted(sizes)


@SETTINGS
@given(plans())
def test_plan_is_minimal_and_agrees_with_the_evaluation(
    plan: tuple[Fraction, Fraction, Fraction],
) -> None:
    """Checked through the Clopper–Pearson limit, an independent route.

    The plan's n with k allowed deviations must pass the evaluation, and every
    smaller n with its own ceil(m E) allowed deviations must fail it (the criterion
    is not monotone in n, so all smaller m are checked, not just n - 1).
    """
    confidence, tolerable, expected = plan
    n, k = attribute_sample_size(confidence, tolerable, expected)
    assert k == -((-n * expected.numerator) // expected.denominator)
    assert evaluate_attribute(n, k, confidence, tolerable).within_tolerable
    smaller = np.arange(1, n)
    allowed = np.array([-((-m * expected.numerator) // expected.denominator) for m in smaller])
    limits = beta.ppf(float(confidence), allowed + 1, smaller - allowed)
    limits = np.where(allowed >= smaller, 1.0, limits)
    assert np.all(limits > float(tolerable))


@SETTINGS
@given(plans(), st.integers(min_value=1, max_value=5000))
def test_hypergeometric_size_fits_the_population(
    plan: tuple[Fraction, Fraction, Fraction], population: int
) -> None:
    confidence, tolerable, expected = plan
    n, k = attribute_sample_size(confidence, tolerable, expected, population_size=population)
    assert 1 <= n <= population
    assert 0 <= k < n or n == population


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=4, max_value=100).map(lambda q: Fraction(q, 200)),
    st.integers(min_value=0, max_value=6).map(lambda q: Fraction(q, 10)),
    st.sampled_from(["0.5", "0.63", "0.8", "0.9", "0.95", "0.99"]),
)
def test_mus_size_equals_brute_force_scan(
    tolerable: Fraction, ratio: Fraction, confidence: str
) -> None:
    """The chunked search from the RF(0)/T bound must agree with a scan from n = 1."""
    book = 10**10
    tolerable_amount = int(tolerable * book)
    expected_amount = int(tolerable_amount * ratio)
    n = mus_sample_size(book, tolerable_amount, expected_amount, confidence)
    t, e = Fraction(tolerable_amount, book), Fraction(expected_amount, book)
    scan = np.arange(1, n + 1)
    ok = gamma.ppf(float(confidence), 1 + scan * float(e)) <= scan * float(t)
    assert int(np.flatnonzero(ok)[0]) + 1 == n


@SETTINGS
@given(st.floats(min_value=0, max_value=1, allow_nan=False), st.integers(0, 3))
def test_round_up_percent_is_a_tight_upper_rounding(value: float, decimals: int) -> None:
    result = round_up_percent(value, decimals)
    step = Decimal(1).scaleb(-decimals)
    exact_percent = Fraction(repr(value)) * 100
    assert Fraction(result) >= exact_percent - Fraction(1, 10**8)
    assert Fraction(result - step) < exact_percent
    assert result.as_tuple().exponent == -decimals


@SETTINGS
@given(st.integers(min_value=1, max_value=600), st.data())
def test_upper_limit_grows_with_deviations(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n - 1))
    assert upper_deviation_limit(n, k, 0.95) < upper_deviation_limit(n, k + 1, 0.95)
    assert upper_deviation_limit(n, k, 0.90) < upper_deviation_limit(n, k, 0.95)
    assert k / n < upper_deviation_limit(n, k, 0.90)
