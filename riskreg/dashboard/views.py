from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from riskreg import permissions
from riskreg.extensions import db
from riskreg.permissions import requires
from riskreg.plans.services import RiskFilter, heat_map_counts, latest_plan, risk_query
from riskreg.risks.matrix import load_matrix

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@requires(permissions.is_authenticated)
def index() -> str:
    plan = latest_plan(db.session())
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
        risks=risks,
        counts=heat_map_counts(risks),
        matrix=load_matrix(db.session()),
    )


#: When the accessibility statement was last reviewed and how (DIGG's model asks for both).
ACCESSIBILITY_REVIEWED = "2026-12-03"


@bp.route("/tillganglighet")
@requires(permissions.PUBLIC)
def accessibility() -> str:
    """The accessibility statement (tillgänglighetsredogörelse) after DIGG's model, public."""
    return render_template("dashboard/accessibility.html", reviewed=ACCESSIBILITY_REVIEWED)
