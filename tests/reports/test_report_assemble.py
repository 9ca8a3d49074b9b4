"""Assembly is a pure function of model objects: built here in memory, without a database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from riskreg.auth.models import Unit, User
from riskreg.controls.models import Action, Control, ControlEvent, ControlStatus, Deviation
from riskreg.plans.models import Organisation, Plan
from riskreg.reports import assemble, data
from riskreg.risks.matrix import DEFAULT_LEVELS, Matrix, default_cells
from riskreg.risks.models import Risk
from riskreg.sampling import hygiene, stats
from riskreg.sampling.evaluation import Evaluation as SamplingEvaluation
from riskreg.sampling.models import (
    AttributeResult,
    HygieneObservation,
    Population,
    PopulationItem,
    SampleDraw,
    SampleItem,
    SamplePlan,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
TODAY = date(2025, 9, 1)


def _control(check_type: str = "payments", status: str = "approved") -> Control:
    unit = Unit(code="CE", name="Centrum för ekonomi")
    plan = Plan(year=2025, organisation=Organisation(name="Region Västmanland"), status="adopted")
    risk = Risk(
        plan=plan,
        section="administration",
        title="Risk för felaktig utbetalning till privata vårdgivare",
        review_area="Utbetalningar",
        regulation="Avtal",
        method="Stickprov",
        probability=4,
        consequence=3,
        responsible_unit=unit,
        position=1,
    )
    anna = User(username="anna", full_name="Anna Åström", role="controller")
    control = Control(
        risk=risk,
        title="Utbetalningar 2025",
        check_type=check_type,
        responsible_unit=unit,
        deadline=date(2025, 10, 31),
        deviation_definition="Fel belopp.",
        status=status,
        conclusion="Slutsats.",
        controllers=[anna],
    )
    control.events = [
        ControlEvent(at=NOW, actor=anna, from_status=None, to_status="planned"),
        ControlEvent(
            at=NOW + timedelta(hours=2),
            actor=anna,
            from_status="ready_for_review",
            to_status="approved",
        ),
    ]
    return control


def _sample(
    control: Control,
    results: list[tuple[str, int, int | None]],
    plan: SamplePlan,
) -> assemble.ReviewInputs:
    """Items as (result, book amount in öre, audited amount or None)."""
    population = Population(
        control=control,
        source="Raindance",
        file_name="pop.csv",
        file_sha256="ab" * 32,
        row_count=1000,
        imported_at=NOW,
    )
    draw = SampleDraw(
        control=control,
        population=population,
        plan=plan,
        seed="42",
        selection_method="mus_fixed_interval",
        sample_size=len(results),
        drawn_at=NOW,
    )
    draw.items = [
        SampleItem(
            id=n,
            position=n,
            result=result,
            audited_amount_ore=audited,
            population_item=PopulationItem(
                id=n, line=n, record_key=f"P{n:03d}", amount_ore=book, data_json="{}"
            ),
            population_item_id=n,
            attribute_results=[AttributeResult(attribute="Belopp", result=result)],
        )
        for n, (result, book, audited) in enumerate(results, start=1)
    ]
    return assemble.ReviewInputs(control, population, plan, draw)


def _attribute_result(n: int, k: int, not_assessable: int = 0) -> SamplingEvaluation:
    """What the sampling package's evaluation returns for an attribute sample."""
    counted = k + not_assessable
    return SamplingEvaluation(
        "attribute",
        sample_size=n,
        assessed=n,
        deviations=k,
        not_assessable=not_assessable,
        complete=True,
        rate_percent=f"{Decimal(counted * 100) / n:.1f} %".replace(".", ","),
        attribute=stats.evaluate_attribute(n, counted, Decimal("0.95"), Decimal("0.05")),
        notes=["En anteckning från utvärderingssidan."],
    )


def test_the_report_renders_the_sampling_evaluation_it_is_given() -> None:
    plan = SamplePlan(
        method="attribute",
        confidence=Decimal("0.95"),
        tolerable_rate=Decimal("0.05"),
        sample_size=60,
        allowed_deviations=0,
    )
    results = [("ok", 100_00, None)] * 58 + [
        ("deviation", 100_00, None),
        ("not_assessable", 1, None),
    ]
    given = _attribute_result(60, 1, 1)
    inputs = dataclasses.replace(_sample(_control(), results, plan), evaluation=given)
    evaluation = assemble.evaluate(inputs)
    figures = {f.label: f.value for f in evaluation.figures}
    assert given.attribute is not None
    shown = format(given.attribute.upper_limit_percent, "f").replace(".", ",") + " %"
    assert figures["Övre avvikelsegräns (95 % konfidens)"] == shown
    assert figures["Avvikelser"] == "1 + 1 ej bedömbara"
    assert figures["Avvikelsefrekvens i urvalet"] == "3,3 %"
    assert figures["Bedömning"] == "Överstiger tolerabel frekvens"
    assert evaluation.deviations == 2 and evaluation.items_checked == 60
    assert evaluation.beyond_tolerable is True  # 2 of 60 at 95 % exceeds 5 %
    assert "En anteckning från utvärderingssidan." in evaluation.notes


