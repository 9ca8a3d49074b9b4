"""Sample sizes, upper limits and evaluations for riskreg's sample checks (stickprov).

Over 600 lines on purpose: the statistics of every sampling method in one pure module, so the
auditor's re-derivation (docs/sampling.md) has one place to read.

Everything here is a pure function of its arguments, so that an auditor can re-run a
plan or an evaluation years later and get the same numbers. The methods follow the
AICPA Audit Guide *Audit Sampling* (2017 edition), whose tables are reproduced cell
by cell in ``tests/sampling``:

* attribute sampling (tests of controls): binomial sample sizes, tables A-1 and A-2;
  one-sided exact (Clopper–Pearson) upper deviation limits, tables A-3 and A-4;
* monetary-unit sampling (MUS): Poisson/gamma sample sizes, table C-1, and the
  Stringer bound for evaluation.

* finite populations: hypergeometric sizes and upper counts; a census (every item
  examined) knows its deviation rate and has no sampling risk;
* stratified samples: per stratum and combined (strata weighted by size, Bonferroni
  upper limit), :func:`evaluate_stratified`.

Rates and confidences are fractions of 1 (``0.05`` means 5 %). Amounts are integer
öre (SEK × 100). Anything that decides an integer threshold is computed with
:class:`fractions.Fraction`; floats only enter the probability functions, and a
probability within :data:`BOUNDARY_MARGIN` of the risk is decided again in exact
arithmetic, so a verdict is "supported" exactly when a population at the tolerable
rate is ruled out at the confidence – the criterion planning uses. Every size search
is bounded (:data:`PLAN_SIZE_LIMIT`) and answers in a bounded number of steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import partial

import numpy as np
from scipy.stats import beta, binom, gamma

from riskreg.i18n import N_
from riskreg.sampling._exact import (
    Exact,
    ceil_fraction,
    ceil_to_places,
    format_count,
    format_percent,
    format_percent_decimal,
    format_sek,
    fraction_to_decimal,
    require_int,
    to_fraction,
)
from riskreg.sampling.hygiene import (
    HygieneGroup,
    HygieneMeasure,
    HygieneObservation,
    HygieneReport,
    evaluate_hygiene,
)

__all__ = [
    "AICPA_TABLE_SIZE_LIMIT",
    "ATTRIBUTE_METHOD_DESCRIPTIONS",
    "BOUNDARY_MARGIN",
    "FLOAT_NOISE_TOLERANCE",
    "MAX_SAMPLE_SIZE",
    "PLAN_SEARCH_MAX_CALLS",
    "PLAN_SEARCH_MAX_CHUNKS",
    "PLAN_SIZE_LIMIT",
    "STRATIFIED_METHOD_DESCRIPTION",
    "AttributeEvaluation",
    "HygieneGroup",
    "HygieneMeasure",
    "HygieneObservation",
    "HygieneReport",
    "MusEvaluation",
    "MusFinding",
    "MusLine",
    "PlanTooLarge",
    "PopulationTooSmall",
    "SamplePlan",
    "StratifiedEvaluation",
    "StratumEvaluation",
    "StratumInput",
    "allowed_deviations",
    "attribute_sample_size",
    "attribute_supported",
    "binomial_cdf_exact",
    "evaluate_attribute",
    "evaluate_hygiene",
    "evaluate_mus",
    "evaluate_stratified",
    "hypergeometric_cdf",
    "hypergeometric_cdf_exact",
    "mus_sample_size",
    "mus_sampling_interval",
    "plan_attribute_sample",
    "plan_mus_sample",
    "reliability_factor",
    "reliability_factor_precise",
    "round_up_percent",
    "upper_deviation_count",
    "upper_deviation_limit",
    "upper_deviation_limit_hypergeometric",
]

AICPA_TABLE_SIZE_LIMIT = 2000
"""Largest sample size the AICPA 2017 tables print instead of "*".

