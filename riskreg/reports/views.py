"""Report pages: the auditors' list, signing, downloads, the follow-up and verification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as WResponse

from riskreg import permissions
from riskreg.auth.models import Role, User
from riskreg.auth.throttle import throttle
from riskreg.controls.models import Control, ControlStatus
from riskreg.controls.services import lock_control
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.formtools import choices, flash_errors
from riskreg.permissions import require, requires
from riskreg.plans.models import Organisation, Plan
from riskreg.reports import assemble, audit_labels, services  # noqa: F401  (audit_labels registers the trail labels)
from riskreg.reports.forms import FollowupSignForm, SignForm, VerifyForm
from riskreg.reports.models import (
    REPORT_STATE_TITLES,
    Report,
    ReportKind,
    ReportState,
    SigningCertificate,
)
from riskreg.reports.services import ReportFileError, SigningSettings
from riskreg.reports.signers import active_certificate, confirm_password
from riskreg.uploads import check_upload
from riskreg.web import safe_next

bp = Blueprint("reports", __name__, url_prefix="/reports")

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _settings() -> SigningSettings:
    return SigningSettings.from_config(current_app.config, current_app.instance_path)


def _file_response(
    content: bytes, mimetype: str, filename: str, *, inline: bool = False
) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(
        content,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def _safe_next(default: str) -> str:
    return safe_next(request.form.get("next")) or default


def _stepped_up(form: SignForm) -> bool:
    """Step-up before signing: the signer's password again, throttled like a login.

    A wrong password signs nothing, says so and counts as a failed login for the account;
    a locked account cannot sign until the lockout ends.
    """
    limits = throttle()
    refusal = limits.refusal(current_user.username, request.remote_addr)
    if refusal is not None:
        flash(
            _(
                "För många felaktiga lösenord. Signering och inloggning är tillfälligt spärrade; "
                "försök igen om %(minutes)s min.",
                minutes=refusal.minutes,
            ),
            "danger",
        )
        return False
    if not confirm_password(current_user, form.password.data or ""):
        limits.failed(current_user.username, request.remote_addr)
        flash(_("Fel lösenord. Rapporten har inte signerats."), "danger")
        return False
    limits.succeeded(current_user.username)
    return True


def _control_page(control: Control) -> str:
    """The control's own page when the controls feature has one, else this feature's page."""
    try:
        return url_for("controls.show", control_id=control.id)
    except BuildError:
        return url_for("reports.control", control_id=control.id)


# ------------------------------------------------------------------ the control panel


@dataclass(frozen=True)
class ReviewPanel:
    """What the control page shows about its review report (``report_panel(control)``)."""

    control: Control
    approved: bool
    current: Report | None
    reports: list[Report]

    @property
    def superseded(self) -> Report | None:
        """The newest signed report that no longer belongs to the control's current approval
        (the control was reopened after it): listed as superseded, never hidden."""
        for report in self.reports:  # newest first
            if report.is_signed and (self.current is None or report.id != self.current.id):
                return report
        return None

    @property
    def state_title(self) -> str:
        if self.current is not None:
            return _(REPORT_STATE_TITLES[self.current.state_enum])
        if self.approved:
            return _("Godkänd, väntar på granskarens signatur")
        if self.superseded is not None:
            return _("Ersatt: granskningen är öppnad igen efter signeringen")
        return _("Ingen rapport: granskningen är inte godkänd")

    @property
    def earlier(self) -> list[Report]:
        return [r for r in self.reports if self.current is None or r.id != self.current.id]


def report_panel(control: Control) -> ReviewPanel:
    approved = control.status == ControlStatus.APPROVED
    return ReviewPanel(
        control=control,
        approved=approved,
        current=services.current_review_report(db.session(), control),
        reports=services.review_reports(db.session(), control),
    )


@bp.app_context_processor
def _panel_helpers() -> dict[str, Any]:
    return {"report_panel": report_panel, "signing_certificate": _own_certificate}


def _own_certificate() -> SigningCertificate | None:
    """The signed-in user's current signing certificate (the sign forms say when there is none)."""
    if not current_user.is_authenticated:
        return None
    return active_certificate(db.session(), current_user, now_utc())


# ------------------------------------------------------------------ lists and downloads


