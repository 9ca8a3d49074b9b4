"""Compliance with basic hygiene routines and dress code (PPM-BHK).

The national point-prevalence method (punktprevalensmätning av följsamhet till
basala hygienrutiner och klädregler, PPM-BHK) observes staff in patient care and
records eight steps, each ``J`` (ja, correct), ``N`` (nej, not correct) or ``EA``
(ej aktuellt, not applicable):

1. hand disinfection before, 2. hand disinfection after, 3. gloves,
4. apron/gown (the four *hygiene* steps);
5. short-sleeved work clothes, 6. no rings, watches or bracelets,
7. short nails without polish, 8. short or tied-up hair (the four *dress* steps).

Results are reported as the share of observations correct in all four hygiene
steps, in all four dress steps, and in all eight steps.

**Our reading of "EA".** EA means the step did not apply to the observed situation
(for example no gloves were needed because there was no risk of contact with body
fluids), so it cannot be a deviation: an observation is *correct in a group of
steps when none of those steps is N*. The observation stays in the denominator even
if every step of the group is EA – it was observed and nothing was done wrong. Only
"N" counts against compliance, which is how we read the PPM-BHK protocol; a region
whose vårdhygien unit treats all-EA observations differently should say so before
this is used for the yearly report.

Groups (overall, each unit, each profession) with fewer than ``min_observations``
(30 by default, as the region's instructions say) are reported as "too few" without
percentages, because a share based on a handful of observations is mostly noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from riskreg.sampling._exact import Exact, require_int, to_fraction

STEP_VALUES = frozenset({"J", "N", "EA"})
HYGIENE_STEPS = (0, 1, 2, 3)
DRESS_STEPS = (4, 5, 6, 7)
ALL_STEPS = HYGIENE_STEPS + DRESS_STEPS
DEFAULT_TARGET = Fraction(9, 10)
DEFAULT_MIN_OBSERVATIONS = 30


@dataclass(frozen=True)
class HygieneObservation:
    """One observation (or self-assessment) of one member of staff."""

    unit: str
    profession: str
    steps: tuple[str, ...]

    def __post_init__(self) -> None:
        normalised = tuple(str(value).strip().upper() for value in self.steps)
        if len(normalised) != len(ALL_STEPS):
            raise ValueError(f"an observation has 8 steps, got {len(normalised)}")
        unknown = sorted(set(normalised) - STEP_VALUES)
        if unknown:
            raise ValueError(f"step values must be J, N or EA; got {unknown}")
        object.__setattr__(self, "steps", normalised)

    def correct_in(self, indices: tuple[int, ...]) -> bool:
        """True when none of the given steps is N (EA is not a deviation)."""
        return all(self.steps[index] != "N" for index in indices)


@dataclass(frozen=True)
class HygieneMeasure:
    """Share correct for one of the three measures in one group."""

    correct: int
    total: int
    share: Fraction
    percent: Decimal
    meets_target: bool


@dataclass(frozen=True)
class HygieneGroup:
    """Results for one group; measures are ``None`` when there are too few."""

    name: str
    observations: int
    too_few: bool
    hygiene: HygieneMeasure | None
    dress: HygieneMeasure | None
    all_steps: HygieneMeasure | None


@dataclass(frozen=True)
class HygieneReport:
    """Overall, per-unit and per-profession results against the target."""

    target: Fraction
    min_observations: int
    overall: HygieneGroup
    by_unit: tuple[HygieneGroup, ...]
    by_profession: tuple[HygieneGroup, ...]

    def too_few(self) -> list[str]:
        """Names of units and professions left out for having too few observations."""
        groups = (*self.by_unit, *self.by_profession)
        return [group.name for group in groups if group.too_few]


@dataclass
class _Tally:
    observations: int = 0
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])

    def add(self, observation: HygieneObservation) -> None:
        self.observations += 1
        for position, indices in enumerate((HYGIENE_STEPS, DRESS_STEPS, ALL_STEPS)):
            self.counts[position] += observation.correct_in(indices)


def _measure(correct: int, total: int, target: Fraction) -> HygieneMeasure:
    share = Fraction(correct, total)
    percent = (Decimal(correct) * 100 / Decimal(total)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return HygieneMeasure(correct, total, share, percent, share >= target)


def _group(name: str, tally: _Tally, target: Fraction, minimum: int) -> HygieneGroup:
    if tally.observations < minimum or tally.observations == 0:
        return HygieneGroup(name, tally.observations, True, None, None, None)
    hygiene, dress, all_steps = (
        _measure(count, tally.observations, target) for count in tally.counts
    )
    return HygieneGroup(name, tally.observations, False, hygiene, dress, all_steps)


def evaluate_hygiene(
    observations: Iterable[HygieneObservation],
    target: Exact = DEFAULT_TARGET,
    min_observations: int = DEFAULT_MIN_OBSERVATIONS,
) -> HygieneReport:
    """Share correct in all hygiene / all dress / all eight steps, per group.

    ``meets_target`` compares the exact share with the target (90 % for 2025), so a
    unit at 89.96 % does not pass because its display rounds to 90.0 %.
    """
    goal = to_fraction(target, "target")
    if not 0 < goal <= 1:
        raise ValueError("target must be in (0, 1]")
    require_int(min_observations, "min_observations", minimum=1)
    overall = _Tally()
    units: dict[str, _Tally] = {}
    professions: dict[str, _Tally] = {}
    for observation in observations:
        overall.add(observation)
        units.setdefault(observation.unit, _Tally()).add(observation)
        professions.setdefault(observation.profession, _Tally()).add(observation)
    return HygieneReport(
        goal,
        min_observations,
        _group("Totalt", overall, goal, min_observations),
        tuple(_group(name, units[name], goal, min_observations) for name in sorted(units)),
        tuple(
            _group(name, professions[name], goal, min_observations) for name in sorted(professions)
        ),
    )
