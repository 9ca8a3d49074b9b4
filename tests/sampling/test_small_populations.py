"""Small populations are planned and evaluated on their real size (issue 10, part 1), and a
stratified sample is evaluated per stratum and for the population (part 4)."""

from __future__ import annotations

import io
import math
import re
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from scipy.stats import hypergeom
from sqlalchemy import func, select

from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.sampling import drawing, importing, item_results, planning
from riskreg.sampling.checktypes import attributes_for
from riskreg.sampling.evaluation import evaluate
from riskreg.sampling.models import SampleDraw, SamplePlan
from tests.conftest import login
from tests.sampling.conftest import NOW, World, csv_bytes

REFERRALS = ["Remiss-id", "Avsändare", "Mottagare", "Mottagen", "Prioritet"]
PASSCARDS = ["Kortnummer", "Innehavare", "Enhet", "Zoner", "Giltig till", "Anställning upphör"]
PAYMENTS = ["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp"]


def _client(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client, "granskare").status_code == 302
    return client


def _import_referrals(world: World, count: int) -> None:
    rows = [[f"R{n:04d}", "VC", "Ortopedi", "2025-02-03", "Normal"] for n in range(count)]
    importing.import_population(
        db.session, world.control("referrals"), io.BytesIO(csv_bytes(REFERRALS, rows)),
        "remisser.csv", actor=world.user("granskare"), now=NOW,
    )


def _record_all(world: World, draw: SampleDraw, deviating: set[str]) -> None:
    control = draw.control
    attributes = attributes_for(control)
    for item in draw.items:
        bad = item.population_item.record_key in deviating
        results = dict.fromkeys(attributes, "ok")
        if bad:
            results[attributes[0]] = "deviation"
        item_results.record_result(
            db.session, item, attribute_results=results, overall="deviation" if bad else "ok",
            actor=world.user("granskare"), now=NOW,
            deviation_description="Saknas." if bad else "",
        )


def _smallest_hypergeometric_n(population: int, tolerable: float, risk: float) -> int:
    bad = math.ceil(tolerable * population - 1e-9)
    return next(n for n in range(1, population + 1) if hypergeom.cdf(0, population, bad, n) <= risk)


# --------------------------------------------------------------------- blank size