@bp.route("/")
@requires(permissions.can_view_reports)
def index() -> str:
    with_reports = select(Report.control_id).where(Report.control_id.is_not(None))
    controls = db.session.scalars(
        select(Control)
        .where((Control.status == ControlStatus.APPROVED.value) | Control.id.in_(with_reports))
        .order_by(Control.approved_at.desc(), Control.id.desc())
    ).all()
    panels = [report_panel(c) for c in controls if permissions.can_view_control(current_user, c)]
    plans: list[tuple[Plan, Report | None]] = []
    if permissions.can_view_followup(current_user):
        for plan in db.session.scalars(
            select(Plan).join(Plan.organisation).order_by(Plan.year.desc(), Organisation.name)
        ):
            reports = services.followup_reports(db.session(), plan)
            plans.append((plan, reports[0] if reports else None))
    return render_template("reports/index.html", panels=panels, plans=plans)


@bp.route("/controls/<int:control_id>")
@requires(permissions.can_view_reports)
def control(control_id: int) -> str:
    control = db.get_or_404(Control, control_id)
    require(permissions.can_view_control(current_user, control), hide=True)
    return render_template("reports/control.html", control=control)


def _require_report_access(report: Report) -> None:
    if report.kind == ReportKind.REVIEW:
        assert report.control is not None
        require(permissions.can_download_report(current_user, report.control), hide=True)
    else:
        require(permissions.can_view_followup(current_user))


@bp.route("/<int:report_id>/download")
@requires(permissions.can_view_reports)
def download(report_id: int) -> Response:
    """The stored file: the final one once co-signed, before that the once-signed one."""
    report = db.get_or_404(Report, report_id)
    _require_report_access(report)
    try:
        content = _settings().store().read_verified(report.current_file, report.current_sha256)
    except ReportFileError as exc:
        current_app.logger.error("report %s: %s", report.reference, exc.message)
        abort(500)
    name = report.reference if report.is_signed else f"{report.reference}-ej-medsignerad"
    return _file_response(content, PDF, f"{name}.pdf")


@bp.route("/controls/<int:control_id>/preview.pdf")
@requires(permissions.can_view_reports)
def preview(control_id: int) -> Response:
    """The report as it would be signed now: unsigned, not stored, marked as a draft."""
    control = db.get_or_404(Control, control_id)
    require(permissions.can_download_report(current_user, control), hide=True)
    if control.status != ControlStatus.APPROVED:
        abort(404)
    pdf = services.preview_review(
        db.session(), control, viewer=current_user, now=now_utc(), settings=_settings()
    )
    return _file_response(pdf, PDF, f"granskningsrapport-{control.id}-utkast.pdf", inline=True)


# ------------------------------------------------------------------ signing


@bp.route("/controls/<int:control_id>/sign", methods=["POST"])
@requires(permissions.can_view_reports)
def sign(control_id: int) -> WResponse:
    """The controller renders and certifies the review report of an approved control."""
    control = db.get_or_404(Control, control_id)
    require(permissions.can_view_control(current_user, control), hide=True)
    require(permissions.can_sign_review(current_user, control))
    form = SignForm()
    back = _safe_next(_control_page(control))
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(back)
    if not _stepped_up(form):
        return redirect(back)
    # Concurrent "Signera" on one control (a double click) run one after the other; the
    # second sees the first's report and is refused instead of signing a second one.
    lock_control(db.session(), control)
    try:
        report = services.sign_review(
            db.session(), control, actor=current_user, now=now_utc(), settings=_settings()
        )
    except ServiceError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "danger")
        return redirect(back)
    db.session.commit()
    flash(
        _(
            "Rapporten %(ref)s är signerad och väntar på medsignatur av %(name)s.",
            ref=report.reference,
            name=report.cosigner_name,
        ),
        "success",
    )
    return redirect(back)


@bp.route("/<int:report_id>/cosign", methods=["POST"])
@requires(permissions.can_view_reports)
def cosign(report_id: int) -> WResponse:
    """The approver adds the co-signature; the final file is stored once."""
    report = db.session.get(Report, report_id, with_for_update=True)
    if report is None:
        abort(404)
    _require_report_access(report)
    if report.kind == ReportKind.REVIEW:
        assert report.control is not None
        require(permissions.can_cosign_review(current_user, report.control))
        back = _safe_next(_control_page(report.control))
    else:
        require(permissions.can_cosign_followup(current_user))
        assert report.plan is not None
        back = _safe_next(url_for("reports.followup", plan_id=report.plan.id))
    form = SignForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(back)
    if not _stepped_up(form):
        return redirect(back)
    try:
        services.cosign_report(
            db.session(), report, actor=current_user, now=now_utc(), settings=_settings()
        )
    except ServiceError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "danger")
        return redirect(back)
    db.session.commit()
    flash(_("Rapporten %(ref)s är medsignerad och arkiverad.", ref=report.reference), "success")
    return redirect(back)


