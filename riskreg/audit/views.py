"""The audit trail pages: the filtered trail for admins and auditors, its CSV/XLSX export, and
the `audit_history()` template helper behind templates/audit/_history.html."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.audit.checkpoint import CheckpointSettings, newest_checkpoint
from riskreg.audit.services import (
    ACTION_LABELS,
    EXPORT_HEADER,
    OBJECT_PAGES,
    HistoryEntry,
    TrailFilter,
    chain_head,
    export_rows,
    history_for,
    known_object_types,
    object_type_label,
    trail_page,
)
from riskreg.exports import XLSX_MAX_ROWS, csv_response, xlsx_response
from riskreg.extensions import db
from riskreg.permissions import requires
from riskreg.web import parse_id

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 100


@bp.app_context_processor
def history_helpers() -> dict[str, Any]:
    return {"audit_history": audit_history, "audit_object_url": object_url}


def audit_history(
    object_type: str,
    object_id: int | str,
    related: Iterable[tuple[str, int | str]] = (),
) -> list[HistoryEntry] | None:
    """The object's trail for the current user, or None when they may not read the trail.

    ``related`` adds the entries of objects that belong to it (a control's actions).
    Admins and auditors read the trail (who changed what, from where); everyone else sees the
    domain histories the pages already show (assessments, amendments, status changes).
    """
    if not permissions.can_view_audit_trail(current_user):
        return None
    return history_for(db.session(), object_type, object_id, related=related)


def object_url(entry: HistoryEntry) -> str | None:
    page = OBJECT_PAGES.get(entry.object_type)
    if page is None or not (entry.object_id.isascii() and entry.object_id.isdigit()):
        return None
    endpoint, argument = page
    try:
        values: dict[str, Any] = {argument: int(entry.object_id)}
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _date_arg(name: str, errors: list[str]) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(_("Ange datum som ÅÅÅÅ-MM-DD."))
        return None


def _filter_from_args(errors: list[str]) -> TrailFilter:
    def text(name: str, limit: int) -> str | None:
        return (request.args.get(name) or "").strip()[:limit] or None

    return TrailFilter(
        object_type=text("type", 60),
        object_id=text("object", 60),
        actor=text("user", 200),
        action=text("action", 20),
        date_from=_date_arg("from", errors),
        date_to=_date_arg("to", errors),
        timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"],
    )


def _filter_args() -> dict[str, Any]:
    """The current filter as query arguments (strings; Any so url_for takes them as values)."""
    return {
        key: value
        for key in ("type", "object", "user", "action", "from", "to")
        if (value := (request.args.get(key) or "").strip())
    }


@bp.route("/")
@requires(permissions.can_view_audit_trail)
def index() -> str:
    errors: list[str] = []
    flt = _filter_from_args(errors)
    before = request.args.get("before", "")
    entries, next_before = trail_page(
        db.session(),
        flt,
        before_id=parse_id(before),
        size=PAGE_SIZE,
    )
    types = known_object_types(db.session())
    return render_template(
        "audit/index.html",
        entries=entries,
        next_before=next_before,
        errors=errors,
        args=_filter_args(),
        object_types=[(t, object_type_label(t)) for t in types],
        actions=[(key, str(label)) for key, label in ACTION_LABELS.items()],
        head=chain_head(db.session()),
        checkpoint=newest_checkpoint(
            CheckpointSettings.from_config(current_app.config, current_app.instance_path)
        ),
    )


@bp.route("/export.<fmt>")
@requires(permissions.can_view_audit_trail)
def export(fmt: str) -> Response:
    errors: list[str] = []
    flt = _filter_from_args(errors)
    if errors:
        for message in errors:
            flash(message, "danger")
        return redirect(url_for("audit.index", **_filter_args()))
    header = [str(title) for title in EXPORT_HEADER]
    name = "granskningsspar"
    if fmt == "csv":
        return csv_response(header, export_rows(db.session(), flt), f"{name}.csv")
    if fmt == "xlsx":
        count = db.session.scalar(select(func.count()).select_from(flt.query().subquery()))
        if (count or 0) > XLSX_MAX_ROWS:
            flash(
                _(
                    "Urvalet har fler poster än ett Excel-blad rymmer. Avgränsa urvalet "
                    "eller exportera CSV."
                ),
                "danger",
            )
            return redirect(url_for("audit.index", **_filter_args()))
        return xlsx_response(
            header,
            export_rows(db.session(), flt),
            f"{name}.xlsx",
            sheet=_("Granskningsspår"),
            widths=(8, 19, 18, 8, 15, 14, 18, 10, 30, 60, 20, 20, 40),
        )
    abort(404)
