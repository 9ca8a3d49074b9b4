"""PPM-BHK hygiene and dress-code compliance per group."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from riskreg.sampling.hygiene import HygieneObservation, evaluate_hygiene

ALL_J = ("J",) * 8


def obs(unit: str, profession: str, steps: tuple[str, ...] = ALL_J) -> HygieneObservation:
    return HygieneObservation(unit, profession, steps)


def with_step(step: int, value: str) -> tuple[str, ...]:
    """Steps all J except step number ``step`` (1-based, as in the protocol)."""
    steps = list(ALL_J)
    steps[step - 1] = value
    return tuple(steps)


def test_observation_validation_and_normalisation() -> None:
    assert obs("A", "SSK", ("j", " n", "ea", "J", "J", "J", "J", "J")).steps[:3] == (
        "J",
        "N",
        "EA",
    )
    with pytest.raises(ValueError, match="8 steps"):
        obs("A", "SSK", ("J",) * 7)
    with pytest.raises(ValueError, match="J, N or EA"):
        obs("A", "SSK", with_step(3, "X"))


def test_ea_is_not_a_deviation() -> None:
    observation = obs("A", "SSK", ("J", "J", "EA", "EA", "J", "J", "J", "EA"))
    assert observation.correct_in((0, 1, 2, 3))
    assert observation.correct_in(tuple(range(8)))
    assert not obs("A", "SSK", with_step(6, "N")).correct_in((4, 5, 6, 7))


def test_unit_report_against_target() -> None:
    observations = [obs("Avd 12", "SSK") for _ in range(24)]
    observations += [obs("Avd 12", "USK", with_step(3, "N")) for _ in range(3)]  # gloves
    observations += [obs("Avd 12", "USK", with_step(6, "N")) for _ in range(2)]  # ring
    observations += [obs("Avd 12", "Läk", with_step(4, "EA"))]  # EA counts as correct
    report = evaluate_hygiene(observations)
    unit = report.by_unit[0]
    assert (unit.name, unit.observations, unit.too_few) == ("Avd 12", 30, False)
    assert unit.hygiene is not None and unit.dress is not None and unit.all_steps is not None
    assert (unit.hygiene.correct, unit.hygiene.total) == (27, 30)
    assert unit.hygiene.share == Fraction(9, 10)
    assert unit.hygiene.meets_target  # exactly 90 % meets a 90 % target
    assert unit.dress.percent == Decimal("93.3")
    assert unit.dress.meets_target
    assert (unit.all_steps.correct, unit.all_steps.percent) == (25, Decimal("83.3"))
    assert not unit.all_steps.meets_target
    assert report.overall.observations == 30
    # Professions have fewer than 30 observations each and are not reported.
    assert all(group.too_few and group.hygiene is None for group in report.by_profession)
    assert report.too_few() == ["Läk", "SSK", "USK"]


def test_units_with_fewer_than_30_observations_are_left_out() -> None:
    observations = [obs("Avd 1", "SSK") for _ in range(30)]
    observations += [obs("Avd 2", "SSK", with_step(1, "N")) for _ in range(29)]
    report = evaluate_hygiene(observations)
    assert [group.name for group in report.by_unit] == ["Avd 1", "Avd 2"]
    small = report.by_unit[1]
    assert small.too_few and small.observations == 29 and small.all_steps is None
    assert report.too_few() == ["Avd 2"]
    # The overall figure still counts every observation.
    assert report.overall.hygiene is not None
    assert (report.overall.hygiene.correct, report.overall.hygiene.total) == (30, 59)
    profession = report.by_profession[0]
    assert profession.name == "SSK" and not profession.too_few


def test_target_uses_the_exact_share_not_the_rounded_display() -> None:
    observations = [obs("A", "SSK") for _ in range(2249)]
    observations += [obs("A", "SSK", with_step(2, "N")) for _ in range(251)]
    measure = evaluate_hygiene(observations).overall.hygiene
    assert measure is not None
    assert measure.percent == Decimal("90.0")  # 89.96 % displays as 90.0 %
    assert not measure.meets_target


def test_custom_target_and_minimum() -> None:
    observations = [obs("A", "SSK") for _ in range(9)] + [obs("A", "SSK", with_step(7, "N"))]
    report = evaluate_hygiene(observations, target="0.733", min_observations=10)
    assert report.target == Fraction(733, 1000)
    assert report.overall.all_steps is not None and report.overall.all_steps.meets_target
    assert report.overall.dress is not None and report.overall.dress.share == Fraction(9, 10)
    with pytest.raises(ValueError):
        evaluate_hygiene(observations, target=0)


def test_no_observations() -> None:
    report = evaluate_hygiene([])
    assert report.overall.too_few and report.overall.observations == 0
    assert report.by_unit == () and report.by_profession == ()
