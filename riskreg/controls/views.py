"""The control workflow pages: controls of plan rows, their status flow, deviations and actions.

Just over 600 lines: every page of one workflow (controls, status flow, deviations, actions).

Each view: load or 404 → permission check → form → service → commit → redirect. The lists
filter by the user's scope in SQL (`permissions.scope_controls`, `scope_actions`, the twins of
`can_view_*`, so the rule of who sees what stays in riskreg/permissions.py) and page by keyset
(riskreg/paging.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, func, select
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.auth.models import Role, Unit, User
from riskreg.controls import audit_labels  # noqa: F401  (registers the trail labels)
from riskreg.controls.forms import (
    AnswerForm,
    ControlForm,
    DueDateForm,
    NewActionForm,
    NewControlForm,
    StatusForm,
    VerifyForm,
)
from riskreg.controls.guards import (
    attach_action_evidence,
    suggest_check_type,
    unverified_actions,
)
from riskreg.controls.models import (
    ACTION_STATUS_TITLES,
    CHECK_TYPE_TITLES,
    CONTROL_STATUS_TITLES,
    Action,
    ActionEvidence,
    ActionStatus,
    CheckType,
    Control,
    ControlStatus,
)
from riskreg.controls.services import (
    ActionFilter,
    ControlFilter,
    action_query,
    answer_action,
    change_action_due_date,
    change_status,
    control_query,
    create_control,
    due_date_history,
    is_overdue,
    overdue_actions,
    overdue_controls,
    raise_action,
    update_control,
    verify_action,
)
from riskreg.db import now_utc
from riskreg.errors import AlreadyDone, ServiceError, StaleObject
from riskreg.extensions import db
from riskreg.formtools import choices, flash_errors, new_form_token, required, saving
from riskreg.money import format_sek
from riskreg.paging import Sort, keyset_page, text_arg
from riskreg.permissions import require, requires
from riskreg.plans.models import Plan
from riskreg.plans.services import RiskFilter, latest_plan, risk_query
from riskreg.risks.models import Risk
from riskreg.storage import EVIDENCE_KINDS, evidence_dir
from riskreg.uploads import check_upload
from riskreg.web import parse_id, parse_version, send_evidence

bp = Blueprint("controls", __name__, url_prefix="/controls")


# --- helpers ----------------------------------------------------------------------------------


def _today() -> date:
    """Today in the organisation's time zone: what "overdue" means to its users."""
    return now_utc().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def _int_arg(name: str) -> int | None:
    return parse_id(request.args.get(name, ""))


_version = parse_version


def _control_or_404(control_id: int) -> Control:
    control = db.get_or_404(Control, control_id)
    require(permissions.can_view_control(current_user, control), hide=True)
    return control


def _action_or_404(action_id: int) -> Action:
    action = db.get_or_404(Action, action_id)
    require(permissions.can_view_action(current_user, action), hide=True)
    return action


def _visible_controls(flt: ControlFilter) -> list[Control]:
    """Short lists only (a plan row's controls); the index pages."""
    query = control_query(flt, today=_today()).where(permissions.scope_controls(current_user))
    return list(db.session.scalars(query))


def _unit_choices() -> list[Any]:
    units = db.session.scalars(select(Unit).order_by(Unit.code))
    return choices((u.id, f"{u.code} – {u.name}") for u in units)


def _controller_choices(assigned: list[User] | None = None) -> list[Any]:
    """Active controllers, and whoever is assigned already (even if since deactivated)."""
    users = set(
        db.session.scalars(select(User).where(User.role == Role.CONTROLLER, User.active.is_(True)))
    )
    users.update(assigned or [])
    return choices((u.id, u.full_name) for u in sorted(users, key=lambda u: u.full_name))


def _users(ids: list[int] | None) -> list[User]:
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids))))


