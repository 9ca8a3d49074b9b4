from __future__ import annotations

from typing import TypedDict

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.admin.forms import ROLE_LABELS, MatrixForm, UnitForm, UserForm
from riskreg.audit.services import history_for
from riskreg.auth import services as auth_services
from riskreg.auth.models import Unit, User
from riskreg.auth.throttle import throttle
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.formtools import choices, required, saving
from riskreg.permissions import requires
from riskreg.risks.matrix import Level, Matrix, load_matrix, matrix_version, save_matrix
from riskreg.risks.models import MATRIX_SIZE
from riskreg.web import parse_version

bp = Blueprint("admin", __name__, url_prefix="/admin")

NONE = 0  # the "none" choice of optional select fields


class _UnitFields(TypedDict):
    """The unit form's values as create_unit and update_unit take them."""

    code: str
    name: str
    parent: Unit | None
    email: str | None
    manager: User | None


def _expected_version(form: UnitForm | UserForm) -> int:
    """The version the form was loaded with; anything else than digits counts as stale."""
    return parse_version(form.version.data)


def _unit_choices(form: UnitForm, unit: Unit | None) -> None:
    excluded = {u.id for u in unit.descendants_and_self()} if unit else set()
    units = db.session.scalars(select(Unit).order_by(Unit.code)).all()
    form.parent_id.choices = choices(
        [(NONE, "—")] + [(u.id, f"{u.code} – {u.name}") for u in units if u.id not in excluded]
    )
    users = db.session.scalars(select(User).where(User.active).order_by(User.full_name)).all()
    form.manager_id.choices = choices(
        [(NONE, "—")] + [(u.id, f"{u.full_name} ({u.username})") for u in users]
    )


def _history(object_type: str, obj: Unit | User | None) -> dict[str, object]:
    """The audit history for the page's object, for those who may read the trail."""
    if obj is None or not permissions.can_view_audit_trail(current_user):
        return {"history": None}
    return {"history": history_for(db.session(), object_type, obj.id)}


@bp.route("/units")
@requires(permissions.can_manage_units)
def units() -> str:
    all_units = db.session.scalars(select(Unit).order_by(Unit.code)).all()
    return render_template("admin/units.html", units=all_units)


@bp.route("/units/new", methods=["GET", "POST"])
@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
@requires(permissions.can_manage_units)
def edit_unit(unit_id: int | None = None) -> str | Response:
    unit = db.get_or_404(Unit, unit_id) if unit_id is not None else None
    form = UnitForm(obj=unit if request.method == "GET" else None)
    _unit_choices(form, unit)
    if request.method == "GET" and unit:
        form.parent_id.data = unit.parent_id or NONE
        form.manager_id.data = unit.manager_id or NONE
        form.version.data = str(unit.version)
    current = None
    if form.validate_on_submit():
        fields: _UnitFields = {
            "code": form.code.data or "",
            "name": form.name.data or "",
            "parent": db.session.get(Unit, form.parent_id.data) if form.parent_id.data else None,
            "email": form.email.data or None,
            "manager": db.session.get(User, form.manager_id.data) if form.manager_id.data else None,
        }
        with saving(form) as attempt:
            if unit is None:
                auth_services.create_unit(db.session(), **fields)
            else:
                auth_services.update_unit(
                    db.session(), unit, **fields, expected_version=_expected_version(form)
                )
        if attempt.saved:
            flash(_("Enheten är sparad."), "success")
            return redirect(url_for("admin.units"))
        if attempt.stale:
            # Both versions stay visible: the saved one above the form, the user's in it.
            # Saving again (with the new version) overwrites deliberately.
            current = db.session.get(Unit, unit_id)
            form.version.data = str(current.version) if current else ""
    return render_template(
        "admin/edit_unit.html", form=form, unit=unit, current=current, **_history("unit", unit)
    )


@bp.route("/users")
@requires(permissions.can_manage_users)
def users() -> str:
    all_users = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=all_users, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@requires(permissions.can_manage_users)
def edit_user(user_id: int | None = None) -> str | Response:
    user = db.get_or_404(User, user_id) if user_id is not None else None
    form = UserForm(obj=user if request.method == "GET" else None)
    form.unit_ids.choices = choices(
        (u.id, f"{u.code} – {u.name}") for u in db.session.scalars(select(Unit).order_by(Unit.code))
    )
    if request.method == "GET" and user:
        form.unit_ids.data = [u.id for u in user.units]
        form.version.data = str(user.version)
    if user:
        form.username.render_kw = {"readonly": True}
    current = None
    if form.validate_on_submit():
        units = list(db.session.scalars(select(Unit).where(Unit.id.in_(form.unit_ids.data or []))))
        with saving(form) as attempt:
            if user is None:
                if not form.password.data:
                    raise ServiceError(_("Ange ett lösenord för den nya användaren."))
                auth_services.create_user(
                    db.session(),
                    username=form.username.data or "",
                    email=form.email.data or "",
                    full_name=form.full_name.data or "",
                    password=form.password.data,
                    role=form.role.data or "",
                    units=units,
                    locale=form.locale.data or "sv",
                )
            else:
                auth_services.update_user(
                    db.session(),
                    user,
                    email=form.email.data or "",
                    full_name=form.full_name.data or "",
                    role=form.role.data or "",
                    units=units,
                    active=form.active.data,
                    locale=form.locale.data or "sv",
                    expected_version=_expected_version(form),
                )
                if form.password.data:
                    auth_services.set_password(db.session(), user, form.password.data)
        if attempt.saved:
            if user is not None and form.password.data:
                # A new password from the administrator also lifts a login lockout.
                throttle().clear_account(user.username)
            flash(_("Användaren är sparad."), "success")
            return redirect(url_for("admin.users"))
        if attempt.stale:
            current = db.session.get(User, user_id)
            form.version.data = str(current.version) if current else ""
    return render_template(
        "admin/edit_user.html",
        form=form,
        user=user,
        current=current,
        role_labels=ROLE_LABELS,
        **_history("user", user),
    )


