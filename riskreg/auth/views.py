from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import update
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.audit.trail import record
from riskreg.auth.forms import LanguageForm, LoginForm, PasswordChangeForm
from riskreg.auth.models import User
from riskreg.auth.passwords import verify_password
from riskreg.auth.services import authenticate, find_user, set_password
from riskreg.auth.throttle import Refusal, throttle
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.permissions import requires
from riskreg.sso.services import is_break_glass, password_login_allowed
from riskreg.sso.views import break_glass_users, logout_redirect
from riskreg.web import safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@requires(permissions.PUBLIC)
def login() -> str | Response | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        username = form.username.data or ""
        if not password_login_allowed(
            username, local_login=current_app.config["LOCAL_LOGIN"], break_glass=break_glass_users()
        ):
            # Passwords are off (single sign-on only) and this is no break-glass account.
            flash(_("Inloggning med lösenord är avstängd. Logga in med regionens konto."), "danger")
            return render_template("auth/login.html", form=form, **_login_page())
        limits = throttle()
        refusal = limits.refusal(username, request.remote_addr)
        if refusal is not None:
            # Refused before the password is looked at: right or wrong, the answer is the same.
            page = render_template(
                "auth/login.html", form=form, refusal=_refusal_text(refusal), **_login_page()
            )
            return page, 429, {"Retry-After": str(refusal.retry_after)}
        user = authenticate(db.session(), username, form.password.data or "")
        if user is not None and not current_app.config["LOCAL_LOGIN"]:
            # Right password, but only a local administrator may still use one.
            user = user if is_break_glass(user, break_glass_users()) else None
        if user is None:
            if limits.failed(username, request.remote_addr):
                _record_lockout(username)
            flash(_("Fel användarnamn eller lösenord."), "danger")
        else:
            limits.succeeded(username)
            # authenticate may have rehashed a hash made with old parameters.
            db.session.commit()
            # A fresh session on login: nothing an attacker planted before survives it.
            session.clear()
            # Permanent: the signed cookie expires PERMANENT_SESSION_LIFETIME after its last use.
            session.permanent = True
            login_user(user)
            session["locale"] = user.locale
            return redirect(safe_next(form.next.data) or url_for("dashboard.index"))
    return render_template("auth/login.html", form=form, **_login_page())


def _login_page() -> dict[str, object]:
    """What the login page offers: the single sign-on button, the password form, or both."""
    return {
        "sso_enabled": bool(current_app.config.get("OIDC_ISSUER")),
        "local_login": bool(current_app.config["LOCAL_LOGIN"]),
    }


def _refusal_text(refusal: Refusal) -> str:
    if refusal.reason == "account":
        return _(
            "För många misslyckade inloggningsförsök. Inloggningen är tillfälligt spärrad; "
            "försök igen om %(minutes)s min eller kontakta administratören.",
            minutes=refusal.minutes,
        )
    return _(
        "För många misslyckade inloggningar från din adress. Försök igen om %(minutes)s min.",
        minutes=refusal.minutes,
    )


def _record_lockout(username: str) -> None:
    """Put the lockout of a real account in its audit history (made-up names leave no trace)."""
    user = find_user(db.session(), username)
    if user is None:
        return
    record(
        db.session(),
        "lockout",
        "user",
        user.id,
        {"failed_logins": throttle().account_limit.amount},
    )
    db.session.commit()


@bp.route("/logout", methods=["POST"])
@requires(permissions.is_authenticated)
def logout() -> Response:
    # The session lives in a signed cookie, so clearing it here would leave any copy of the
    # cookie (a shared computer, a proxy log) valid. A new epoch ends every session of the
    # user, this one and copies alike (see load_user in riskreg/__init__.py).
    # A plain UPDATE: the epoch is no field of any form, so it must not bump the row version
    # (an administrator editing the user would see a false conflict); the trail gets a
    # "logout" entry instead of an anonymous epoch change.
    user_id = current_user.id
    # Signed on through the IdP: end that session there too (RP-initiated logout).
    idp_logout = logout_redirect(user_id)
    db.session.execute(
        update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1)
    )
    record(db.session(), "logout", "user", user_id)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Du är utloggad."), "info")
    return redirect(idp_logout or url_for("auth.login"))


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
    if current_user.sso_subject is not None:
        # Signed on through the region's IdP: there is no riskreg password to change.
        flash(_("Ditt lösenord hanteras i regionens inloggning, inte i riskreg."), "info")
        return redirect(url_for("dashboard.index"))
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data or ""):
            form.current_password.errors = [*form.current_password.errors, _("Fel lösenord.")]
        else:
            try:
                set_password(db.session(), current_user, form.new_password.data or "")
            except ServiceError as exc:
                db.session.rollback()
                form.new_password.errors = [*form.new_password.errors, *exc.messages]
            else:
                db.session.commit()
                # Keep this browser signed in under the new epoch; every other session ends.
                login_user(current_user._get_current_object())
                flash(_("Lösenordet är bytt. Andra inloggningar har loggats ut."), "success")
                return redirect(url_for("dashboard.index"))
    return render_template("auth/change_password.html", form=form)