class ControlsUI:
    """Titles and small lookups for templates, under one name (`controls_ui`)."""

    def status_title(self, status: str) -> str:
        return _(CONTROL_STATUS_TITLES[ControlStatus(status)])

    def check_type_title(self, check_type: str) -> str:
        return _(CHECK_TYPE_TITLES[CheckType(check_type)])

    def action_status_title(self, status: str) -> str:
        return _(ACTION_STATUS_TITLES[ActionStatus(status)])

    def statuses(self) -> list[tuple[str, str]]:
        return [(s.value, _(t)) for s, t in CONTROL_STATUS_TITLES.items()]

    def check_types(self) -> list[tuple[str, str]]:
        return [(c.value, _(t)) for c, t in CHECK_TYPE_TITLES.items()]

    def action_statuses(self) -> list[tuple[str, str]]:
        return [(s.value, _(t)) for s, t in ACTION_STATUS_TITLES.items()]

    def sek(self, ore: int) -> str:
        """An amount in öre as Swedish kronor: 1 250,00 kr (riskreg.money)."""
        return format_sek(ore)

    def overdue(self, obj: Control | Action) -> bool:
        return is_overdue(obj, _today())

    def of_risk(self, risk: Risk) -> list[Control]:
        """The controls of a plan row that the signed-in user may see (for the risk page)."""
        return _visible_controls(ControlFilter(risk_id=risk.id))

    def overview(self, plan: Plan | None) -> dict[str, Any]:
        """Counts for the dashboard panel: visible controls of the plan by status, overdue.

        Counted in SQL: two statements whatever the size of the plan."""
        today = _today()
        by_status: dict[str, int] = {}
        overdue = 0
        if plan is not None:
            rows = db.session.execute(
                select(
                    Control.status,
                    func.count(),
                    func.sum(case((overdue_controls(today), 1), else_=0)),
                )
                .join(Control.risk)
                .where(Risk.plan_id == plan.id, permissions.scope_controls(current_user))
                .group_by(Control.status)
            )
            for status, n, late in rows:
                by_status[status] = n
                overdue += int(late or 0)
        overdue_action_count = db.session.scalar(
            select(func.count(Action.id)).where(
                overdue_actions(today), permissions.scope_actions(current_user)
            )
        )
        return {
            "by_status": by_status,
            "total": sum(by_status.values()),
            "overdue_controls": overdue,
            "overdue_actions": overdue_action_count or 0,
        }


CONTROLS_UI = ControlsUI()


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"controls_ui": CONTROLS_UI}


# --- controls ---------------------------------------------------------------------------------


CONTROL_SORTS = {
    "deadline": Sort("deadline", (Control.deadline, Risk.position, Control.id)),
    "title": Sort("title", (Control.title, Control.id)),
    "unit": Sort("unit", (Unit.code, Control.deadline, Control.id)),
    "status": Sort("status", (Control.status, Control.deadline, Control.id)),
}


