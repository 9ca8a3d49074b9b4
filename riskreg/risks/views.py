from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.auth.models import Unit
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.formtools import choices, required, saving
from riskreg.permissions import require, requires
from riskreg.plans.models import Plan, Section
from riskreg.plans.services import (
    RiskData,
    RiskFilter,
    create_risk,
    delete_risk,
    heat_map_counts,
    latest_plan,
    risk_query,
    update_risk,
)
from riskreg.risks.forms import DeleteForm, RiskForm
from riskreg.risks.matrix import load_matrix
from riskreg.risks.models import Risk
from riskreg.web import parse_id, parse_version

bp = Blueprint("risks", __name__, url_prefix="/risks")


def _int_arg(name: str) -> int | None:
    # Not value.isdigit(): "¹" passes it and int() raises; huge numbers overflow the database
    # driver (both 500s found by tests/security/test_hostile_forms.py).
    return parse_id(request.args.get(name))


def _filter_from_args() -> RiskFilter:
    section = request.args.get("section") or None
    return RiskFilter(
        plan_id=_int_arg("plan"),
        year=_int_arg("year"),
        section=section if section in {s.value for s in Section} else None,
        unit_id=_int_arg("unit"),
        level=_int_arg("level"),
        probability=_int_arg("s"),
        consequence=_int_arg("k"),
        text=(request.args.get("q") or "").strip()[:200] or None,
        sort=request.args.get("sort", "position"),
    )


@bp.route("/")
@requires(permissions.is_authenticated)
def index() -> str:
    flt = _filter_from_args()
    matrix = load_matrix(db.session())
    level_cells = matrix.cells_of_level(flt.level) if flt.level else None
    risks = db.session.scalars(
        risk_query(flt, permissions.visible_unit_ids(current_user), level_cells)
    ).all()
    return render_template(
        "risks/index.html",
        risks=risks,
        flt=flt,
        matrix=matrix,
        plans=db.session.scalars(select(Plan).order_by(Plan.year.desc())).all(),
        units=db.session.scalars(select(Unit).order_by(Unit.code)).all(),
        years=sorted({p.year for p in db.session.scalars(select(Plan))}, reverse=True),
    )


@bp.route("/heatmap")
@requires(permissions.is_authenticated)
def heatmap() -> str:
    flt = _filter_from_args()
    if flt.plan_id is None and flt.year is None:
        plan = latest_plan(db.session())
        flt.plan_id = plan.id if plan else None
    risks = db.session.scalars(risk_query(flt, permissions.visible_unit_ids(current_user))).all()
    return render_template(
        "risks/heatmap.html",
        counts=heat_map_counts(risks),
        matrix=load_matrix(db.session()),
        flt=flt,
        total=len(risks),
        plans=db.session.scalars(select(Plan).order_by(Plan.year.desc())).all(),
    )


@bp.route("/<int:risk_id>")
@requires(permissions.is_authenticated)
def show(risk_id: int) -> str:
    risk = db.get_or_404(Risk, risk_id)
    require(permissions.can_view_risk(current_user, risk), hide=True)
    return render_template(
        "risks/show.html", risk=risk, matrix=load_matrix(db.session()), delete_form=DeleteForm()
    )


def _unit_choices(form: RiskForm) -> None:
    form.responsible_unit_id.choices = choices(
        (u.id, f"{u.code} – {u.name}") for u in db.session.scalars(select(Unit).order_by(Unit.code))
    )


def _data(form: RiskForm) -> RiskData:
    return RiskData(
        section=form.section.data or "",
        title=(form.title.data or "").strip(),
        review_area=(form.review_area.data or "").strip(),
        regulation=(form.regulation.data or "").strip(),
        method=(form.method.data or "").strip(),
        probability=required(form.probability.data),
        consequence=required(form.consequence.data),
        deadline=form.deadline.data,
        responsible_unit_id=form.responsible_unit_id.data,
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(permissions.can_edit_risk)
def new() -> str | Response:
    plan = db.get_or_404(Plan, _int_arg("plan") or 0)
    form = RiskForm()
    _unit_choices(form)
    if request.method == "GET":
        form.section.data = request.args.get("section", Section.ADMINISTRATION.value)
    if form.validate_on_submit():
        with saving(form) as attempt:
            risk = create_risk(
                db.session(),
                plan,
                _data(form),
                actor=current_user,
                now=now_utc(),
                reason=form.reason.data,
            )
        if attempt.saved:
            flash(_("Risken är sparad."), "success")
            return redirect(url_for("risks.show", risk_id=risk.id))
    return render_template("risks/edit.html", form=form, plan=plan, risk=None)


@bp.route("/<int:risk_id>/edit", methods=["GET", "POST"])
@requires(permissions.can_edit_risk)
def edit(risk_id: int) -> str | Response:
    risk = db.get_or_404(Risk, risk_id)
    form = RiskForm(obj=risk if request.method == "GET" else None)
    _unit_choices(form)
    if request.method == "GET":
        form.version.data = str(risk.version)
        form.reason.data = ""
    current = None
    if form.validate_on_submit():
        expected = parse_version(form.version.data)
        with saving(form) as attempt:
            update_risk(
                db.session(),
                risk,
                _data(form),
                actor=current_user,
                now=now_utc(),
                reason=form.reason.data,
                expected_version=expected,
            )
        if attempt.saved:
            flash(_("Risken är sparad."), "success")
            return redirect(url_for("risks.show", risk_id=risk.id))
        if attempt.stale:
            current = db.session.get(Risk, risk_id)
            form.version.data = str(current.version) if current else ""
    return render_template("risks/edit.html", form=form, plan=risk.plan, risk=risk, current=current)


@bp.route("/<int:risk_id>/delete", methods=["POST"])
@requires(permissions.can_edit_risk)
def delete(risk_id: int) -> Response:
    risk = db.get_or_404(Risk, risk_id)
    plan_id = risk.plan_id
    form = DeleteForm()
    if not form.validate_on_submit():
        flash(_("Formuläret kunde inte tas emot."), "danger")
        return redirect(url_for("risks.show", risk_id=risk_id))
    try:
        delete_risk(db.session(), risk, actor=current_user, now=now_utc(), reason=form.reason.data)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("risks.show", risk_id=risk_id))
    db.session.commit()
    flash(_("Risken är borttagen."), "success")
    return redirect(url_for("plans.show", plan_id=plan_id))


@bp.route("/matrix.css")
@requires(permissions.is_authenticated)
def matrix_css() -> Response:
    """Cell colours as classes: the Content-Security-Policy forbids inline styles."""
    from riskreg.risks.matrix import text_colour

    matrix = load_matrix(db.session())
    lines = [
        f".cell-{p}-{k}{{background-color:{colour};color:{text_colour(colour)}}}"
        for (p, k), (_pos, colour) in sorted(matrix.cells.items())
    ]
    lines += [
        f".level-{lv.position}{{background-color:{lv.colour};color:{text_colour(lv.colour)}}}"
        for lv in matrix.levels
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/css")
