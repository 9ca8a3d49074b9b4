from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from riskreg.auth.models import Role, User
from riskreg.extensions import db
from riskreg.plans.models import Plan, Risk


def test_demo_loads_real_plan_and_every_role_and_is_safe_twice(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "Administratör: användarnamn admin, lösenord" in first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and "inget ändrat" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Risk.id))) == 7
        assert db.session.scalar(select(func.count(Plan.id))) == 1
        roles = set(db.session.scalars(select(User.role)))
        assert roles == {r.value for r in Role}
        plan = db.session.scalar(select(Plan))
        assert plan.is_adopted
        titles = {r.title for r in plan.risks}
        assert "Risk att passerkort/nycklar används av obehöriga" in titles