# ------------------------------------------------------------------ follow-up


def _approvers() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.APPROVER.value, User.active.is_(True))
            .order_by(User.full_name)
        )
    )


def _followup_form() -> FollowupSignForm:
    form = FollowupSignForm()
    form.cosigner.choices = choices((u.id, u.full_name) for u in _approvers())
    return form


def _followup_preview_data(plan: Plan) -> Any:
    return services.followup_data(
        db.session(),
        plan,
        coordinator=assemble.Signer("–", ""),
        approver=assemble.Signer("–", ""),
        reference=f"UPP-{plan.year}",
        now=now_utc(),
        settings=_settings(),
        visible=permissions.followup_scope(current_user),
    )


@bp.route("/plans/<int:plan_id>/followup")
@requires(permissions.can_view_followup)
def followup(plan_id: int) -> str:
    from riskreg.plans.services import heat_map_counts
    from riskreg.risks.matrix import load_matrix

    plan = db.get_or_404(Plan, plan_id)
    data = _followup_preview_data(plan)
    return render_template(
        "reports/followup.html",
        plan=plan,
        data=data,
        reports=services.followup_reports(db.session(), plan),
        form=_followup_form(),
        cosign_form=SignForm(),
        matrix=load_matrix(db.session()),
        counts=heat_map_counts(plan.risks),
    )


@bp.route("/plans/<int:plan_id>/followup/preview.pdf")
@requires(permissions.can_view_followup)
def followup_preview(plan_id: int) -> Response:
    plan = db.get_or_404(Plan, plan_id)
    pdf = services.preview_followup(
        db.session(),
        plan,
        now=now_utc(),
        settings=_settings(),
        visible=permissions.followup_scope(current_user),
    )
    return _file_response(pdf, PDF, f"uppfoljning-{plan.year}-utkast.pdf", inline=True)


@bp.route("/plans/<int:plan_id>/followup.xlsx")
@requires(permissions.can_view_followup)
def followup_xlsx(plan_id: int) -> Response:
    from riskreg.reports.xlsx import followup_xlsx as to_xlsx

    plan = db.get_or_404(Plan, plan_id)
    content = to_xlsx(_followup_preview_data(plan))
    return _file_response(content, XLSX, f"uppfoljning-internkontrollplan-{plan.year}.xlsx")


@bp.route("/plans/<int:plan_id>/followup/sign", methods=["POST"])
@requires(permissions.can_sign_followup)
def followup_sign(plan_id: int) -> WResponse:
    # The plan's row lock: two concurrent "Signera uppföljningen" run one after the other.
    plan = db.session.get(Plan, plan_id, with_for_update=True)
    if plan is None:
        abort(404)
    back = url_for("reports.followup", plan_id=plan.id)
    form = _followup_form()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(back)
    if not _stepped_up(form):
        return redirect(back)
    cosigner = db.session.get(User, form.cosigner.data)
    if cosigner is None:
        abort(404)
    try:
        report = services.sign_followup(
            db.session(),
            plan,
            actor=current_user,
            cosigner=cosigner,
            now=now_utc(),
            settings=_settings(),
        )
    except ServiceError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "danger")
        return redirect(back)
    db.session.commit()
    flash(
        _(
            "Uppföljningen %(ref)s är signerad och väntar på medsignatur av %(name)s.",
            ref=report.reference,
            name=report.cosigner_name,
        ),
        "success",
    )
    return redirect(back)


# ------------------------------------------------------------------ verification


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}".replace(".", ",")


@bp.route("/verify", methods=["GET", "POST"])
@requires(permissions.can_verify_reports)
def verify() -> str:
    form = VerifyForm()
    outcome = None
    limit = int(current_app.config["REPORT_UPLOAD_MAX_BYTES"])
    if form.validate_on_submit():
        try:
            with check_upload(form.file.data, allowed={"pdf"}, max_bytes=limit) as upload:
                content = upload.stream.read()
            outcome = services.verify_upload(
                db.session(), content, now=now_utc(), settings=_settings()
            )
        except ServiceError as exc:
            form.file.errors.append(exc.message)
    can_see = (
        outcome is not None
        and outcome.report is not None
        and (
            outcome.report.control is None
            or permissions.can_view_control(current_user, outcome.report.control)
        )
    )
    return render_template(
        "reports/verify.html",
        form=form,
        outcome=outcome,
        can_see_subject=can_see,
        signed_state=ReportState.SIGNED.value,
        limit_mb=_megabytes(limit),
    )
