from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.auth.forms import LanguageForm, LoginForm, PasswordChangeForm
from riskreg.auth.passwords import verify_password
from riskreg.auth.services import authenticate, set_password
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.permissions import requires

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: an absolute or scheme-relative URL could send users elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@requires(permissions.PUBLIC)
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data or "", form.password.data or "")
        if user is None:
            flash(_("Fel användarnamn eller lösenord."), "danger")
        else:
            # A fresh session on login: nothing an attacker planted before survives it.
            session.clear()
            login_user(user)
            session["locale"] = user.locale
            return redirect(safe_next(form.next.data) or url_for("dashboard.index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@requires(permissions.is_authenticated)
def logout() -> Response:
    logout_user()
    session.clear()
    flash(_("Du är utloggad."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@requires(permissions.PUBLIC)
def language() -> Response:
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
    return redirect(safe_next(form.next.data) or url_for("dashboard.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires(permissions.is_authenticated)
def change_password() -> str | Response:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data or ""):
            form.current_password.errors.append(_("Fel lösenord."))
        else:
            try:
                set_password(db.session, current_user, form.new_password.data or "")
            except ServiceError as exc:
                db.session.rollback()
                form.new_password.errors.extend(exc.messages)
            else:
                db.session.commit()
                # Keep this browser signed in under the new epoch; every other session ends.
                login_user(current_user._get_current_object())
                flash(_("Lösenordet är bytt. Andra inloggningar har loggats ut."), "success")
                return redirect(url_for("dashboard.index"))
    return render_template("auth/change_password.html", form=form)
