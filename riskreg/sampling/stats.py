"""Sample sizes, upper limits and evaluations for riskreg's sample checks (stickprov).

Everything here is a pure function of its arguments, so that an auditor can re-run a
plan or an evaluation years later and get the same numbers. The methods follow the
AICPA Audit Guide *Audit Sampling* (2017 edition), whose tables are reproduced cell
by cell in ``tests/sampling``:

* attribute sampling (tests of controls): binomial sample sizes, tables A-1 and A-2;
  one-sided exact (Clopper–Pearson) upper deviation limits, tables A-3 and A-4;
* monetary-unit sampling (MUS): Poisson/gamma sample sizes, table C-1, and the
  Stringer bound for evaluation.

Rates and confidences are fractions of 1 (``0.05`` means 5 %). Amounts are integer
öre (SEK × 100). Anything that decides an integer threshold is computed with
:class:`fractions.Fraction`; floats only enter the probability functions of SciPy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np
from scipy.stats import beta, binom, gamma, hypergeom

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
    "FLOAT_NOISE_TOLERANCE",
    "MAX_SAMPLE_SIZE",
    "AttributeEvaluation",
    "HygieneGroup",
    "HygieneMeasure",
    "HygieneObservation",
    "HygieneReport",
    "MusEvaluation",
    "MusFinding",
    "MusLine",
    "SamplePlan",
    "allowed_deviations",
    "attribute_sample_size",
    "evaluate_attribute",
    "evaluate_hygiene",
    "evaluate_mus",
    "mus_sample_size",
    "mus_sampling_interval",
    "plan_attribute_sample",
    "plan_mus_sample",
    "reliability_factor",
    "round_up_percent",
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

MAX_SAMPLE_SIZE = 10_000_000
"""Safety stop: plans beyond this size are refused as clearly mis-specified."""

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


def _search_binomial(risk: float, tolerable: Fraction, expected: Fraction) -> tuple[int, int]:
    """Smallest n with ``P(X <= ceil(n E)) <= risk`` for ``X ~ Bin(n, T)``.

    Scans upward in vectorised chunks rather than bisecting: because ``ceil(nE)``
    jumps, the criterion is not monotone in n, and a bisection could land on a
    larger n than the smallest qualifying one.
    """
    start = _first_n_with_zero_deviations(risk, tolerable)
    chunk = 256
    while start <= MAX_SAMPLE_SIZE:
        sizes = np.arange(start, start + chunk, dtype=np.int64)
        counts = [ceil_fraction(int(n) * expected) for n in sizes]
        cdf = binom.cdf(counts, sizes, float(tolerable))
        hits = np.flatnonzero(cdf <= risk)
        if hits.size:
            index = int(hits[0])
            return int(sizes[index]), counts[index]
        start += chunk
        chunk = min(chunk * 2, 1 << 16)
    raise ValueError("the required sample size exceeds MAX_SAMPLE_SIZE; revisit the rates")


def _search_hypergeometric(
    risk: float, tolerable: Fraction, expected: Fraction, population: int
) -> tuple[int, int]:
    """Hypergeometric analogue of :func:`_search_binomial` for a finite population.

    The intolerable population holds ``D = ceil(T N)`` deviations: the smallest
    count whose rate reaches T. Smaller D are tolerable, and larger D only make the
    acceptance probability smaller, so controlling the risk at D controls it for
    every intolerable population. If even a census with ``ceil(N E)`` allowed
    deviations cannot separate tolerable from intolerable (small N, expected close
    to tolerable), the whole population must be examined and at most ``D - 1``
    deviations can be accepted.
    """
    bad = ceil_fraction(tolerable * population)
    start, chunk = 1, 128  # the binomial lower bound does not hold: N finite needs fewer
    while start <= population:
        stop = min(population, start + chunk - 1)
        sizes = np.arange(start, stop + 1, dtype=np.int64)
        counts = [ceil_fraction(int(n) * expected) for n in sizes]
        cdf = hypergeom.cdf(counts, population, bad, sizes)
        hits = np.flatnonzero(cdf <= risk)
        if hits.size:
            index = int(hits[0])
            return int(sizes[index]), counts[index]
        start, chunk = stop + 1, min(chunk * 2, 1 << 14)
    return population, bad - 1


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
        n, k = _search_binomial(_risk(conf), tolerable, expected)
        method = "attribute-binomial"
    else:
        require_int(population_size, "population_size", minimum=1)
        n, k = _search_hypergeometric(_risk(conf), tolerable, expected, population_size)
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
    """Exact finite-population upper limit, as a rate ``D_U / N``.

    ``D_U`` is the largest number of population deviations that the sample does not
    rule out, i.e. the largest D with ``P(X <= k | N, D, n) > 1 - confidence``.
    Because the acceptance probability falls as D grows, D_U is found by bisection
    between the k deviations already seen and ``k + (N - n)``.
    """
    _check_counts(sample_size, deviations)
    require_int(population_size, "population_size", minimum=sample_size)
    risk = _risk(_confidence(confidence))
    low, high = deviations, deviations + population_size - sample_size
    while low < high:
        middle = (low + high + 1) // 2
        if hypergeom.cdf(deviations, population_size, middle, sample_size) > risk:
            low = middle
        else:
            high = middle - 1
    return low / population_size


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
    """
    start = max(1, int(gamma.ppf(confidence, 1) / float(tolerable)) - 1)
    chunk = 256
    while start <= MAX_SAMPLE_SIZE:
        sizes = range(start, start + chunk)
        shapes = np.array([1 + float(n * expected) for n in sizes])
        limits = np.array([float(n * tolerable) for n in sizes])
        hits = np.flatnonzero(gamma.ppf(confidence, shapes) <= limits)
        if hits.size:
            return start + int(hits[0])
        start += chunk
        chunk = min(chunk * 2, 1 << 16)
    raise ValueError("the required sample size exceeds MAX_SAMPLE_SIZE; revisit the amounts")


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
        raise ValueError("cannot select more monetary units than the book value holds")
    return book_value // n


