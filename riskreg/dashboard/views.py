from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from riskreg import permissions
from riskreg.dashboard import work
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.permissions import requires
from riskreg.plans.services import RiskFilter, heat_map_counts, risk_query
from riskreg.reminders.decide import local_date
from riskreg.risks.matrix import load_matrix
from riskreg.web import item_href

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@requires(permissions.is_authenticated)
def index() -> str:
    years = work.plan_years(db.session())
    chosen = request.args.get("year", type=int)
    if chosen not in years:
        chosen = None
    plan = work.dashboard_plan(db.session(), year=chosen, today=local_date(now_utc()))
    risks = (
        db.session.scalars(
            risk_query(
                RiskFilter(plan_id=plan.id, sort="risk_value"),
                permissions.visible_unit_ids(current_user),
            )
        ).all()
        if plan
        else []
    )
    return render_template(
        "dashboard/index.html",
        plan=plan,
        years=years,
        risks=risks,
        counts=heat_map_counts(risks),
        matrix=load_matrix(db.session()),
    )


@bp.app_template_global("reminders_dashboard_counts")
def _dashboard_counts() -> list[work.UnitCounts]:
    """Per unit the user may see: open items due within 14 days, overdue, done."""
    if not current_user.is_authenticated:
        return []
    return work.unit_status_counts(
        db.session(), permissions.visible_unit_ids(current_user), today=local_date(now_utc())
    )


@bp.app_template_global("my_task_count")
def _my_task_count() -> int:
    """The menu badge of "Mitt arbete": how many tasks wait for the signed-in user.

    The menu is on every page, error pages included: a failing count shows no badge rather
    than turning the page into a second failure (as the notifications badge does).
    """
    if not current_user.is_authenticated:
        return 0
    try:
        return work.task_count(db.session(), current_user, today=local_date(now_utc()))
    except SQLAlchemyError:
        return 0


# The address stayed where it was when this page belonged to the reminders.
@bp.route("/reminders/my-work")
@requires(permissions.is_authenticated)
def my_work() -> str:
    include_done = request.args.get("done") == "1"
    today = local_date(now_utc())
    items = work.my_work(db.session(), current_user, today=today, include_done=include_done)
    tasks = work.my_tasks(db.session(), current_user, today=today)
    return render_template(
        "dashboard/my_work.html",
        items=items,
        tasks=tasks,
        task_groups=work.TASK_GROUPS,
        task_reasons=work.TASK_REASONS,
        include_done=include_done,
        today=today,
        href=item_href,
        soon_days=work.DUE_SOON_DAYS,
    )


#: When the accessibility statement was last reviewed and how (DIGG's model asks for both).
ACCESSIBILITY_REVIEWED = "2026-12-03"


@bp.route("/tillganglighet")
@requires(permissions.PUBLIC)
def accessibility() -> str:
    """The accessibility statement (tillgänglighetsredogörelse) after DIGG's model, public."""
    return render_template("dashboard/accessibility.html", reviewed=ACCESSIBILITY_REVIEWED)
