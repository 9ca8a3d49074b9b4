"""`riskreg sample verify CONTROL_ID` re-derives the stored sample and reports the difference."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, update

from riskreg.controls.models import Control
from riskreg.extensions import db
from riskreg.sampling.models import PopulationItem, SampleDraw, SampleItem


def _payments_control(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(Control.id).where(Control.check_type == "payments"))


def test_verify_matches_the_demo_samples(app: Flask, demo: dict[str, str]) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        ids = db.session.scalars(select(SampleDraw.control_id)).all()
    assert len(ids) == 2  # payments (MUS) and passcards (stratified)
    for control_id in ids:
        result = runner.invoke(args=["sample", "verify", str(control_id)])
        assert result.exit_code == 0, result.output
        assert "Urvalet stämmer:" in result.output


def test_verify_detects_a_tampered_sample_item(app: Flask, demo: dict[str, str]) -> None:
    control_id = _payments_control(app)
    with app.app_context():
        draw = db.session.scalar(select(SampleDraw).where(SampleDraw.control_id == control_id))
        chosen = {i.population_item_id for i in draw.items}
        fifth = draw.items[4]
        original_key = fifth.population_item.record_key
        replacement = db.session.scalar(
            select(PopulationItem).where(
                PopulationItem.population_id == draw.population_id,
                PopulationItem.id.not_in(chosen),
            )
        )
        db.session.execute(
            update(SampleItem)
            .where(SampleItem.id == fifth.id)
            .values(population_item_id=replacement.id)
        )
        db.session.commit()
        replacement_key = replacement.record_key
    result = app.test_cli_runner().invoke(args=["sample", "verify", str(control_id)])
    assert result.exit_code == 1
    assert (
        f"Första skillnaden på position 5: lagrad post {replacement_key}, härledd post "
        f"{original_key}." in result.output
    )


def test_verify_detects_a_changed_population_row(app: Flask, demo: dict[str, str]) -> None:
    control_id = _payments_control(app)
    with app.app_context():
        draw = db.session.scalar(select(SampleDraw).where(SampleDraw.control_id == control_id))
        db.session.execute(
            update(PopulationItem)
            .where(PopulationItem.id == draw.items[0].population_item_id)
            .values(amount_ore=PopulationItem.amount_ore + 1)
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["sample", "verify", str(control_id)])
    assert result.exit_code == 1
    assert "Populationens rader har ändrats" in result.output


def test_verify_without_a_draw_or_control(app: Flask, demo: dict[str, str]) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        hygiene = db.session.scalar(select(Control.id).where(Control.check_type == "hygiene"))
    assert runner.invoke(args=["sample", "verify", str(hygiene)]).exit_code == 1
    missing = runner.invoke(args=["sample", "verify", "999999"])
    assert missing.exit_code == 1 and "ingen granskning" in missing.output
