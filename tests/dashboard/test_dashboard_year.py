"""The overview shows the adopted plan in force, with a year selector for the others."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from sqlalchemy import select

from riskreg.dashboard.work import dashboard_plan, plan_years
from riskreg.extensions import db
from riskreg.plans.models import Organisation, Plan, PlanStatus
from tests.conftest import login


def _draft_2026(app: Flask) -> int:
    """Next year's plan, imported but not adopted (what replaced everyone's overview)."""
    with app.app_context():
        organisation = db.session.scalars(select(Organisation)).first()
        assert organisation is not None
        plan = Plan(organisation=organisation, year=2026)
        db.session.add(plan)
        db.session.commit()
        return plan.id


def _shown(html: str) -> str:
    match = re.search(r'data-testid="dashboard-plan">([^:]+):', html)
    assert match, "no plan on the overview"
    return match.group(1).strip()


def test_a_draft_for_next_year_does_not_replace_the_adopted_plan(
    app: Flask, demo: dict[str, str]
) -> None:
    draft_id = _draft_2026(app)
    client = app.test_client()
    login(client, "smittskydd", demo["smittskydd"])
    html = client.get("/").get_data(as_text=True)
    assert _shown(html).endswith("2025")
    assert "Fastställd" in html
    # The selector offers every year with a plan, the shown one selected.
    assert re.search(r'<option value="2025" selected>2025</option>', html)
    assert '<option value="2026">2026</option>' in html
    assert '<label class="form-label small mb-0" for="year">' in html

    chosen = client.get("/?year=2026").get_data(as_text=True)
    assert _shown(chosen).endswith("2026")
    assert "Utkast, inte fastställd" in chosen
    assert f"/plans/{draft_id}" in chosen
    # A year without a plan (or garbage) falls back to the plan in force.
    assert _shown(client.get("/?year=1999").get_data(as_text=True)).endswith("2025")
    assert _shown(client.get("/?year=x").get_data(as_text=True)).endswith("2025")


def test_which_plan_the_overview_picks(app: Flask, demo: dict[str, str]) -> None:
    _draft_2026(app)
    with app.app_context():
        session = db.session()
        assert plan_years(session) == [2026, 2025]
        in_2026 = dashboard_plan(session, year=None, today=dt.date(2026, 3, 1))
        assert in_2026 is not None and in_2026.year == 2025 and in_2026.is_adopted
        # Before 2025 nothing adopted is in force yet: the newest adopted plan still shows.
        early = dashboard_plan(session, year=None, today=dt.date(2024, 1, 1))
        assert early is not None and early.year == 2025
        draft = dashboard_plan(session, year=2026, today=dt.date(2026, 3, 1))
        assert draft is not None and draft.status == PlanStatus.DRAFT
        # With the 2026 plan adopted, it becomes the one in force in 2026.
        draft.status = PlanStatus.ADOPTED.value
        session.flush()
        now_2026 = dashboard_plan(session, year=None, today=dt.date(2026, 3, 1))
        assert now_2026 is not None and now_2026.year == 2026
        session.rollback()