@bp.route("/")
@requires(permissions.is_authenticated)
def index() -> str:
    status = request.args.get("status") or None
    check_type = request.args.get("type") or None
    flt = ControlFilter(
        plan_id=_int_arg("plan"),
        status=status if status in {s.value for s in ControlStatus} else None,
        unit_id=_int_arg("unit"),
        check_type=check_type if check_type in {c.value for c in CheckType} else None,
    )
    flt.overdue = request.args.get("overdue") == "1"
    flt.text = text_arg(request.args)
    query = (
        control_query(flt, today=_today())
        .join(Unit, Unit.id == Control.responsible_unit_id)
        .where(permissions.scope_controls(current_user))
    )
    page = keyset_page(
        db.session(),
        query,
        CONTROL_SORTS,
        request.args,
        default_sort="deadline",
        list_args={
            "plan": str(flt.plan_id or ""),
            "status": flt.status or "",
            "unit": str(flt.unit_id or ""),
            "type": flt.check_type or "",
            "overdue": "1" if flt.overdue else "",
            "q": flt.text or "",
        },
    )
    return render_template(
        "controls/index.html",
        page=page,
        controls=page.items,
        flt=flt,
        overdue=flt.overdue,
        plans=db.session.scalars(select(Plan).order_by(Plan.year.desc())).all(),
        units=db.session.scalars(select(Unit).order_by(Unit.code)).all(),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(permissions.can_create_control)
def new() -> str | Response:
    risk_id = _int_arg("risk")
    if risk_id is None:
        plan = db.session.get(Plan, _int_arg("plan") or 0) or latest_plan(db.session())
        risks = (
            db.session.scalars(
                risk_query(RiskFilter(plan_id=plan.id), permissions.visible_unit_ids(current_user))
            ).all()
            if plan
            else []
        )
        return render_template("controls/pick_risk.html", plan=plan, risks=risks)
    risk = db.get_or_404(Risk, risk_id)
    require(permissions.can_view_risk(current_user, risk), hide=True)
    form = NewControlForm()
    form.check_type.choices = choices(
        [("", _("Välj typ")), *((c.value, _(t)) for c, t in CHECK_TYPE_TITLES.items())]
    )
    form.responsible_unit_id.choices = _unit_choices()
    form.controllers.choices = _controller_choices()
    if request.method == "GET":
        form.title.data = risk.review_area or risk.title
        form.responsible_unit_id.data = risk.responsible_unit_id
        form.deadline.data = risk.deadline
        form.check_type.data = suggest_check_type(risk).value
        form.check_type.description = _(
            "Föreslagen utifrån planraden. Ändra om granskningen är av annat slag."
        )
        if current_user.role == Role.CONTROLLER:
            form.controllers.data = [current_user.id]
    if form.validate_on_submit():
        try:
            control = create_control(
                db.session(),
                risk,
                title=form.title.data or "",
                check_type=form.check_type.data or "",
                responsible_unit=db.get_or_404(Unit, form.responsible_unit_id.data),
                controllers=_users(form.controllers.data),
                deviation_definition=form.deviation_definition.data or "",
                deadline=form.deadline.data,
                attributes_text=form.attributes_text.data or "",
                actor=current_user,
                now=now_utc(),
            )
        except ServiceError as exc:
            db.session.rollback()
            form.form_errors.extend(exc.messages)
        else:
            db.session.commit()
            flash(_("Granskningen är planerad."), "success")
            return redirect(url_for("controls.show", control_id=control.id))
    return render_template("controls/edit.html", form=form, risk=risk, control=None)


@bp.route("/<int:control_id>")
@requires(permissions.is_authenticated)
def show(control_id: int) -> str:
    return _render_show(_control_or_404(control_id))


def _render_show(control: Control) -> str:
    return render_template(
        "controls/show.html",
        control=control,
        risk=control.risk,
        unverified_actions=unverified_actions(control),
        audit_related=[
            *(("control_event", e.id) for e in control.events),
            *(("deviation", d.id) for d in control.deviations),
            *(("action", a.id) for a in control.actions),
        ],
    )


@bp.route("/<int:control_id>/edit", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def edit(control_id: int) -> str | Response:
    control = _control_or_404(control_id)
    require(permissions.can_work_on_control(current_user, control))
    if control.status_enum != ControlStatus.PLANNED:
        flash(_("En granskning kan bara ändras medan den är planerad."), "warning")
        return redirect(url_for("controls.show", control_id=control.id))
    form = ControlForm(obj=control if request.method == "GET" else None)
    form.controllers.choices = _controller_choices(control.controllers)
    if request.method == "GET":
        form.controllers.data = [u.id for u in control.controllers]
        form.version.data = str(control.version)
    current = None
    if form.validate_on_submit():
        with saving(form) as attempt:
            update_control(
                db.session(),
                control,
                title=form.title.data or "",
                controllers=_users(form.controllers.data),
                deadline=form.deadline.data or control.risk.deadline or control.deadline,
                deviation_definition=form.deviation_definition.data or "",
                attributes_text=form.attributes_text.data or "",
                expected_version=_version(form.version.data),
            )
        if attempt.saved:
            flash(_("Granskningen är sparad."), "success")
            return redirect(url_for("controls.show", control_id=control.id))
        if attempt.stale:
            current = db.session.get(Control, control_id)
            form.version.data = str(current.version) if current else ""
    return render_template(
        "controls/edit.html", form=form, risk=control.risk, control=control, current=current
    )


def _transition(
    control_id: int,
    *,
    from_status: ControlStatus,
    to_status: ControlStatus,
    allowed: Callable[[Any, Control], bool],
    done: str,
) -> Response:
    control = _control_or_404(control_id)
    require(allowed(current_user, control))
    back = redirect(url_for("controls.show", control_id=control.id))
    form = StatusForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return back
    try:
        change_status(
            db.session(),
            control,
            to_status,
            actor=current_user,
            now=now_utc(),
            note=form.note.data or "",
            expected_version=_version(form.version.data),
            expected_status=from_status,
            override_unverified=bool(form.override_unverified.data),
        )
    except StaleObject as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    except ServiceError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "danger")
    else:
        db.session.commit()
        flash(done, "success")
    return back


@bp.route("/<int:control_id>/start", methods=["POST"])
@requires(permissions.is_authenticated)
def start(control_id: int) -> Response:
    return _transition(
        control_id,
        from_status=ControlStatus.PLANNED,
        to_status=ControlStatus.IN_PROGRESS,
        allowed=permissions.can_work_on_control,
        done=_("Granskningen är påbörjad."),
    )


@bp.route("/<int:control_id>/submit", methods=["POST"])
@requires(permissions.is_authenticated)
def submit(control_id: int) -> Response:
    return _transition(
        control_id,
        from_status=ControlStatus.IN_PROGRESS,
        to_status=ControlStatus.READY_FOR_REVIEW,
        allowed=permissions.can_work_on_control,
        done=_("Granskningen är lämnad för godkännande."),
    )


@bp.route("/<int:control_id>/approve", methods=["POST"])
@requires(permissions.is_authenticated)
def approve(control_id: int) -> Response:
    return _transition(
        control_id,
        from_status=ControlStatus.READY_FOR_REVIEW,
        to_status=ControlStatus.APPROVED,
        allowed=permissions.can_approve_control,
        done=_("Granskningen är godkänd."),
    )


@bp.route("/<int:control_id>/send-back", methods=["POST"])
@requires(permissions.is_authenticated)
def send_back(control_id: int) -> Response:
    return _transition(
        control_id,
        from_status=ControlStatus.READY_FOR_REVIEW,
        to_status=ControlStatus.IN_PROGRESS,
        allowed=permissions.can_approve_control,
        done=_("Granskningen är tillbakaskickad till granskaren."),
    )


@bp.route("/<int:control_id>/reopen", methods=["POST"])
@requires(permissions.is_authenticated)
def reopen(control_id: int) -> Response:
    return _transition(
        control_id,
        from_status=ControlStatus.APPROVED,
        to_status=ControlStatus.IN_PROGRESS,
        allowed=permissions.can_reopen_control,
        done=_("Granskningen är öppnad igen."),
    )


@bp.route("/<int:control_id>/actions/new", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def new_action(control_id: int) -> str | Response:
    control = _control_or_404(control_id)
    require(permissions.can_work_on_control(current_user, control))
    form = NewActionForm()
    form.owner_unit_id.choices = _unit_choices()
    if request.method == "GET":
        form.owner_unit_id.data = control.responsible_unit_id
        form.token.data = new_form_token()
    if form.validate_on_submit():
        try:
            action = raise_action(
                db.session(),
                control,
                description=form.description.data or "",
                owner_unit=db.get_or_404(Unit, form.owner_unit_id.data),
                due_date=required(form.due_date.data),
                actor=current_user,
                now=now_utc(),
                form_token=form.token.data or None,
            )
        except AlreadyDone as exc:
            db.session.rollback()
            flash(exc.message, "info")
            return redirect(url_for("controls.action", action_id=exc.object_id))
        except ServiceError as exc:
            db.session.rollback()
            form.form_errors.extend(exc.messages)
        else:
            db.session.commit()
            flash(_("Åtgärden är registrerad."), "success")
            return redirect(url_for("controls.action", action_id=action.id))
    return render_template("controls/new_action.html", form=form, control=control)


# --- actions ----------------------------------------------------------------------------------

ACTION_STATUS_FILTERS = {s.value for s in ActionStatus}
ACTION_SORTS = {
    "due": Sort("due", (Action.due_date, Action.id)),
    "unit": Sort("unit", (Unit.code, Action.due_date, Action.id)),
    "status": Sort("status", (Action.status, Action.due_date, Action.id)),
}


@bp.route("/actions/")
@requires(permissions.is_authenticated)
def actions() -> str:
    status = request.args.get("status") or None
    flt = ActionFilter(
        status=status if status in ACTION_STATUS_FILTERS else None,
        overdue=request.args.get("overdue") == "1",
        unit_id=_int_arg("unit"),
        text=text_arg(request.args),
    )
    query = (
        action_query(flt, today=_today())
        .join(Unit, Unit.id == Action.owner_unit_id)
        .where(permissions.scope_actions(current_user))
    )
    page = keyset_page(
        db.session(),
        query,
        ACTION_SORTS,
        request.args,
        default_sort="due",
        list_args={
            "status": flt.status or "",
            "overdue": "1" if flt.overdue else "",
            "unit": str(flt.unit_id or ""),
            "q": flt.text or "",
        },
    )
    return render_template(
        "controls/actions.html",
        page=page,
        actions=page.items,
        flt=flt,
        units=db.session.scalars(select(Unit).order_by(Unit.code)).all(),
    )


@bp.route("/actions/<int:action_id>")
@requires(permissions.is_authenticated)
def action(action_id: int) -> str:
    return _render_action(_action_or_404(action_id))


def _render_action(
    action: Action,
    *,
    answer_form: AnswerForm | None = None,
    verify_form: VerifyForm | None = None,
    due_form: DueDateForm | None = None,
    conflict: Action | None = None,
) -> str:
    version = {"version": action.version}
    return render_template(
        "controls/action.html",
        action=action,
        control=action.control,
        answer_form=answer_form
        or AnswerForm(formdata=None, data={"answer": action.answer, **version}),
        verify_form=verify_form or VerifyForm(formdata=None, data=version),
        due_form=due_form or DueDateForm(formdata=None, data=version),
        due_changes=due_date_history(db.session(), action),
        conflict=conflict,
    )


def _action_conflict(action_id: int, form: AnswerForm | VerifyForm | DueDateForm) -> Action:
    current = db.get_or_404(Action, action_id)
    form.version.data = str(current.version)
    return current


@bp.route("/actions/<int:action_id>/answer", methods=["POST"])
@requires(permissions.is_authenticated)
def answer(action_id: int) -> str | Response:
    action = _action_or_404(action_id)
    require(permissions.can_answer_action(current_user, action))
    form = AnswerForm()
    if form.validate_on_submit():
        attached = None
        with saving(form) as attempt:
            now = now_utc()
            answer_action(
                db.session(),
                action,
                answer=form.answer.data or "",
                actor=current_user,
                now=now,
                expected_version=_version(form.version.data),
            )
            if form.file.data:  # a chosen file is stored with the answer, or both are refused
                upload = check_upload(
                    form.file.data,
                    allowed=EVIDENCE_KINDS,
                    max_bytes=int(current_app.config["EVIDENCE_MAX_BYTES"]),
                )
                with upload:
                    attached = attach_action_evidence(
                        db.session(),
                        action,
                        upload,
                        storage=evidence_dir(current_app.instance_path),
                        actor=current_user,
                        now=now,
                    ).file_name
        if attempt.stale:
            current = _action_conflict(action_id, form)
            return _render_action(current, answer_form=form, conflict=current)
        if attempt.saved:
            if attached:
                flash(
                    _(
                        "Svaret och underlaget ”%(name)s” är sparade. Granskaren verifierar det.",
                        name=attached,
                    ),
                    "success",
                )
            else:
                flash(_("Svaret är sparat. Granskaren verifierar det."), "success")
            return redirect(url_for("controls.action", action_id=action.id))
    return _render_action(action, answer_form=form)


@bp.route("/actions/evidence/<int:evidence_id>")
@requires(permissions.is_authenticated)
def action_evidence(evidence_id: int) -> Response:
    stored = db.get_or_404(ActionEvidence, evidence_id)
    require(permissions.can_view_action(current_user, stored.action), hide=True)
    return send_evidence(
        stored.stored_name,
        stored.content_type,
        stored.file_name,
        missing_url=url_for("controls.action", action_id=stored.action_id),
    )


@bp.route("/actions/<int:action_id>/verify", methods=["POST"])
@requires(permissions.is_authenticated)
def verify(action_id: int) -> str | Response:
    action = _action_or_404(action_id)
    require(permissions.can_verify_action(current_user, action))
    form = VerifyForm()
    if form.validate_on_submit():
        if not (form.accept.data or form.reject.data):
            form.form_errors.append(_("Välj Verifiera eller Skicka tillbaka."))
            return _render_action(action, verify_form=form)
        with saving(form) as attempt:
            verify_action(
                db.session(),
                action,
                accepted=bool(form.accept.data),
                note=form.note.data or "",
                actor=current_user,
                now=now_utc(),
                expected_version=_version(form.version.data),
            )
        if attempt.stale:
            current = _action_conflict(action_id, form)
            return _render_action(current, verify_form=form, conflict=current)
        if attempt.saved:
            if form.accept.data:
                flash(_("Åtgärden är verifierad."), "success")
            else:
                flash(_("Åtgärden är tillbakaskickad till enheten."), "success")
            return redirect(url_for("controls.action", action_id=action.id))
    return _render_action(action, verify_form=form)


@bp.route("/actions/<int:action_id>/due-date", methods=["POST"])
@requires(permissions.is_authenticated)
def due_date(action_id: int) -> str | Response:
    action = _action_or_404(action_id)
    require(permissions.can_work_on_control(current_user, action.control))
    form = DueDateForm()
    if form.validate_on_submit():
        with saving(form) as attempt:
            change_action_due_date(
                db.session(),
                action,
                due_date=required(form.due_date.data),
                reason=form.reason.data or "",
                now=now_utc(),
                expected_version=_version(form.version.data),
            )
        if attempt.stale:
            current = _action_conflict(action_id, form)
            return _render_action(current, due_form=form, conflict=current)
        if attempt.saved:
            flash(_("Sista dag är ändrad."), "success")
            return redirect(url_for("controls.action", action_id=action.id))
    return _render_action(action, due_form=form)