def test_blank_size_plans_on_the_imported_population(app: Flask, world: World) -> None:
    """40 referrals, size left blank, 95 %, T 5 %: the plan uses N = 40 (hypergeometric),
    not the 59 of a large population, and the page shows the count instead of asking."""
    with app.app_context():
        _import_referrals(world, 40)
        db.session.commit()
    client = _client(app)
    url = f"/sampling/controls/{world.controls['referrals']}/plan"
    form = client.get(url).get_data(as_text=True)
    assert re.search(r'name="population_size"[^>]*readonly', form)
    assert re.search(r'name="population_size"[^>]*value="40"', form)
    assert "Hämtad från den importerade populationen: 40 poster." in form
    response = client.post(
        url,
        data={"method": "attribute", "confidence": "0.95", "tolerable_rate": "5",
              "expected_rate": "0", "population_size": ""},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    expected = _smallest_hypergeometric_n(40, 0.05, 0.05)
    assert expected < 40 < 59
    assert f"n = {expected}" in page
    assert f"krävs {expected} poster av 40" in page
    with app.app_context():
        plan = db.session.scalar(select(SamplePlan).where(SamplePlan.superseded.is_(False)))
        assert plan.population_size == 40 and plan.sample_size == expected


# --------------------------------------------------------------- contradicting size


def test_a_typed_size_that_contradicts_the_population_is_refused(
    app: Flask, world: World
) -> None:
    with app.app_context():
        _import_referrals(world, 300)
        db.session.commit()
        with pytest.raises(ServiceError, match="har 300 poster; angiven storlek 30"):
            planning.plan_sample(
                db.session, world.control("referrals"), method="attribute",
                actor=world.user("granskare"), now=NOW, confidence=Decimal("0.95"),
                tolerable_rate=Decimal("0.05"), population_size=30,
            )
        db.session.rollback()
    client = _client(app)
    response = client.post(
        f"/sampling/controls/{world.controls['referrals']}/plan",
        data={"method": "attribute", "confidence": "0.95", "tolerable_rate": "5",
              "expected_rate": "0", "population_size": "30"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Den importerade populationen har 300 poster; angiven storlek 30 stämmer inte" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(SamplePlan.id))) == 0


def test_a_plan_made_before_the_import_must_be_made_again(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    control = world.control("referrals")
    planning.plan_sample(
        db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
        confidence=Decimal("0.95"), tolerable_rate=Decimal("0.05"),
    )
    _import_referrals(world, 40)
    with pytest.raises(ServiceError, match="Planera urvalet igen"):
        drawing.draw_sample(
            db.session, control, selection_method="simple_random", seed="s",
            actor=world.user("granskare"), now=NOW,
        )


# -------------------------------------------------------------------------- census


def test_census_with_no_deviations_is_supported(app: Flask, world: World) -> None:
    """N 40, T 5 %, E 4 %: no sample separates 1 deviation from 2, so all 40 are examined;
    with 0 deviations the rate is known to be 0 % and the control is supported."""
    with app.app_context():
        control = world.control("referrals")
        _import_referrals(world, 40)
        plan = planning.plan_sample(
            db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
            confidence=Decimal("0.95"), tolerable_rate=Decimal("0.05"),
            expected_rate=Decimal("0.04"),
        )
        assert (plan.sample_size, plan.allowed_deviations) == (40, 1)
        draw = drawing.draw_sample(
            db.session, control, selection_method="simple_random", seed="census",
            actor=world.user("granskare"), now=NOW,
        )
        assert draw.sample_size == 40
        _record_all(world, draw, set())
        evaluation = evaluate(db.session, control)
        assert evaluation.method == "census" and evaluation.within_tolerable
        assert "Totalgranskning" in evaluation.method_description
        db.session.commit()
    page = _client(app).get(
        f"/sampling/controls/{world.controls['referrals']}/evaluate"
    ).get_data(as_text=True)
    assert "Inom tolerabel frekvens" in page
    assert "Hela populationen är granskad" in page
    assert "Avvikelsefrekvens i populationen (totalgranskning)" in page
    assert "stöder inte" not in page


def test_census_with_deviations_at_the_tolerable_rate_is_not_supported(
    ctx, world: World  # type: ignore[no-untyped-def]
) -> None:
    control = world.control("referrals")
    _import_referrals(world, 40)
    planning.plan_sample(
        db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
        confidence=Decimal("0.95"), tolerable_rate=Decimal("0.05"), expected_rate=Decimal("0.04"),
    )
    draw = drawing.draw_sample(
        db.session, control, selection_method="simple_random", seed="census",
        actor=world.user("granskare"), now=NOW,
    )
    _record_all(world, draw, {"R0003", "R0017"})  # 2 of 40 = 5 %, not below T
    evaluation = evaluate(db.session, control)
    assert evaluation.method == "census" and evaluation.within_tolerable is False
    assert evaluation.attribute.upper_deviation_count == 2


# ----------------------------------------------------------------------------- MUS


def _import_payments(world: World, amounts: list[str]) -> None:
    rows = [[f"U{n:03d}", "VG", "VV-1", "2025-01", a] for n, a in enumerate(amounts)]
    importing.import_population(
        db.session, world.control("payments"), io.BytesIO(csv_bytes(PAYMENTS, rows)), "u.csv",
        actor=world.user("granskare"), now=NOW,
    )


def test_mus_on_a_small_book_value_answers_in_swedish(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _import_payments(world, ["0,04", "0,03", "0,03"])  # 10 öre in all
    with pytest.raises(ServiceError) as refused:
        planning.plan_sample(
            db.session, world.control("payments"), method="mus", actor=world.user("granskare"),
            now=NOW, confidence=Decimal("0.95"), tolerable_misstatement_ore=1,
        )
    message = refused.value.message.replace("\xa0", " ")  # amounts keep together with nbsp
    assert "Det bokförda värdet 0,10 kr räcker inte till 30 beloppsenheter" in message
    assert "Granska alla poster" in message
    assert "monetary" not in message and "cannot" not in message


def test_mus_uses_the_real_book_value(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _import_payments(world, ["1 000,00", "2 000,00", "3 000,00"])
    with pytest.raises(ServiceError, match="bokförda värde är 6\xa0000,00\xa0kr; angivet värde"):
        planning.plan_sample(
            db.session, world.control("payments"), method="mus", actor=world.user("granskare"),
            now=NOW, confidence=Decimal("0.95"), book_value_ore=60_000_000,
            tolerable_misstatement_ore=50_000,
        )
    plan = planning.plan_sample(
        db.session, world.control("payments"), method="mus", actor=world.user("granskare"),
        now=NOW, confidence=Decimal("0.95"), tolerable_misstatement_ore=50_000,
    )
    assert plan.book_value_ore == 600_000
    assert "Populationen har bara 3 poster med positivt belopp" in plan.explanation


def test_near_boundary_plan_page_refuses_at_once(app: Flask, world: World) -> None:
    client = _client(app)
    response = client.post(
        f"/sampling/controls/{world.controls['referrals']}/plan",
        data={"method": "attribute", "confidence": "0.95", "tolerable_rate": "5",
              "expected_rate": "4,99"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Urvalet skulle bli större än 100 000 poster" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(SamplePlan.id))) == 0


# ---------------------------------------------------------------------- stratified


def test_stratified_evaluation_with_worked_numbers(app: Flask, world: World) -> None:
    """100 passcards, 20 leavers (every fifth). 10 leavers and 12 others examined at 90 %,
    T 10 %; 2 leavers deviate. Each stratum's upper count D_U is the largest count of
    deviations its sample does not rule out; combined, each stratum at 1 − 10 %/2 = 95 %."""
    with app.app_context():
        control = world.control("passcards")
        rows = [
            [f"K{n:03d}", "N N", "Avd", "Entré", "2026-01-01", "2025-03-01" if n % 5 == 0 else ""]
            for n in range(1, 101)
        ]
        importing.import_population(
            db.session, control, io.BytesIO(csv_bytes(PASSCARDS, rows)), "k.csv",
            actor=world.user("granskare"), now=NOW, period_start=date(2025, 1, 1),
            period_end=date(2025, 6, 30),
        )
        planning.plan_sample(
            db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
            confidence=Decimal("0.90"), tolerable_rate=Decimal("0.10"),
        )
        draw = drawing.draw_sample(
            db.session, control, selection_method="stratified", seed="skikt",
            actor=world.user("granskare"), now=NOW,
            strata_sizes={"avslutade": 10, "övriga": 12},
        )
        leavers = [i.population_item.record_key for i in draw.items if i.stratum == "avslutade"]
        _record_all(world, draw, set(leavers[:2]))
        evaluation = evaluate(db.session, control)
        db.session.commit()

    def d_upper(population: int, n: int, k: int, risk: float) -> int:
        return max(d for d in range(k, population - n + k + 1)
                   if hypergeom.cdf(k, population, d, n) > risk)

    # Worked numbers, independently with scipy.
    leavers_90 = d_upper(20, 10, 2, 0.10)
    others_90 = d_upper(80, 12, 0, 0.10)
    combined = d_upper(20, 10, 2, 0.05) + d_upper(80, 12, 0, 0.05)
    estimate = (20 * 2 / 10 + 80 * 0 / 12) / 100  # 4 %
    assert (leavers_90, others_90) == (7, 12)
    assert combined == 8 + 16

    result = evaluation.stratified
    assert evaluation.method == "stratified" and result is not None
    assert "Bonferroni" in evaluation.method_description
    by_name = {s.name: s for s in evaluation.strata}
    assert (by_name["avslutade"].population_size, by_name["avslutade"].sample_size,
            by_name["avslutade"].deviations) == (20, 10, 2)
    assert by_name["avslutade"].upper_deviation_count == leavers_90
    assert by_name["övriga"].upper_deviation_count == others_90
    # per stratum: 7 of 20 (35 %) and 12 of 80 (15 %) both reach T 10 %; combined 24 of 100
    assert not by_name["avslutade"].within_tolerable
    assert not by_name["övriga"].within_tolerable
    assert float(result.estimated_rate) == pytest.approx(estimate)
    assert result.stratum_confidence == Decimal("0.95")
    assert result.upper_deviation_count == combined
    assert float(result.upper_limit) == pytest.approx(combined / 100)
    assert result.within_tolerable is False and evaluation.within_tolerable is False
    page = _client(app).get(
        f"/sampling/controls/{world.controls['passcards']}/evaluate"
    ).get_data(as_text=True)
    assert page.count('data-testid="stratum-row"') == 2
    assert 'data-testid="estimated-rate">4,0 %' in page
    assert f'data-testid="upper-limit">{combined},0 %' in page
    assert "Skiktat urval" in page and "Bonferroni" in page
    english = _client(app)
    english.post("/language", data={"locale": "en"})
    page = english.get(
        f"/sampling/controls/{world.controls['passcards']}/evaluate"
    ).get_data(as_text=True)
    assert "Stratified sample: each stratum is evaluated on its own" in page
    assert "Upper deviation limit, whole population" in page


def test_refusals_and_the_method_read_in_english(app: Flask, world: World) -> None:
    with app.app_context():
        _import_referrals(world, 300)
        db.session.commit()
    client = _client(app)
    client.post("/language", data={"locale": "en"})
    url = f"/sampling/controls/{world.controls['referrals']}/plan"
    page = client.post(
        url,
        data={"method": "attribute", "confidence": "0.95", "tolerable_rate": "5",
              "expected_rate": "0", "population_size": "30"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "The imported population has 300 items; the size entered, 30, does not match" in page
    page = client.post(
        url,
        data={"method": "attribute", "confidence": "0.95", "tolerable_rate": "5",
              "expected_rate": "4,99", "population_size": "300"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "n = 300" in page


def test_the_aicpa_confidence_levels_are_offered(app: Flask, world: World) -> None:
    client = _client(app)
    url = f"/sampling/controls/{world.controls['referrals']}/plan"
    form = client.get(url).get_data(as_text=True)
    for level in ("95", "90", "85", "80", "75", "70", "65", "50"):
        assert f'<option value="0.{level}">{level} %</option>' in form
    page = client.post(
        url,
        data={"method": "attribute", "confidence": "0.80", "tolerable_rate": "5",
              "expected_rate": "0"},
        follow_redirects=True,
    ).get_data(as_text=True)
    # 80 %: the smallest n with 0.95^n <= 0.20
    expected = next(n for n in range(1, 200) if Decimal("0.95") ** n <= Decimal("0.20"))
    assert f"n = {expected}" in page and "Med 80 % konfidens" in page