The guide marks some cells "*" ("sample size is too large to be cost-effective for
most audit applications"). In the transcribed 2017 tables every printed size is at
most 1 936 and every starred cell computes to at least 2 057, which is consistent
with a cut-off of 2 000; the exact cut-off is our inference, not a quoted rule.
We still return the computed size for such cells and only flag it
(:attr:`SamplePlan.beyond_table_range`), because refusing to answer would push the
user towards an unsupported smaller sample.
"""

PLAN_SIZE_LIMIT = 100_000
"""Largest sample size the planner looks for; larger plans are refused.

No one examines more than 100 000 items by hand, and the bound is what makes planning
answer at once: an expected rate just below the tolerable one (4,99 % against 5 %)
would otherwise need tens of millions of items, and the search would run for a minute
before saying so. Each search evaluates its criterion in chunks that double in size,
so it makes at most :data:`PLAN_SEARCH_MAX_CHUNKS` vectorised calls over at most
``PLAN_SIZE_LIMIT`` candidate sizes before it answers or refuses.
"""

MAX_SAMPLE_SIZE = PLAN_SIZE_LIMIT
"""Former name of :data:`PLAN_SIZE_LIMIT`, kept for callers."""

_FIRST_CHUNK = 256
_LAST_CHUNK = 1 << 14

PLAN_SEARCH_MAX_CHUNKS = 16
"""Upper bound on the vectorised criterion calls of one size scan (see tests)."""

PLAN_SEARCH_MAX_CALLS = PLAN_SEARCH_MAX_CHUNKS + 4 * PLAN_SIZE_LIMIT.bit_length()
"""Upper bound on all criterion calls of one size search: the chunks of the scan and,
for a finite population, two bisections of at most ``log2(PLAN_SIZE_LIMIT)`` steps."""

BOUNDARY_MARGIN = 1e-9
"""Probabilities this close to the risk are decided again in exact arithmetic.

SciPy's distribution functions are accurate to far better than 1e-12 here, so a float
further than this from the risk is on the right side of it; closer ones (a population
at exactly the tolerable rate, the boundary of issue 10) are recomputed with
:class:`fractions.Fraction` or integer binomial coefficients, so that no verdict and
no plan depends on the binary value of a float.
"""


class PopulationTooSmall(ValueError):
    """An MUS plan needs more units than the population has (``unit``: ``ore``/``items``)."""

    def __init__(self, needed: int, available: int, unit: str) -> None:
        super().__init__(f"{needed} monetary units needed, only {available} {unit}")
        self.needed = needed
        self.available = available
        self.unit = unit


class PlanTooLarge(ValueError):
    """The plan would need more than :data:`PLAN_SIZE_LIMIT` items."""

    def __init__(self, limit: int = PLAN_SIZE_LIMIT) -> None:
        super().__init__(f"the required sample size exceeds {limit}; revisit the rates")
        self.limit = limit

FLOAT_NOISE_TOLERANCE = 1e-10
"""Float noise (in fraction units) ignored by :func:`round_up_percent`.

1e-10 of a rate is 1e-8 percentage points, far below the 0.1 % display step. The
genuine A-3/A-4 value closest to a display step is A-4, n 55, no deviations:
4.1000939 %, printed as 4.2 %. It lies 9.4e-7 (as a rate) above 4.1 %, nearly ten
thousand times the tolerance, so the tolerance cannot change a table cell, while it
absorbs noise such as ``0.04900000001`` (which must display as 4.9 %, not 5.0 %).
"""


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class SamplePlan:
    """A planned sample size together with the reasoning an auditor needs to see.

    ``parameters`` holds the inputs as exact decimal strings so that the plan can be
    stored with the sample and re-computed later; ``explanation`` is the Swedish
    sentence shown in the check and in the signed report.
    """

    method: str
    sample_size: int
    allowed_deviations: int | None
    parameters: tuple[tuple[str, str], ...]
    explanation: str
    beyond_table_range: bool = False
    interval_ore: int | None = None
    expected_taintings: Decimal | None = None

    def parameter(self, name: str) -> str:
        """Look up one recorded parameter by name."""
        return dict(self.parameters)[name]


def _confidence(value: Exact) -> Fraction:
    confidence = to_fraction(value, "confidence")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    return confidence


def _rate(value: Exact, name: str, *, allow_zero: bool) -> Fraction:
    rate = to_fraction(value, name)
    lower_ok = rate >= 0 if allow_zero else rate > 0
    if not (lower_ok and rate < 1):
        bound = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be in {bound}, got {rate}")
    return rate


def _risk(confidence: Fraction) -> float:
    """Risk of overreliance / incorrect acceptance, as SciPy needs it."""
    return float(1 - confidence)


def allowed_deviations(sample_size: int, expected_rate: Exact) -> int:
    """The tables' parenthetical number: ``ceil(n * expected_rate)``, exactly.

    Rounding *up* is the AICPA rule (see :func:`attribute_sample_size`); it must be
    exact because ``n * rate`` is often an integer (400 × 3.5 % = 14) and a float
    product (14.000000000000002) would round up to one deviation too many.
    """
    require_int(sample_size, "sample_size", minimum=0)
    return ceil_fraction(sample_size * _rate(expected_rate, "expected_rate", allow_zero=True))


def _first_n_with_zero_deviations(risk: float, tolerable: Fraction) -> int:
    """Lower bound for any plan: the zero-deviation size ``(1-T)^n <= risk``.

    Allowing deviations can only increase the size, so searches may start here. One
    below the float estimate is used to stay safe against rounding in ``log``.
    """
    estimate = np.log(risk) / np.log1p(-float(tolerable))
    return max(1, int(np.floor(estimate)) - 1)


# ------------------------------------------------------- exact tail probabilities


def binomial_cdf_exact(k: int, n: int, p: Fraction) -> Fraction:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)`` as an exact fraction."""
    if k < 0:
        return Fraction(0)
    if k >= n:
        return Fraction(1)
    a, d = p.numerator, p.denominator
    b = d - a
    total = sum(math.comb(n, j) * a**j * b ** (n - j) for j in range(k + 1))
    return Fraction(total, d**n)


def hypergeometric_cdf_exact(k: int, population: int, bad: int, n: int) -> Fraction:
    """``P(X <= k)`` for ``n`` drawn without replacement from ``population`` holding
    ``bad`` deviations, as an exact fraction of integer binomial coefficients."""
    if k < 0:
        return Fraction(0)
    good = population - bad
    total = sum(math.comb(bad, j) * math.comb(good, n - j) for j in range(min(k, n) + 1))
    return Fraction(total, math.comb(population, n))


def _at_most_risk(probability: float, exact: Callable[[], Fraction], risk: Fraction) -> bool:
    """``probability <= risk``, decided exactly when the float is near the boundary."""
    if probability < float(risk) - BOUNDARY_MARGIN:
        return True
    if probability > float(risk) + BOUNDARY_MARGIN:
        return False
    return exact() <= risk


def _first_accepted(
    probabilities: np.ndarray,
    risk: Fraction,
    sizes: np.ndarray,
    counts: np.ndarray,
    exact: Callable[[int, int], Fraction],
) -> int | None:
    """Index of the first probability at most ``risk`` (exact near the boundary).

    ``exact(count, size)`` computes the probability exactly for one candidate.
    """
    for index in np.flatnonzero(probabilities <= float(risk) + BOUNDARY_MARGIN):
        position = int(index)
        decide = partial(exact, int(counts[position]), int(sizes[position]))
        if _at_most_risk(float(probabilities[position]), decide, risk):
            return position
    return None


def _size_chunks(start: int, stop: int) -> Iterator[np.ndarray]:
    """Candidate sizes ``start..stop`` in chunks that double up to a fixed width.

    With ``stop <= PLAN_SIZE_LIMIT`` that is at most :data:`PLAN_SEARCH_MAX_CHUNKS`
    chunks, which is what bounds every size search.
    """
    chunk = _FIRST_CHUNK
    while start <= stop:
        end = min(stop, start + chunk - 1)
        yield np.arange(start, end + 1, dtype=np.int64)
        start, chunk = end + 1, min(chunk * 2, _LAST_CHUNK)


def _allowed_counts(sizes: np.ndarray, expected: Fraction) -> np.ndarray:
    """``ceil(n E)`` for every n, in exact integer arithmetic."""
    a, d = expected.numerator, expected.denominator
    return np.array([-((-int(n) * a) // d) for n in sizes], dtype=np.int64)


def _binomial_by_count(count: int, size: int, *, tolerable: Fraction) -> Fraction:
    return binomial_cdf_exact(count, size, tolerable)


def _hypergeometric_by_count(population: int, bad: int, count: int, size: int) -> Fraction:
    return hypergeometric_cdf_exact(count, population, bad, size)


def _search_binomial(risk: Fraction, tolerable: Fraction, expected: Fraction) -> tuple[int, int]:
    """Smallest n with ``P(X <= ceil(n E)) <= risk`` for ``X ~ Bin(n, T)``.

    Scans upward in vectorised chunks rather than bisecting: because ``ceil(nE)``
    jumps, the criterion is not monotone in n, and a bisection could land on a
    larger n than the smallest qualifying one. The scan stops at
    :data:`PLAN_SIZE_LIMIT`, so it ends after a bounded number of chunks.
    """
    start = _first_n_with_zero_deviations(float(risk), tolerable)
    for sizes in _size_chunks(start, PLAN_SIZE_LIMIT):
        counts = _allowed_counts(sizes, expected)
        cdf = np.asarray(binom.cdf(counts, sizes, float(tolerable)))  # an array for array input
        hit = _first_accepted(
            cdf, risk, sizes, counts, partial(_binomial_by_count, tolerable=tolerable)
        )
        if hit is not None:
            return int(sizes[hit]), int(counts[hit])
    raise PlanTooLarge()


def _hypergeometric_cdf_chunk(
    counts: np.ndarray, population: int, bad: int, sizes: np.ndarray
) -> np.ndarray:
    """:func:`hypergeometric_cdf` for consecutive sizes, sharing one cumulative sum."""
    largest = int(sizes[-1])
    steps = np.arange(largest, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # sizes beyond the good items:
        terms = np.log1p(-bad / (population - steps))  # not used, they start above 0
    logs0 = np.concatenate(([0.0], np.cumsum(terms)))
    return np.array(
        [
            hypergeometric_cdf(int(k), population, bad, int(n), float(logs0[int(n)]))
            for k, n in zip(counts, sizes, strict=True)
        ]
    )


def hypergeometric_cdf(
    k: int, population: int, bad: int, n: int, log_first: float | None = None
) -> float:
    """``P(X <= k)`` for the hypergeometric distribution, in time independent of N.

    SciPy's implementation slows down in proportion to N and n (seconds for N of a
    million and more), too slow for a plan search. Here ``log P(X = x0)`` at the
    smallest possible count comes from ``sum(log1p(-D / (N - i)))`` or, when ``n``
    exceeds the good items, from ``sum(log1p((n - N) / (D + t)))`` (both accurate for
    any N); the next terms follow from the ratio of consecutive probabilities, summed
    in log space. Relative accuracy is far better than :data:`BOUNDARY_MARGIN`.
    """
    good = population - bad
    start = max(0, n - good)
    top = min(k, n, bad)
    if top < start:
        return 0.0
    if start == 0 and log_first is not None:
        first = log_first
    elif start == 0:
        steps = np.arange(n, dtype=np.float64)
        first = float(np.sum(np.log1p(-bad / (population - steps)))) if bad else 0.0
    else:  # P(X = n - good) = C(D, n - good) / C(N, n) = prod over t <= good of (n-good+t)/(D+t)
        t = np.arange(1, good + 1, dtype=np.float64)
        first = float(np.sum(np.log1p((n - population) / (bad + t))))
    j = np.arange(start + 1, top + 1, dtype=np.float64)
    ratios = np.log(bad - j + 1) + np.log(n - j + 1) - np.log(j) - np.log(good - n + j)
    logs = np.concatenate(([first], first + np.cumsum(ratios)))
    peak = float(logs.max())
    return float(min(1.0, math.exp(peak) * float(np.sum(np.exp(logs - peak)))))


HYPERGEOMETRIC_SCAN_SIZES = 4096
"""Sizes the hypergeometric search scans one by one before it bisects (see below)."""


def _search_hypergeometric(
    risk: Fraction, tolerable: Fraction, expected: Fraction, population: int
) -> tuple[int, int]:
    """Hypergeometric analogue of :func:`_search_binomial` for a finite population.

    The intolerable population holds ``D = ceil(T N)`` deviations: the smallest
    count whose rate reaches T. Smaller D are tolerable, and larger D only make the
    acceptance probability smaller, so controlling the risk at D controls it for
    every intolerable population. If even a census with ``ceil(N E)`` allowed
    deviations cannot separate tolerable from intolerable (small N, expected close
    to tolerable), the whole population must be examined and at most ``D - 1``
    deviations can be accepted.

    The first :data:`HYPERGEOMETRIC_SCAN_SIZES` sizes are scanned one by one (every
    AICPA-sized plan is found there, the smallest qualifying n). SciPy's
    hypergeometric distribution costs time in proportion to n, so larger sizes are
    found by bisection (:func:`_bisect_hypergeometric`): O(log N) evaluations.
    """
    bad = ceil_fraction(tolerable * population)
    stop = min(population, PLAN_SIZE_LIMIT)
    for sizes in _size_chunks(1, min(stop, HYPERGEOMETRIC_SCAN_SIZES)):
        counts = _allowed_counts(sizes, expected)
        cdf = _hypergeometric_cdf_chunk(counts, population, bad, sizes)
        hit = _first_accepted(
            cdf, risk, sizes, counts, partial(_hypergeometric_by_count, population, bad)
        )
        if hit is not None:
            return int(sizes[hit]), int(counts[hit])
    if stop > HYPERGEOMETRIC_SCAN_SIZES:
        found = _bisect_hypergeometric(
            risk, expected, population, bad, HYPERGEOMETRIC_SCAN_SIZES + 1, stop
        )
        if found is not None:
            return found
    if population > PLAN_SIZE_LIMIT:
        raise PlanTooLarge()
    return population, bad - 1


def _bisect_hypergeometric(
    risk: Fraction, expected: Fraction, population: int, bad: int, low: int, high: int
) -> tuple[int, int] | None:
    """A size in ``low..high`` meeting the criterion, by bisection, or None.

    For a fixed allowed count k the acceptance probability falls as n grows, so
    within the sizes sharing one ``k = ceil(n E)`` the smallest qualifying n is
    found by bisection, and such a run qualifies at all exactly when its largest n
    does. The first qualifying k is then found by bisection over k as well. That
    treats "some n with this k qualifies" as monotone in k, which holds except for
    rounding wobbles when E is very close to T; a wobble can only make the answer a
    few items larger than the smallest, never a size that does not meet the criterion.
    """

    def accepts(n: int, k: int) -> bool:
        probability = hypergeometric_cdf(k, population, bad, n)
        exact = partial(hypergeometric_cdf_exact, k, population, bad, n)
        return _at_most_risk(probability, exact, risk)

    def sizes_for(k: int) -> tuple[int, int]:
        """The n in ``low..high`` with ``ceil(n E) = k``."""
        if expected == 0:
            return low, high
        first = max(low, math.floor((k - 1) / expected) + 1)
        last = min(high, math.floor(k / expected))
        return first, last

    def qualifies(k: int) -> bool:
        first, last = sizes_for(k)
        return first <= last and accepts(last, k)

    k_low, k_high = ceil_fraction(low * expected), ceil_fraction(high * expected)
    if not qualifies(k_high):
        return None
    while k_low < k_high:
        middle = (k_low + k_high) // 2
        if qualifies(middle):
            k_high = middle
        else:
            k_low = middle + 1
    first, last = sizes_for(k_high)
    while first < last:
        middle = (first + last) // 2
        if accepts(middle, k_high):
            last = middle
        else:
            first = middle + 1
    return first, k_high


def attribute_sample_size(
    confidence: Exact,
    tolerable_rate: Exact,
    expected_rate: Exact = 0.0,
    population_size: int | None = None,
) -> tuple[int, int]:
    """Sample size and allowed deviations for a test of controls.

    Returns ``(n, k)``: examine ``n`` items; the control is supported if at most
    ``k`` deviations are found.

    **Rule (reproduces AICPA 2017 tables A-1 and A-2 exactly).** ``n`` is the
    smallest positive integer such that::

        P(X <= k(n)) <= 1 - confidence,   X ~ Binomial(n, tolerable_rate),
        k(n) = ceil(n * expected_rate)     (exact rational arithmetic)

    i.e. the number of deviations expected in the sample, *rounded up*, is the
    number allowed, and with that many deviations the one-sided upper limit still
    does not exceed the tolerable rate. ``k(n)`` is the parenthetical number in the
    tables. Rounding to nearest would give 93 instead of the table's 124 at 95 %,
    T 5 %, E 1.25 % (93 × 1.25 % = 1.16); "floor + 1" and float arithmetic both give
    423 instead of the table's 400 at 90 %, T 5 %, E 3.5 %, where 400 × 3.5 % is
    exactly 14. The tables' "*" cells (sizes above about 2 000) are returned as
    computed; see :data:`AICPA_TABLE_SIZE_LIMIT`.

    One known erratum: table A-2 prints 112 for T 7 % with E 3.25 % and 3.5 %, but
    P(X <= 4 | n = 112, p = 7 %) = 10.07 % exceeds the 10 % risk, so 112 does not give
    90 % confidence. We return 113 (4), the smallest size that does.

    With ``population_size`` the hypergeometric distribution is used instead (the
    population holds ``ceil(T N)`` deviations in the intolerable case), which never
    asks for more than ``N`` items and converges to the binomial answer as N grows.
    """
    plan = plan_attribute_sample(confidence, tolerable_rate, expected_rate, population_size)
    assert plan.allowed_deviations is not None
    return plan.sample_size, plan.allowed_deviations


def plan_attribute_sample(
    confidence: Exact,
    tolerable_rate: Exact,
    expected_rate: Exact = 0.0,
    population_size: int | None = None,
) -> SamplePlan:
    """Like :func:`attribute_sample_size`, with parameters and a Swedish explanation."""
    conf = _confidence(confidence)
    tolerable = _rate(tolerable_rate, "tolerable_rate", allow_zero=False)
    expected = _rate(expected_rate, "expected_rate", allow_zero=True)
    if expected >= tolerable:
        raise ValueError("expected_rate must be below tolerable_rate")
    if population_size is None:
        n, k = _search_binomial(1 - conf, tolerable, expected)
        method = "attribute-binomial"
    else:
        require_int(population_size, "population_size", minimum=1)
        n, k = _search_hypergeometric(1 - conf, tolerable, expected, population_size)
        method = "attribute-hypergeometric"
    parameters = (
        ("confidence", str(fraction_to_decimal(conf))),
        ("tolerable_rate", str(fraction_to_decimal(tolerable))),
        ("expected_rate", str(fraction_to_decimal(expected))),
        ("population_size", "" if population_size is None else str(population_size)),
    )
    beyond = population_size is None and n > AICPA_TABLE_SIZE_LIMIT
    text = _attribute_explanation(conf, tolerable, expected, n, k, population_size, beyond)
    return SamplePlan(method, n, k, parameters, text, beyond)


def _deviations_phrase(k: int) -> str:
    if k == 0:
        return "inga avvikelser tillåts"
    return f"högst {k} {'avvikelse' if k == 1 else 'avvikelser'} tillåts"


def _attribute_explanation(
    conf: Fraction,
    tolerable: Fraction,
    expected: Fraction,
    n: int,
    k: int,
    population_size: int | None,
    beyond: bool,
) -> str:
    """Swedish one-liner, e.g. the sentence quoted in the feature brief."""
    head = (
        f"Med {format_percent(conf)} konfidens, tolerabel avvikelsefrekvens "
        f"{format_percent(tolerable)} och förväntad {format_percent(expected)}"
    )
    if population_size is not None and n == population_size:
        return f"{head} måste hela populationen ({n} poster) granskas; {_deviations_phrase(k)}."
    population = "" if population_size is None else f" av {population_size}"
    text = f"{head} krävs {n} poster{population}; {_deviations_phrase(k)}."
    if beyond:
        text += (
            " Urvalet är större än AICPA-tabellernas "
            f"{format_count(AICPA_TABLE_SIZE_LIMIT)} poster och är sällan "
            "kostnadseffektivt; överväg att ompröva parametrarna."
        )
    return text


# -------------------------------------------------------------- upper limits


def _check_counts(sample_size: int, deviations: int) -> None:
    require_int(sample_size, "sample_size", minimum=1)
    require_int(deviations, "deviations", minimum=0)
    if deviations > sample_size:
        raise ValueError("deviations cannot exceed sample_size")


def upper_deviation_limit(sample_size: int, deviations: int, confidence: Exact) -> float:
    """One-sided exact binomial (Clopper–Pearson) upper limit, unrounded.

    The limit is the deviation rate p at which finding ``deviations`` or fewer has
    probability exactly ``1 - confidence``; by the beta–binomial identity that is
    the ``confidence`` quantile of Beta(k + 1, n - k). It reproduces AICPA tables
    A-3 (95 %) and A-4 (90 %) once rounded up with :func:`round_up_percent`.
    """
    _check_counts(sample_size, deviations)
    conf = _confidence(confidence)
    if deviations == sample_size:
        return 1.0
    return float(beta.ppf(float(conf), deviations + 1, sample_size - deviations))


def upper_deviation_limit_hypergeometric(
    sample_size: int, deviations: int, confidence: Exact, population_size: int
) -> float:
    """Exact finite-population upper limit, as a rate ``D_U / N``."""
    return upper_deviation_count(sample_size, deviations, confidence, population_size) / (
        population_size
    )


def upper_deviation_count(
    sample_size: int, deviations: int, confidence: Exact, population_size: int
) -> int:
    """``D_U``: the largest number of population deviations the sample does not rule out.

    That is the largest D with ``P(X <= k | N, D, n) > 1 - confidence`` (decided
    exactly at the boundary). Because the acceptance probability falls as D grows,
    D_U is found by bisection between the k deviations already seen and
    ``k + (N - n)``. A census (``n = N``) gives ``D_U = k``; no items examined
    (``n = 0``) rules nothing out, ``D_U = N``.
    """
    require_int(sample_size, "sample_size", minimum=0)
    require_int(deviations, "deviations", minimum=0)
    if deviations > sample_size:
        raise ValueError("deviations cannot exceed sample_size")
    require_int(population_size, "population_size", minimum=max(sample_size, 1))
    risk = 1 - _confidence(confidence)
    low, high = deviations, deviations + population_size - sample_size
    while low < high:
        middle = (low + high + 1) // 2
        probability = hypergeometric_cdf(deviations, population_size, middle, sample_size)
        exact = partial(
            hypergeometric_cdf_exact, deviations, population_size, middle, sample_size
        )
        ruled_out = _at_most_risk(probability, exact, risk)
        if not ruled_out:
            low = middle
        else:
            high = middle - 1
    return low


def attribute_supported(
    sample_size: int,
    deviations: int,
    confidence: Exact,
    tolerable_rate: Exact,
    population_size: int | None = None,
) -> bool:
    """Whether a population at the tolerable rate is ruled out at the confidence.

    The same criterion as planning, decided in exact arithmetic at the boundary:
    ``P(X <= k) <= 1 - confidence`` with ``X ~ Binomial(n, T)``, or with a finite
    population ``X ~ Hypergeometric(N, ceil(T N), n)``. In a census the deviation
    count is known, so this is simply ``k < ceil(T N)``.
    """
    _check_counts(sample_size, deviations)
    risk = 1 - _confidence(confidence)
    tolerable = _rate(tolerable_rate, "tolerable_rate", allow_zero=False)
    if population_size is None:
        probability = float(binom.cdf(deviations, sample_size, float(tolerable)))
        return _at_most_risk(
            probability, lambda: binomial_cdf_exact(deviations, sample_size, tolerable), risk
        )
    require_int(population_size, "population_size", minimum=sample_size)
    bad = ceil_fraction(tolerable * population_size)
    if sample_size == population_size:
        return deviations < bad
    probability = hypergeometric_cdf(deviations, population_size, bad, sample_size)
    return _at_most_risk(
        probability,
        lambda: hypergeometric_cdf_exact(deviations, population_size, bad, sample_size),
        risk,
    )


def round_up_percent(fraction: Exact, decimals: int = 1) -> Decimal:
    """Express a rate as a percentage rounded *up*, as the AICPA tables print it.

    Rounding up keeps a displayed upper limit conservative. For floats, values
    within :data:`FLOAT_NOISE_TOLERANCE` above a display step are treated as that
    step, so computational noise (0.04900000001) does not turn 4.9 % into 5.0 %.
    Exact inputs (Fraction, Decimal, str, int) are rounded up with no tolerance.
    """
    require_int(decimals, "decimals", minimum=0)
    percent = to_fraction(fraction, "fraction") * 100
    if isinstance(fraction, float):
        units = percent * 10**decimals
        below = units.numerator // units.denominator
        noise = to_fraction(FLOAT_NOISE_TOLERANCE) * 100 * 10**decimals
        if units - below <= noise:
            percent = Fraction(below, 10**decimals)
    return ceil_to_places(percent, decimals)


# ------------------------------------------------------------- monetary units


def reliability_factor(errors: Exact, confidence: Exact) -> float:
    """Poisson upper-limit factor for ``errors`` misstatements, unrounded.

    It is the λ at which ``P(Poisson(λ) <= errors) = 1 - confidence``, which by the
    Poisson–gamma identity is the ``confidence`` quantile of Gamma(errors + 1).
    Non-integer ``errors`` are allowed because MUS planning uses the expected sum
    of taintings (e.g. 0.93) as a fractional number of errors.
    """
    count = to_fraction(errors, "errors")
    if count < 0:
        raise ValueError("errors must be >= 0")
    return float(gamma.ppf(float(_confidence(confidence)), float(count) + 1))


def _amount(value: Exact, name: str) -> Fraction:
    """Amounts must be exact: a float SEK amount is exactly the trap we avoid."""
    if isinstance(value, float):
        raise TypeError(f"{name} must be an exact amount (int öre, Decimal, str), not float")
    return to_fraction(value, name)


def _search_mus(confidence: float, tolerable: Fraction, expected: Fraction) -> int:
    """Smallest n with ``GammaQuantile(confidence; 1 + n E) <= n T``.

    ``RF(0) / T`` is a hard lower bound (the quantile only grows with the shape).
    From there the criterion is scanned upward in vectorised chunks, so the answer
    is the smallest qualifying n without assuming the criterion is monotone in n.
    The scan stops at :data:`PLAN_SIZE_LIMIT` (a bounded number of chunks).
    """
    start = max(1, int(gamma.ppf(confidence, 1) / float(tolerable)) - 1)
    ta, td = tolerable.numerator, tolerable.denominator
    ea, ed = expected.numerator, expected.denominator
    for sizes in _size_chunks(start, PLAN_SIZE_LIMIT):
        # int / int is correctly rounded in Python: float(n E) without a Fraction per n.
        shapes = np.array([1 + int(n) * ea / ed for n in sizes])
        limits = np.array([int(n) * ta / td for n in sizes])
        hits = np.flatnonzero(gamma.ppf(confidence, shapes) <= limits)
        if hits.size:
            return int(sizes[int(hits[0])])
    raise PlanTooLarge()


def mus_sample_size(
    book_value: Exact,
    tolerable_misstatement: Exact,
    expected_misstatement: Exact = 0,
    confidence: Exact = 0.95,
) -> int:
    """Monetary-unit sample size, reproducing AICPA 2017 table C-1 exactly.

    **Method.** With ``T = tolerable / book value`` and ``E = expected / book
    value``, ``n`` is the smallest integer such that::

        GammaQuantile(confidence; shape = 1 + n E) <= n T

    i.e. if the sample shows exactly the expected misstatement, ``n E`` expected
    taintings (not rounded to an integer), the Poisson/gamma upper limit on the
    misstatement rate still does not exceed the tolerable rate. This is the 2017
    guide's gamma method, which replaced the older "expansion factor"
    approximation; it reproduces every C-1 cell we transcribed (all risks 5–50 %,
    all ratios, all tolerable rates 0.5–50 %).

    Amounts may be int öre, Decimal or str (only their ratios matter); floats are
    refused so that a rounded SEK amount cannot slip in.
    """
    book = _amount(book_value, "book_value")
    tolerable_amount = _amount(tolerable_misstatement, "tolerable_misstatement")
    expected_amount = _amount(expected_misstatement, "expected_misstatement")
    if book <= 0:
        raise ValueError("book_value must be positive")
    if tolerable_amount <= 0:
        raise ValueError("tolerable_misstatement must be positive")
    if not 0 <= expected_amount < tolerable_amount:
        raise ValueError("expected_misstatement must be >= 0 and below tolerable")
    conf = float(_confidence(confidence))
    return _search_mus(conf, tolerable_amount / book, expected_amount / book)


def mus_sampling_interval(book_value: int, n: int) -> int:
    """Sampling interval in whole öre: ``book_value // n``.

    Rounding *down* guarantees at least ``n`` selection points with a fixed
    interval (rounding up could yield ``n - 1``). The evaluation must use this same
    integer interval, which is why it is returned rather than a fraction.
    """
    require_int(book_value, "book_value", minimum=1)
    require_int(n, "n", minimum=1)
    if n > book_value:
        raise PopulationTooSmall(n, book_value, "ore")
    return book_value // n


def plan_mus_sample(
    book_value: int,
    tolerable_misstatement: int,
    expected_misstatement: int = 0,
    confidence: Exact = 0.95,
    item_count: int | None = None,
) -> SamplePlan:
    """MUS plan with size, interval, expected taintings and a Swedish explanation.

    With ``item_count`` (the items of the imported population with a positive
    amount), a plan that needs at least as many monetary units as there are items
    says so: at most that many items are examined, those of at least one interval in
    full. A plan needing more units than the book value holds öre is refused with
    :class:`PopulationTooSmall`.

    ``expected_taintings`` is ``n × expected / book value`` rounded up to two
    decimals: the sum of taintings the sample may show and still meet the
    objective. It is the last column of table C-1 (for the 0.5 % column).
    """
    require_int(book_value, "book_value", minimum=1)
    require_int(tolerable_misstatement, "tolerable_misstatement", minimum=1)
    require_int(expected_misstatement, "expected_misstatement", minimum=0)
    n = mus_sample_size(book_value, tolerable_misstatement, expected_misstatement, confidence)
    interval = mus_sampling_interval(book_value, n)
    taintings = Fraction(n * expected_misstatement, book_value)
    expected_taintings = ceil_to_places(taintings, 2)
    conf = _confidence(confidence)
    parameters = (
        ("confidence", str(fraction_to_decimal(conf))),
        ("book_value_ore", str(book_value)),
        ("tolerable_misstatement_ore", str(tolerable_misstatement)),
        ("expected_misstatement_ore", str(expected_misstatement)),
    )
    text = (
        f"Med {format_percent(conf)} konfidens, tolerabel felsumma "
        f"{format_sek(tolerable_misstatement)} och förväntad felsumma "
        f"{format_sek(expected_misstatement)} i en population om {format_sek(book_value)} "
        f"krävs {n} beloppsenheter (MUS); urvalsintervall {format_sek(interval)}."
    )
    if item_count is not None and n >= item_count:
        text += (
            f" Populationen har bara {item_count} poster med positivt belopp: högst så många "
            "poster granskas, och poster om minst ett urvalsintervall granskas fullt ut."
        )
    return SamplePlan(
        "mus-poisson",
        n,
        None,
        parameters,
        text,
        interval_ore=interval,
        expected_taintings=expected_taintings,
    )


# ------------------------------------------------------------------ evaluation


ATTRIBUTE_METHOD_DESCRIPTIONS: dict[str, str] = {
    "binomial": N_(
        "Attributurval, binomialfördelning: exakt ensidig övre gräns (Clopper–Pearson) "
        "enligt AICPA:s tabeller A-3 och A-4."
    ),
    "hypergeometric": N_(
        "Attributurval ur en ändlig population, hypergeometrisk fördelning: övre gräns för "
        "antalet avvikelser i populationen."
    ),
    "census": N_(
        "Totalgranskning: hela populationen är granskad, avvikelsefrekvensen är känd och "
        "det finns ingen urvalsrisk."
    ),
}
"""Swedish statement of the method of an attribute evaluation (English in the catalogue)."""


@dataclass(frozen=True)
class AttributeEvaluation:
    """Result of a test of controls, ready to be stored and shown.

    ``method`` is ``binomial``, ``hypergeometric`` or ``census``;
    ``method_description`` says it in Swedish. ``upper_deviation_count`` is ``D_U``
    for a finite population (``None`` for the binomial).
    """

    sample_size: int
    deviations: int
    sample_rate: Fraction
    upper_limit: float
    upper_limit_percent: Decimal
    tolerable_rate: Fraction
    within_tolerable: bool
    explanation: str
    method: str = "binomial"
    population_size: int | None = None
    upper_deviation_count: int | None = None
    confidence: Fraction = Fraction(95, 100)

    @property
    def method_description(self) -> str:
        return ATTRIBUTE_METHOD_DESCRIPTIONS[self.method]

    @property
    def census(self) -> bool:
        return self.method == "census"


def evaluate_attribute(
    sample_size: int,
    deviations: int,
    confidence: Exact,
    tolerable_rate: Exact,
    population_size: int | None = None,
) -> AttributeEvaluation:
    """Compare the upper deviation limit with the tolerable rate.

    The control is supported exactly when a population at the tolerable rate is
    ruled out at the confidence (:func:`attribute_supported`), the criterion that
    planning uses, decided in exact arithmetic at the boundary. The rounded-up
    percentage is for display. For a plan from :func:`attribute_sample_size`,
    finding at most the allowed deviations always gives ``within_tolerable`` – that
    duality is tested. A census (``sample_size == population_size``) knows the
    deviation rate: no sampling risk, the limit is the rate itself.
    """
    conf = _confidence(confidence)
    tolerable = _rate(tolerable_rate, "tolerable_rate", allow_zero=False)
    within = attribute_supported(sample_size, deviations, conf, tolerable, population_size)
    rate = Fraction(deviations, sample_size)
    count_word = "avvikelse" if deviations == 1 else "avvikelser"
    if population_size is not None and population_size == sample_size:
        shown = ceil_to_places(rate * 100, 1)
        verdict = (
            "ryms inom den tolerabla avvikelsefrekvensen; granskningen stöder att kontrollen "
            "fungerar"
            if within
            else "når eller överstiger den tolerabla avvikelsefrekvensen; granskningen stöder "
            "inte att kontrollen fungerar"
        )
        text = (
            f"Hela populationen är granskad: {deviations} {count_word} i {sample_size} poster. "
            f"Avvikelsefrekvensen {format_percent(rate)} är känd, utan urvalsrisk, och {verdict} "
            f"(tolerabel {format_percent(tolerable)})."
        )
        return AttributeEvaluation(
            sample_size, deviations, rate, float(rate), shown, tolerable, within, text,
            "census", population_size, deviations, conf,
        )  # fmt: skip
    count: int | None = None
    if population_size is None:
        limit = upper_deviation_limit(sample_size, deviations, conf)
        method = "binomial"
    else:
        count = upper_deviation_count(sample_size, deviations, conf, population_size)
        limit = count / population_size
        method = "hypergeometric"
    shown = round_up_percent(limit)
    if not within and shown <= tolerable * 100:
        # The limit equals the tolerable rate: a population at that rate is not ruled out.
        shown = ceil_to_places(tolerable * 100, 1)
    verdict = (
        "ryms inom den tolerabla avvikelsefrekvensen; urvalet stöder att kontrollen fungerar"
        if within
        else "når eller överstiger den tolerabla avvikelsefrekvensen; urvalet stöder inte att "
        "kontrollen fungerar"
    )
    text = (
        f"{deviations} {count_word} i {sample_size} poster ({format_percent(rate)}). "
        f"Övre avvikelsegräns med {format_percent(conf)} konfidens: "
        f"{format_percent_decimal(shown)}, vilket {verdict} "
        f"(tolerabel {format_percent(tolerable)})."
    )
    return AttributeEvaluation(
        sample_size, deviations, rate, limit, shown, tolerable, within, text,
        method, population_size, count, conf,
    )  # fmt: skip


# ------------------------------------------------------------ stratified samples

STRATIFIED_METHOD_DESCRIPTION = N_(
    "Skiktat urval: varje skikt utvärderas för sig med hypergeometrisk fördelning (övre "
    "gräns för antalet avvikelser i skiktet med vald konfidens). För hela populationen vägs "
    "skikten efter sin storlek: skattad avvikelsefrekvens = summan av Nₕ·kₕ/nₕ delad med N. "
    "Den övre gränsen för hela populationen är summan av skiktens övre gränser för antalet "
    "avvikelser, var och en beräknad med konfidensen 1 − risk/antalet skikt med urvalsrisk "
    "(Bonferroni), delad med N; den håller minst den valda konfidensen. Helt granskade "
    "skikt har ingen urvalsrisk."
)
"""Swedish statement of the stratified method (English in the catalogue)."""


@dataclass(frozen=True)
class StratumInput:
    """One stratum: its population size, the items examined and the deviations found."""

    name: str
    population_size: int
    sample_size: int
    deviations: int


@dataclass(frozen=True)
class StratumEvaluation:
    """One stratum evaluated on its own at the chosen confidence."""

    name: str
    population_size: int
    sample_size: int
    deviations: int
    sample_rate: Fraction | None
    upper_deviation_count: int
    upper_limit: Fraction
    upper_limit_percent: Decimal
    within_tolerable: bool

    @property
    def census(self) -> bool:
        return self.sample_size == self.population_size


@dataclass(frozen=True)
class StratifiedEvaluation:
    """Per-stratum limits and the combined limit for the whole population."""

    strata: tuple[StratumEvaluation, ...]
    population_size: int
    sample_size: int
    deviations: int
    estimated_rate: Fraction | None
    upper_deviation_count: int
    upper_limit: Fraction
    upper_limit_percent: Decimal
    tolerable_rate: Fraction
    confidence: Fraction
    stratum_confidence: Fraction
    within_tolerable: bool
    explanation: str
    method: str = "stratified"

    @property
    def method_description(self) -> str:
        return STRATIFIED_METHOD_DESCRIPTION


def evaluate_stratified(
    strata: Iterable[StratumInput], confidence: Exact, tolerable_rate: Exact
) -> StratifiedEvaluation:
    """Evaluate a stratified attribute sample per stratum and for the population.

    Per stratum h (``N_h`` items, ``n_h`` examined, ``k_h`` deviations): the
    hypergeometric upper count ``D_U,h`` at the confidence, and the verdict
    ``D_U,h < ceil(T N_h)``. Combined: the point estimate weights each stratum's
    rate by its size, ``sum(N_h k_h / n_h) / N``; the upper count is
    ``sum(D_U,h)`` with each stratum at confidence ``1 - risk / m``, where m counts
    the strata that carry sampling risk (not fully examined). By Boole's inequality
    the population's deviations exceed that sum with probability at most ``risk``.
    The control is supported when ``sum(D_U,h) < ceil(T N)``, i.e. a population at
    the tolerable rate is ruled out.
    """
    conf = _confidence(confidence)
    tolerable = _rate(tolerable_rate, "tolerable_rate", allow_zero=False)
    given = sorted(strata, key=lambda item: item.name)
    if not given:
        raise ValueError("at least one stratum is needed")
    for item in given:
        require_int(item.population_size, "population_size", minimum=1)
        require_int(item.sample_size, "sample_size", minimum=0)
        require_int(item.deviations, "deviations", minimum=0)
        if item.sample_size > item.population_size or item.deviations > item.sample_size:
            raise ValueError(f"stratum {item.name!r}: counts do not fit")
    at_risk = sum(1 for item in given if item.sample_size < item.population_size)
    stratum_conf = 1 - (1 - conf) / at_risk if at_risk else conf
    results = []
    combined = 0
    for item in given:
        count = upper_deviation_count(
            item.sample_size, item.deviations, conf, item.population_size
        )
        limit = Fraction(count, item.population_size)
        results.append(
            StratumEvaluation(
                item.name,
                item.population_size,
                item.sample_size,
                item.deviations,
                Fraction(item.deviations, item.sample_size) if item.sample_size else None,
                count,
                limit,
                ceil_to_places(limit * 100, 1),
                count < ceil_fraction(tolerable * item.population_size),
            )
        )
        combined += upper_deviation_count(
            item.sample_size, item.deviations, stratum_conf, item.population_size
        )
    population = sum(item.population_size for item in given)
    estimated: Fraction | None = None
    if all(item.sample_size for item in given):
        estimated = sum(
            (Fraction(item.population_size * item.deviations, item.sample_size) for item in given),
            Fraction(0),
        ) / population
    upper = Fraction(combined, population)
    within = combined < ceil_fraction(tolerable * population)
    shown = ceil_to_places(upper * 100, 1)
    verdict = (
        "ryms inom den tolerabla avvikelsefrekvensen; urvalet stöder att kontrollen fungerar"
        if within
        else "når eller överstiger den tolerabla avvikelsefrekvensen; urvalet stöder inte att "
        "kontrollen fungerar"
    )
    estimate_text = (
        f"Skattad avvikelsefrekvens i populationen (skikten vägda efter storlek): "
        f"{format_percent(estimated)}. "
        if estimated is not None
        else ""
    )
    sample_size = sum(item.sample_size for item in given)
    deviations = sum(item.deviations for item in given)
    text = (
        f"Skiktat urval: {deviations} avvikelser i {sample_size} poster ur {population} i "
        f"{len(given)} skikt. {estimate_text}Övre avvikelsegräns för hela populationen med "
        f"{format_percent(conf)} konfidens: {format_percent_decimal(shown)} ({combined} av "
        f"{population} poster), vilket {verdict} (tolerabel {format_percent(tolerable)})."
    )
    return StratifiedEvaluation(
        tuple(results), population, sample_size, deviations, estimated, combined, upper,
        shown, tolerable, conf, stratum_conf, within, text,
    )  # fmt: skip


@dataclass(frozen=True)
class MusFinding:
    """One examined MUS item: book and audited amounts in öre.

    ``points`` is the number of selection points that hit the item. It is 1 with a
    fixed interval (items below the interval hold at most one point), but cell
    selection can hit an item that straddles two cells twice; each hit is a
    sampling unit, so its tainting then enters the Stringer bound twice.
    """

    key: str
    book_amount: int
    audited_amount: int
    points: int = 1

    def __post_init__(self) -> None:
        require_int(self.book_amount, "book_amount", minimum=1)
        require_int(self.audited_amount, "audited_amount")
        require_int(self.points, "points", minimum=1)

    @property
    def misstatement(self) -> int:
        """Overstatement is positive, understatement negative."""
        return self.book_amount - self.audited_amount


@dataclass(frozen=True)
class MusLine:
    """One ranked overstatement in the Stringer bound, for the report."""

    rank: int
    key: str
    tainting: Fraction
    projected: Fraction
    factor_increment: float
    contribution: float


@dataclass(frozen=True)
class MusEvaluation:
    """Stringer evaluation of an MUS sample (overstatements), amounts in öre."""

    interval: int
    basic_precision: float
    projected_misstatement: Fraction
    top_stratum_misstatement: int
    incremental_allowance: float
    upper_misstatement_limit: float
    upper_misstatement_limit_ore: int
    projected_understatement: Fraction
    tolerable_misstatement: int
    within_tolerable: bool
    lines: tuple[MusLine, ...]
    explanation: str


def _stringer_lines(
    taints: list[tuple[Fraction, str]], interval: int, conf: Fraction
) -> list[MusLine]:
    """Rank taintings (largest first, ties by key for a stable report)."""
    ranked = sorted(taints, key=lambda item: (-item[0], item[1]))
    factors = [reliability_factor(i, conf) for i in range(len(ranked) + 1)]
    lines = []
    for rank, (tainting, key) in enumerate(ranked, start=1):
        increment = factors[rank] - factors[rank - 1]
        projected = tainting * interval
        contribution = increment * float(projected)
        lines.append(MusLine(rank, key, tainting, projected, increment, contribution))
    return lines


def evaluate_mus(
    findings: Iterable[MusFinding],
    interval: int,
    confidence: Exact,
    tolerable_misstatement: int,
) -> MusEvaluation:
    """Upper misstatement limit by the Stringer bound.

    * basic precision = RF(0) × interval (what zero findings still cannot exclude);
    * each overstated item *below* the interval projects to tainting × interval;
      taintings are ranked in descending order and the i-th is multiplied by the
      incremental factor RF(i) − RF(i−1), which is where the bound's conservatism
      comes from (largest taintings get the largest increments);
    * items at or above the interval (top stratum) were certain to be selected, so
      they carry no sampling risk and add their actual misstatement, untainted.

    Understatements are not netted against overstatements (which would understate
    the overstatement bound); their projection is reported separately. Findings
    without misstatement may be included or left out: they do not change the bound.
    """
    require_int(interval, "interval", minimum=1)
    require_int(tolerable_misstatement, "tolerable_misstatement", minimum=0)
    conf = _confidence(confidence)
    taints: list[tuple[Fraction, str]] = []
    top_over = 0
    under = Fraction(0)
    for finding in findings:
        miss = finding.misstatement
        if finding.book_amount >= interval:
            top_over += max(miss, 0)
            under += max(-miss, 0)
        elif miss > 0:
            taints.extend([(Fraction(miss, finding.book_amount), finding.key)] * finding.points)
        elif miss < 0:
            under += Fraction(-miss, finding.book_amount) * interval * finding.points
    lines = _stringer_lines(taints, interval, conf)
    basic = reliability_factor(0, conf) * interval
    projected = sum((line.projected for line in lines), Fraction(0)) + top_over
    upper = basic + sum(line.contribution for line in lines) + top_over
    incremental = upper - basic - float(projected)
    within = _mus_within(upper, lines, interval, conf, top_over, tolerable_misstatement)
    upper_ore = ceil_fraction(Fraction(upper))
    if not within and upper_ore <= tolerable_misstatement:
        upper_ore = tolerable_misstatement + 1  # above by less than an öre: show it above
    text = _mus_explanation(conf, basic, projected, upper, tolerable_misstatement, within)
    return MusEvaluation(
        interval,
        basic,
        projected,
        top_over,
        incremental,
        upper,
        upper_ore,
        under,
        tolerable_misstatement,
        within,
        tuple(lines),
        text,
    )


def reliability_factor_precise(errors: int, confidence: Fraction, digits: int = 50) -> Decimal:
    """RF(errors) to ``digits`` significant digits: the λ with ``P(Poisson(λ) <= errors)
    = 1 - confidence``, by Newton's method in :class:`decimal.Decimal` from SciPy's value."""
    require_int(errors, "errors", minimum=0)
    with localcontext() as context:
        context.prec = digits + 10
        risk = Decimal((1 - confidence).numerator) / Decimal((1 - confidence).denominator)
        lam = Decimal(repr(reliability_factor(errors, confidence)))
        tolerance = Decimal(10) ** -(digits + 2)
        for _ in range(200):
            term = total = Decimal(1)
            for j in range(1, errors + 1):
                term = term * lam / j
                total += term
            weight = (-lam).exp()
            step = (weight * total - risk) / (-weight * term)
            lam -= step
            if abs(step) <= tolerance * lam:
                break
        return +lam


def _mus_within(
    upper: float,
    lines: list[MusLine],
    interval: int,
    confidence: Fraction,
    top_over: int,
    tolerable: int,
) -> bool:
    """``upper <= tolerable``, recomputed to 50 digits when the float is that close.

    The factors are transcendental, so the exact bound is never an integer; 50
    digits decide the comparison wherever a float could not.
    """
    if abs(upper - tolerable) > BOUNDARY_MARGIN * max(1.0, abs(tolerable)):
        return upper <= tolerable
    with localcontext() as context:
        context.prec = 60
        factors = [reliability_factor_precise(i, confidence) for i in range(len(lines) + 1)]
        total = factors[0]
        for line in lines:
            tainting = Decimal(line.tainting.numerator) / Decimal(line.tainting.denominator)
            total += (factors[line.rank] - factors[line.rank - 1]) * tainting
        precise = total * interval + top_over
        return precise <= tolerable


def _mus_explanation(
    conf: Fraction, basic: float, projected: Fraction, upper: float, tolerable: int, within: bool
) -> str:
    verdict = "ryms inom" if within else "överstiger"
    return (
        f"Projicerad felsumma {format_sek(projected)}; grundprecision "
        f"{format_sek(Fraction(basic))}. Övre felgräns med {format_percent(conf)} konfidens "
        f"(Stringer): {format_sek(Fraction(upper))}, vilket {verdict} den tolerabla "
        f"felsumman {format_sek(tolerable)}."
    )