@bp.route("/matrix", methods=["GET", "POST"])
@requires(permissions.can_manage_matrix)
def matrix() -> str | Response:
    current = load_matrix(db.session())
    form = MatrixForm()
    conflict = None
    if request.method == "GET":
        _fill_matrix_form(form, current)
        form.version.data = matrix_version(current)
    level_choices = choices((lv.position, lv.name) for lv in current.levels)
    for entry in form.cells:
        entry.form.level.choices = level_choices
    if form.validate_on_submit():
        with saving(form) as attempt:
            save_matrix(
                db.session(), _matrix_from_form(form), expected_version=form.version.data or ""
            )
        if attempt.saved:
            flash(_("Riskmatrisen är sparad."), "success")
            return redirect(url_for("admin.matrix"))
        if attempt.stale:
            conflict = current = load_matrix(db.session())
            form.version.data = matrix_version(current)
    cells = {
        (p, k): form.cells[(p - 1) * MATRIX_SIZE + (k - 1)]
        for p in range(1, MATRIX_SIZE + 1)
        for k in range(1, MATRIX_SIZE + 1)
    }
    return render_template(
        "admin/matrix.html",
        form=form,
        cells=cells,
        matrix=current,
        conflict=conflict,
        size=MATRIX_SIZE,
        field_errors=_matrix_errors(form),
    )


def _matrix_errors(form: MatrixForm) -> list[str]:
    """Every field error of the matrix form, saying where it is (cells have no visible label)."""
    messages: list[str] = []
    for index, entry in enumerate(form.levels, start=1):
        for field in entry.form:
            messages += [f"{_('Nivå')} {index}, {field.label.text}: {e}" for e in field.errors]
    for axis, entries in (
        (_("Sannolikhet"), form.probability_labels),
        (_("Konsekvens"), form.consequence_labels),
    ):
        for index, entry in enumerate(entries, start=1):
            messages += [f"{axis} {index}: {e}" for e in entry.form.label.errors]
    for index, entry in enumerate(form.cells):
        p, k = index // MATRIX_SIZE + 1, index % MATRIX_SIZE + 1
        for field in entry.form:
            messages += [f"{_('Ruta')} S{p} K{k}: {e}" for e in field.errors]
    return messages


def _fill_matrix_form(form: MatrixForm, matrix: Matrix) -> None:
    while len(form.levels):
        form.levels.pop_entry()
    for level in matrix.levels:
        form.levels.append_entry(
            {
                "name": level.name,
                "colour": level.colour,
                "min_value": level.min_value,
                "max_value": level.max_value,
            }
        )
    for i in range(MATRIX_SIZE):
        form.probability_labels[i].form.label.data = matrix.probability_labels[i + 1]
        form.consequence_labels[i].form.label.data = matrix.consequence_labels[i + 1]
    for p in range(1, MATRIX_SIZE + 1):
        for k in range(1, MATRIX_SIZE + 1):
            cell = form.cells[(p - 1) * MATRIX_SIZE + (k - 1)].form
            position, colour = matrix.cells[(p, k)]
            cell.level.data = position
            cell.colour.data = colour


def _matrix_from_form(form: MatrixForm) -> Matrix:
    levels = tuple(
        Level(
            i + 1,
            required(e.form.name.data).strip(),
            required(e.form.colour.data).lower(),
            required(e.form.min_value.data),
            required(e.form.max_value.data),
        )
        for i, e in enumerate(form.levels)
    )
    positions = {lv.position for lv in levels}
    cells = {}
    for p in range(1, MATRIX_SIZE + 1):
        for k in range(1, MATRIX_SIZE + 1):
            cell = form.cells[(p - 1) * MATRIX_SIZE + (k - 1)].form
            if cell.level.data not in positions:
                raise ServiceError(_("Varje ruta måste ha en nivå."))
            cells[(p, k)] = (cell.level.data, required(cell.colour.data).lower())
    return Matrix(
        levels=levels,
        probability_labels={
            i + 1: required(e.form.label.data).strip()
            for i, e in enumerate(form.probability_labels)
        },
        consequence_labels={
            i + 1: required(e.form.label.data).strip()
            for i, e in enumerate(form.consequence_labels)
        },
        cells=cells,
    )