def test_without_a_session_or_an_evaluation_there_is_no_report_evaluation() -> None:
    plan = SamplePlan(method="attribute", confidence=Decimal("0.95"), sample_size=1)
    with pytest.raises(ValueError, match="session"):
        assemble.evaluate(_sample(_control(), [("ok", 1, None)], plan))


def test_mus_evaluation_shows_the_stringer_bound_in_kronor() -> None:
    plan = SamplePlan(
        method="mus",
        confidence=Decimal("0.95"),
        tolerable_misstatement_ore=5_000_000,
        interval_ore=1_000_000,
        sample_size=4,
    )
    results = [("ok", 400_000, None), ("deviation", 500_000, 250_000)]
    mus = stats.evaluate_mus(
        [stats.MusFinding("P001", 400_000, 400_000), stats.MusFinding("P002", 500_000, 250_000)],
        1_000_000,
        Decimal("0.95"),
        5_000_000,
    )
    given = SamplingEvaluation(
        "mus",
        sample_size=2,
        assessed=2,
        deviations=1,
        complete=True,
        rate_percent="50,0 %",
        mus=mus,
    )
    inputs = dataclasses.replace(_sample(_control(), results, plan), evaluation=given)
    evaluation = assemble.evaluate(inputs)
    figures = {f.label: f.value for f in evaluation.figures}
    limit = figures["Övre felgräns (Stringer, 95 % konfidens)"]
    kronor, ore = divmod(mus.upper_misstatement_limit_ore, 100)
    assert limit.replace("\u00a0", " ") == f"{kronor:,}".replace(",", " ") + f",{ore:02d} kr"
    assert evaluation.beyond_tolerable is (not mus.within_tolerable)
    assert evaluation.verdict == "Inom tolerabel felsumma"
    report = assemble.review_report(
        inputs,
        reference="GR-1",
        organisation="Region Västmanland",
        controller=assemble.Signer("Anna Åström", ""),
        approver=assemble.Signer("Örjan Ängström", ""),
        generated_at=NOW,
        tz=STOCKHOLM,
    )
    # An MUS plan has no "allowed number of deviations"; it plans with an expected misstatement.
    assert report.sampling_plan.allowed_deviations is None
    assert report.sampling_plan.method == "Beloppsurval, MUS (statistiskt)"


def test_hygiene_observations_against_the_target() -> None:
    control = _control("hygiene")
    good = "J,J,EA,EA,J,J,J,J"
    bad = "J,N,J,J,J,J,J,J"
    observations = [
        HygieneObservation(
            id=n,
            unit_name="Avd 12" if n <= 30 else "Avd 3",
            profession="Sjuksköterska",
            observed_on=date(2025, 4, 1),
            steps=bad if n % 10 == 0 else good,
            kind="observation",
            created_at=NOW,
        )
        for n in range(1, 41)
    ]
    report_ = hygiene.evaluate_hygiene(
        hygiene.HygieneObservation(o.unit_name, o.profession, tuple(o.steps.split(",")))
        for o in observations
    )
    given = SamplingEvaluation("hygiene", sample_size=40, assessed=40, hygiene=report_)
    inputs = assemble.ReviewInputs(control, observations=observations, evaluation=given)
    evaluation = assemble.evaluate(inputs)
    figures = {f.label: f.value for f in evaluation.figures}
    assert figures["Korrekt i alla 8 steg"] == "90,0 %"
    assert evaluation.beyond_tolerable is False  # 36 of 40 is exactly the 90 % target
    assert evaluation.deviations == 4
    assert any("Avd 3" in line and "färre än 30" in line for line in evaluation.lines)
    report = assemble.review_report(
        inputs,
        reference="GR-1",
        organisation="Region Västmanland",
        controller=assemble.Signer("Anna Åström", ""),
        approver=assemble.Signer("Örjan Ängström", ""),
        generated_at=NOW,
        tz=STOCKHOLM,
    )
    assert len(report.items) == 40
    assert report.items[9].result is data.ItemResult.DEVIATION
    assert report.items[0].attribute_results[2] == data.AttributeResult("Handskar", "EA")
    assert report.population.size == 40 and report.population.period_start == date(2025, 4, 1)


