"""Attribute evaluation: deviations and unassessable items, the limit rounded up for display."""

from __future__ import annotations

import io
from decimal import Decimal

from flask import Flask
from scipy.stats import hypergeom
from sqlalchemy import select

from riskreg.extensions import db
from riskreg.sampling import drawing, importing, item_results, planning, stats
from riskreg.sampling.evaluation import evaluate
from riskreg.sampling.models import SampleDraw
from tests.conftest import login
from tests.sampling.conftest import NOW, World, csv_bytes

ATTRIBUTES = ("Registrerad i tid", "Bedömd av behörig person", "Beslut dokumenterat",
              "Remissvar skickat", "Patienten informerad", "Vårdgarantins tider hållna")


def _referral_sample(app: Flask, world: World) -> int:
    with app.app_context():
        control = world.control("referrals")
        actor = world.user("granskare")
        rows = [[f"R{n:04d}", "VC", "Ortopedi", "2025-02-03", "Normal"] for n in range(500)]
        importing.import_population(
            db.session, control,
            io.BytesIO(csv_bytes(["Remiss-id", "Avsändare", "Mottagare", "Mottagen",
                                  "Prioritet"], rows)),
            "r.csv", actor=actor, now=NOW,
        )
        planning.plan_sample(db.session, control, method="attribute", actor=actor, now=NOW,
                             confidence=Decimal("0.90"), tolerable_rate=Decimal("0.10"))
        draw = drawing.draw_sample(db.session, control, selection_method="simple_random",
                                    seed="s", actor=actor, now=NOW)
        for index, item in enumerate(draw.items):
            results = dict.fromkeys(ATTRIBUTES, "ok")
            overall = "ok"
            if index == 0:
                results["Remissvar skickat"] = overall = "deviation"
            elif index == 1:
                results["Beslut dokumenterat"] = overall = "not_assessable"
            elif index >= 20:
                break  # two items left unassessed
            item_results.record_result(
                db.session, item, attribute_results=results, overall=overall, actor=actor,
                now=NOW, deviation_description="Inget svar." if overall == "deviation" else "",
            )
        db.session.commit()
        return control.id


def test_attribute_evaluation_counts_unassessable_and_rounds_up(app: Flask, world: World) -> None:
    control_id = _referral_sample(app, world)
    with app.app_context():
        draw = db.session.scalar(select(SampleDraw))
        # 500 imported: hypergeometric, D = 50 deviations ruled out (90 %) by n items, none seen
        assert draw.sample_size == next(
            n for n in range(1, 501) if hypergeom.cdf(0, 500, 50, n) <= 0.10
        )
        evaluation = evaluate(db.session, draw.control)
    assert (evaluation.assessed, evaluation.deviations, evaluation.not_assessable) == (20, 1, 1)
    assert not evaluation.complete
    assert evaluation.method == "hypergeometric"
    # D_U: the largest population count of deviations that 2 in 20 does not rule out at 90 %
    d_upper = max(d for d in range(2, 483) if hypergeom.cdf(2, 500, d, 20) > 0.10)
    assert evaluation.attribute.upper_deviation_count == d_upper
    expected = stats.evaluate_attribute(20, 2, "0.90", "0.10", population_size=500)
    assert evaluation.attribute.upper_limit_percent == expected.upper_limit_percent
    assert expected.upper_limit_percent == stats.round_up_percent(d_upper / 500)
    client = app.test_client()
    login(client, "granskare")
    page = client.get(f"/sampling/controls/{control_id}/evaluate").get_data(as_text=True)
    shown = str(expected.upper_limit_percent).replace(".", ",")
    assert f'data-testid="upper-limit">{shown} %' in page
    assert "10,0 %" in page  # 2 of 20 assessed
    assert "preliminär" in page and "räknas som avvikelser" in page
    assert "Överstiger tolerabel frekvens" in page