def plan_mus_sample(
    book_value: int,
    tolerable_misstatement: int,
    expected_misstatement: int = 0,
    confidence: Exact = 0.95,
) -> SamplePlan:
    """MUS plan with size, interval, expected taintings and a Swedish explanation.

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


@dataclass(frozen=True)
class AttributeEvaluation:
    """Result of a test of controls, ready to be stored and shown."""

    sample_size: int
    deviations: int
    sample_rate: Fraction
    upper_limit: float
    upper_limit_percent: Decimal
    tolerable_rate: Fraction
    within_tolerable: bool
    explanation: str


def evaluate_attribute(
    sample_size: int,
    deviations: int,
    confidence: Exact,
    tolerable_rate: Exact,
    population_size: int | None = None,
) -> AttributeEvaluation:
    """Compare the upper deviation limit with the tolerable rate.

    The control is supported when the *unrounded* upper limit does not exceed the
    tolerable rate (AICPA: "does not exceed"); the rounded-up percentage is for
    display. For a plan from :func:`attribute_sample_size`, finding at most the
    allowed deviations always gives ``within_tolerable`` – that duality is tested.
    """
    conf = _confidence(confidence)
    tolerable = _rate(tolerable_rate, "tolerable_rate", allow_zero=False)
    if population_size is None:
        limit = upper_deviation_limit(sample_size, deviations, conf)
    else:
        limit = upper_deviation_limit_hypergeometric(sample_size, deviations, conf, population_size)
    within = Fraction(limit) <= tolerable
    shown = round_up_percent(limit)
    rate = Fraction(deviations, sample_size)
    verdict = (
        "ryms inom den tolerabla avvikelsefrekvensen; urvalet stöder att kontrollen fungerar"
        if within
        else "överstiger den tolerabla avvikelsefrekvensen; urvalet stöder inte att "
        "kontrollen fungerar"
    )
    count = "avvikelse" if deviations == 1 else "avvikelser"
    text = (
        f"{deviations} {count} i {sample_size} poster ({format_percent(rate)}). "
        f"Övre avvikelsegräns med {format_percent(conf)} konfidens: "
        f"{format_percent_decimal(shown)}, vilket {verdict} "
        f"(tolerabel {format_percent(tolerable)})."
    )
    return AttributeEvaluation(sample_size, deviations, rate, limit, shown, tolerable, within, text)


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
    upper_ore = ceil_fraction(Fraction(upper))
    within = upper <= tolerable_misstatement
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