def test_review_report_data_from_the_objects() -> None:
    control = _control()
    plan = SamplePlan(
        method="attribute",
        confidence=Decimal("0.90"),
        tolerable_rate=Decimal("0.1"),
        sample_size=2,
        explanation="Förklaring.",
    )
    inputs = dataclasses.replace(
        _sample(control, [("ok", 1, None), ("deviation", 1, None)], plan),
        evaluation=SamplingEvaluation("non_statistical", sample_size=2, assessed=2, deviations=1),
    )
    owner = Unit(code="CE", name="Centrum för ekonomi")
    deviation = Deviation(description="Fel belopp.", sample_item_id=2, recovery_claim_ore=12_50)
    action = Action(
        description="Rätta.", owner_unit=owner, due_date=date(2025, 12, 1), status="answered"
    )
    deviation.actions = [action]
    control.deviations = [deviation]
    control.actions = [action]
    report = assemble.review_report(
        inputs,
        reference="GR-2025-0001-v1",
        organisation="Region Västmanland",
        controller=assemble.Signer("Anna Åström", "Centrum för ekonomi"),
        approver=assemble.Signer("Örjan Ängström", "HSF"),
        generated_at=NOW,
        tz=STOCKHOLM,
    )
    assert report.risk.risk_value == 12 and report.section_title == "Förvaltningens kontrollområden"
    assert report.deviations[0].item_key == "P002"
    assert report.deviations[0].description.endswith("Återkrav: 12,50\u00a0kr.")
    assert report.deviations[0].actions[0].status is data.ActionStatus.IN_PROGRESS
    assert report.sampling_plan.reasoning == "Förklaring."
    assert report.sampling_plan.seed == "42"
    assert report.signatures[0].field_name == "Granskare"
    assert report.signatures[1].name == "Örjan Ängström"
    actions = [event.action for event in report.control.status_history]
    assert actions[-1] == "Godkänd" and "Urval draget" in actions
    assert report.generated_at.tzinfo == STOCKHOLM


# ---------------------------------------------------------------- traffic lights


def _evaluation(deviations: int = 0, beyond: bool | None = None) -> assemble.Evaluation:
    return assemble.Evaluation((), (), 10, deviations, beyond)


def _with_actions(control: Control, *actions: tuple[str, date]) -> Control:
    control.actions = [
        Action(description="x", due_date=due, status=status) for status, due in actions
    ]
    return control


@pytest.mark.parametrize(
    ("status", "deadline", "deviations", "beyond", "actions", "light"),
    [
        ("approved", date(2025, 10, 31), 0, False, (), data.TrafficLight.GREEN),
        (
            "approved",
            date(2025, 10, 31),
            1,
            False,
            (("verified", date(2025, 8, 1)),),
            data.TrafficLight.YELLOW,
        ),
        (
            "approved",
            date(2025, 10, 31),
            0,
            None,
            (("open", date(2025, 12, 1)),),
            data.TrafficLight.YELLOW,
        ),
        (
            "approved",
            date(2025, 10, 31),
            1,
            False,
            (("answered", date(2025, 8, 31)),),
            data.TrafficLight.RED,
        ),
        ("approved", date(2025, 10, 31), 3, True, (), data.TrafficLight.RED),
        ("in_progress", date(2025, 10, 31), 0, None, (), data.TrafficLight.YELLOW),
        ("ready_for_review", date(2025, 8, 31), 0, None, (), data.TrafficLight.RED),
    ],
)
def test_traffic_light(
    status: str,
    deadline: date,
    deviations: int,
    beyond: bool | None,
    actions: tuple[tuple[str, date], ...],
    light: data.TrafficLight,
) -> None:
    control = _with_actions(_control(status=status), *actions)
    control.deadline = deadline
    found, reason = assemble.traffic_light(control, _evaluation(deviations, beyond), TODAY)
    assert found is light, reason
    assert reason


def test_heat_map_uses_the_configured_colours() -> None:
    control = _control()
    risks = [control.risk, control.risk]
    cells = default_cells(DEFAULT_LEVELS)
    cells[(4, 3)] = (3, "#123456")
    matrix = Matrix(
        DEFAULT_LEVELS, {1: "a", 2: "b", 3: "c", 4: "d"}, {1: "e", 2: "f", 3: "g", 4: "h"}, cells
    )
    heat = assemble.heat_map(risks, matrix)
    assert heat.cells[3][2] == data.HeatCell(2, "#123456")
    assert heat.cells[0][0].count == 0
    assert heat.probability_labels == ("a", "b", "c", "d")


def test_status_titles_cover_every_transition() -> None:
    for status in ControlStatus:
        assert assemble._status_action(None, status.value)
