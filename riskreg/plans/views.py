from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response as WResponse

from riskreg import permissions
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.exports import csv_response
from riskreg.extensions import db
from riskreg.formtools import required
from riskreg.permissions import require, requires
from riskreg.plans import exporter
from riskreg.plans.file_import import import_plan_file, plan_export_rows
from riskreg.plans.forms import AdoptPlanForm, NewPlanForm, PlanImportForm
from riskreg.plans.models import Organisation, Plan, PlanAmendment, Section
from riskreg.plans.services import get_or_create_organisation, get_or_create_plan
from riskreg.uploads import check_upload

bp = Blueprint("plans", __name__, url_prefix="/plans")


@bp.route("/")
@requires(permissions.can_view_plans)
def index() -> str:
    plans = db.session.scalars(
        select(Plan).join(Plan.organisation).order_by(Plan.year.desc(), Organisation.name)
    ).all()
    return render_template("plans/index.html", plans=plans)


@bp.route("/<int:plan_id>")
@requires(permissions.can_view_plans)
def show(plan_id: int) -> str:
    plan = db.get_or_404(Plan, plan_id)
    require(permissions.can_view_plan(current_user, plan))
    visible = permissions.visible_unit_ids(current_user)
    risks = [r for r in plan.risks if visible is None or r.responsible_unit_id in visible]
    sections = [(s.value, [r for r in risks if r.section == s.value]) for s in Section]
    amendments = db.session.scalars(
        select(PlanAmendment)
        .where(PlanAmendment.plan_id == plan.id)
        .order_by(PlanAmendment.changed_at.desc())
    ).all()
    return render_template(
        "plans/show.html",
        plan=plan,
        sections=sections,
        amendments=amendments,
        partial=visible is not None,
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(permissions.can_manage_plans)
def new() -> str | WResponse:
    form = NewPlanForm()
    if form.validate_on_submit():
        try:
            org = get_or_create_organisation(db.session(), form.organisation.data or "")
            plan = get_or_create_plan(db.session(), org, form.year.data or 0)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            return redirect(url_for("plans.show", plan_id=plan.id))
    return render_template("plans/new.html", form=form)


@bp.route("/<int:plan_id>/adopt", methods=["GET", "POST"])
@requires(permissions.can_manage_plans)
def adopt(plan_id: int) -> str | WResponse:
    from riskreg.plans.services import adopt_plan

    plan = db.get_or_404(Plan, plan_id)
    form = AdoptPlanForm()
    if form.validate_on_submit():
        try:
            adopt_plan(
                db.session(),
                plan,
                actor=current_user,
                now=now_utc(),
                decision_date=required(form.decision_date.data),
                decision_body=form.decision_body.data or "",
                decision_paragraph=form.decision_paragraph.data or "",
                diary_number=form.diary_number.data or "",
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("Planen är fastställd och låst."), "success")
            return redirect(url_for("plans.show", plan_id=plan.id))
    return render_template("plans/adopt.html", plan=plan, form=form)


@bp.route("/import", methods=["GET", "POST"])
@requires(permissions.can_manage_plans)
def import_file() -> str | WResponse:
    form = PlanImportForm()
    errors: list[str] = []
    if request.method == "GET":
        org = db.session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
        if org:
            form.organisation.data = org.name
    if form.validate_on_submit():
        try:
            # Size counted while reading, type by content (a renamed .exe or .png stops here).
            upload = check_upload(
                form.file.data,
                allowed={"csv", "xlsx"},
                max_bytes=current_app.config["PLAN_IMPORT_MAX_BYTES"],
            )
            with upload:
                plan = import_plan_file(
                    db.session(),
                    upload.stream,
                    upload.filename,
                    organisation=form.organisation.data or "",
                    year=form.year.data or 0,
                    create_units=form.create_units.data,
                    replace=form.replace.data,
                    actor=current_user,
                    now=now_utc(),
                )
        except ServiceError as exc:
            db.session.rollback()
            errors = exc.messages
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("Planen är importerad: %(n)s risker.", n=len(plan.risks)), "success")
            return redirect(url_for("plans.show", plan_id=plan.id))
    return render_template("plans/import.html", form=form, errors=errors)


@bp.route("/<int:plan_id>/export.<fmt>")
@requires(permissions.can_export_plan)
def export(plan_id: int, fmt: str) -> Response:
    plan = db.get_or_404(Plan, plan_id)
    rows = plan_export_rows(plan)
    name = f"internkontrollplan-{plan.year}"
    if fmt == "csv":
        # For people: opens cleanly in Swedish Excel (BOM, ";", headings in their language).
        locale = get_locale()
        header, body = exporter.plan_excel_csv_rows(
            rows, english=locale is not None and locale.language == "en"
        )
        return csv_response(header, body, f"{name}.csv")
    if fmt == "source.csv":
        # The record format, byte for byte as the shipped plan file (checksums, diffs).
        return Response(
            exporter.plan_rows_to_csv(rows).encode("utf-8"),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            exporter.plan_rows_to_xlsx(rows),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    abort(404)
