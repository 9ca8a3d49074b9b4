"""Mitt arbete, notifications, the reminder policy (admins) and the send log (admins, auditors)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.auth.models import Unit
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.formtools import choices
from riskreg.permissions import requires
from riskreg.reminders import (
    audit_labels,  # noqa: F401  (registers the trail labels)
    policy_store,
    sendlog,
)
from riskreg.reminders import notifications as notices
from riskreg.reminders.decide import local_date
from riskreg.reminders.forms import (
    KIND_LABELS,
    REASON_LABELS,
    STATE_LABELS,
    LogFilterForm,
    MarkReadForm,
    PolicyForm,
)
from riskreg.reminders.policy import next_working_day, non_working_reason
from riskreg.web import item_href, parse_id, parse_version

bp = Blueprint("reminders", __name__, url_prefix="/reminders")

LOG_PAGE_SIZE = 100


@bp.app_template_global("reminders_labels")
def _labels() -> dict[str, Any]:
    return {"kind": KIND_LABELS, "reason": REASON_LABELS, "state": STATE_LABELS}


@bp.app_template_global("reminders_unread_count")
def _unread_count() -> int:
    """For the menu badge; 0 for anonymous visitors.

    The menu is on every page, error pages included: a database that is down must not turn
    the 500 page into a second failure, so a failing count shows no badge.
    """
    if not current_user.is_authenticated:
        return 0
    try:
        return notices.unread_count(db.session(), current_user)
    except SQLAlchemyError:
        return 0


@bp.route("/notifications")
@requires(permissions.is_authenticated)
def notifications() -> str:
    unread_only = request.args.get("unread") == "1"
    found = notices.notifications_for(db.session(), current_user, unread_only=unread_only)
    return render_template(
        "reminders/notifications.html",
        notifications=found,
        unread_only=unread_only,
        unread=notices.unread_count(db.session(), current_user),
        href=item_href,
        form=MarkReadForm(),
    )


@bp.route("/notifications/read", methods=["POST"])
@requires(permissions.is_authenticated)
def mark_read() -> Response:
    form = MarkReadForm()
    if not form.validate_on_submit():
        flash(_("Formuläret kunde inte tas emot."), "error")
        return redirect(url_for("reminders.notifications"))
    if form.all.data == "1":
        ids = None
    elif form.notification_id.data:
        ids = [form.notification_id.data]
    else:
        flash(_("Ingen avisering valdes."), "warning")
        return redirect(url_for("reminders.notifications"))
    count = notices.mark_read(db.session(), current_user, ids, now=now_utc())
    db.session.commit()
    if count:
        flash(_("Markerat som läst."), "success")
    return redirect(url_for("reminders.notifications"))


@bp.route("/policy", methods=["GET", "POST"])
@requires(permissions.can_manage_reminders)
def policy() -> str | Response:
    row = policy_store.policy_row(db.session())
    current = policy_store.load_policy(db.session())
    form = PolicyForm()
    if request.method == "GET":
        form.days_before.data = ", ".join(str(d) for d in current.days_before)
        form.on_due_date.data = current.on_due_date
        form.repeat_overdue_every_days.data = current.repeat_overdue_every_days
        form.escalate_after_days.data = current.escalate_after_days
        form.repeat_escalation_every_days.data = current.repeat_escalation_every_days
        form.version.data = str(row.version if row else policy_store.NO_POLICY_YET)
    if form.validate_on_submit():
        try:
            policy_store.save_policy(
                db.session(),
                days_before=policy_store.parse_days(form.days_before.data or ""),
                on_due_date=bool(form.on_due_date.data),
                repeat_overdue_every_days=form.repeat_overdue_every_days.data,
                escalate_after_days=form.escalate_after_days.data,
                repeat_escalation_every_days=form.repeat_escalation_every_days.data,
                actor=current_user,
                now=now_utc(),
                # A missing or damaged version is a conflict, never a silent overwrite.
                expected_version=parse_version(form.version.data),
            )
        except ServiceError as exc:
            db.session.rollback()
            form.form_errors.extend(exc.messages)
        else:
            db.session.commit()
            flash(_("Påminnelsereglerna är sparade."), "success")
            return redirect(url_for("reminders.policy"))
    today = local_date(now_utc())
    return render_template(
        "reminders/policy.html",
        form=form,
        row=row,
        policy=current,
        today=today,
        next_working=next_working_day(today),
        today_closed=non_working_reason(today),
    )


@bp.route("/log")
@requires(permissions.can_view_reminder_log)
def log() -> str:
    form = LogFilterForm(request.args)
    units = db.session.scalars(select(Unit).order_by(Unit.code)).all()
    form.unit_id.choices = choices([(0, _("Alla")), *((u.id, u.code) for u in units)])
    valid = form.validate()
    flt = sendlog.LogFilter(
        date_from=form.date_from.data if valid else None,
        date_to=form.date_to.data if valid else None,
        unit_id=(form.unit_id.data or None) if valid else None,
        recipient=(form.recipient.data or "") if valid else "",
        kind=(form.kind.data or "") if valid else "",
        reason=(form.reason.data or "") if valid else "",
        state=(form.state.data or "") if valid else "",
        item_id=parse_id(request.args.get("item")),
    )
    query = sendlog.log_query(flt)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = max(parse_id(request.args.get("page")) or 1, 1)
    rows = db.session.scalars(query.limit(LOG_PAGE_SIZE).offset((page - 1) * LOG_PAGE_SIZE)).all()
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "reminders/log.html",
        form=form,
        rows=rows,
        total=total or 0,
        page=page,
        pages=max(((total or 0) + LOG_PAGE_SIZE - 1) // LOG_PAGE_SIZE, 1),
        args=args,
        href=item_href,
    )
