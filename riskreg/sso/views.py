"""Single sign-on routes and the periodic check of signed-on sessions.

Registered only when OIDC_ISSUER is set (init_app); otherwise riskreg behaves as before.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from riskreg import permissions
from riskreg.audit.context import acting
from riskreg.audit.trail import record
from riskreg.auth.models import User
from riskreg.config import ConfigError
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.permissions import requires
from riskreg.sso import client
from riskreg.sso.mapping import GroupMapping, load_mapping
from riskreg.sso.models import SsoSession
from riskreg.sso.services import (
    confirmed,
    due_for_check,
    end_sessions,
    identity_from_claims,
    open_session,
    sign_in,
)
from riskreg.web import safe_next

log = logging.getLogger(__name__)

bp = Blueprint("sso", __name__)

#: The Flask session key holding the SsoSession id (the only SSO thing in the cookie).
SESSION_KEY = "sso_session"
_NEXT_KEY = "sso_next"


def init_app(app: Flask) -> None:
    """Check the SSO settings; when OIDC_ISSUER is set, add the routes and the session check."""
    config = app.config
    if not config.get("OIDC_ISSUER"):
        if not config.get("LOCAL_LOGIN", True):
            raise ConfigError("LOCAL_LOGIN=off needs single sign-on (OIDC_ISSUER) to be set up.")
        return
    if not config.get("OIDC_CLIENT_ID"):
        raise ConfigError("OIDC_ISSUER is set but OIDC_CLIENT_ID is not.")
    app.extensions["riskreg_sso_mapping"] = load_mapping(config.get("OIDC_GROUP_MAPPING"))
    client.init_client(app)
    app.register_blueprint(bp)
    _allow_logout_form_to_idp(app)


def _allow_logout_form_to_idp(app: Flask) -> None:
    """Let the logout form lead on to the IdP's end-session page.

    Browsers apply the page's CSP form-action to the redirects that follow a form POST too:
    with form-action 'self' alone Chromium stops the logout's redirect to the IdP. Its
    origin (Entra ID: https://login.microsoftonline.com) is added; nothing else changes.
    """
    parts = urlsplit(str(app.config["OIDC_ISSUER"]))
    origin = f"{parts.scheme}://{parts.netloc}"

    # Registered before riskreg.web's security_headers hook; after_request hooks run in
    # reverse order of registration, so this one runs after it and sees its header.
    @app.after_request
    def idp_form_action(response: Response) -> Response:
        policy = response.headers.get("Content-Security-Policy")
        if policy and "form-action 'self';" in policy:
            response.headers["Content-Security-Policy"] = policy.replace(
                "form-action 'self';", f"form-action 'self' {origin};"
            )
        return response


def break_glass_users() -> list[str]:
    return [n.strip() for n in str(current_app.config["BREAK_GLASS_USERS"] or "").split(",")]


def _mapping() -> GroupMapping:
    mapping: GroupMapping = current_app.extensions["riskreg_sso_mapping"]
    return mapping


@bp.route("/sso/login")
@requires(permissions.PUBLIC)
def login() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    session[_NEXT_KEY] = safe_next(request.args.get("next")) or ""
    try:
        return client.start()
    except client.SignOnFailed as exc:
        log.warning("SSO start failed: %s", exc.reason)
        flash(_("Inloggningstjänsten svarar inte. Försök igen om en stund."), "danger")
        return redirect(url_for("auth.login"))


@bp.route("/sso/callback")
@requires(permissions.PUBLIC)
def callback() -> Response:
    next_url = session.pop(_NEXT_KEY, "") or ""
    try:
        tokens = client.finish()
        identity = identity_from_claims(tokens.claims, current_app.config["OIDC_USERNAME_CLAIM"])
    except client.SignOnFailed as exc:
        return _refused(exc.reason, _("Inloggningen misslyckades. Försök igen."))
    except ServiceError as exc:
        return _refused(str(exc), str(exc))
    actor = f"{identity.username} (SSO)"
    user_id: int | str = "*"
    try:
        with acting(actor_name=actor):
            user = sign_in(db.session(), identity, _mapping(), break_glass=break_glass_users())
        user_id = user.id
        with acting(actor_id=user.id, actor_name=actor):
            row = open_session(
                db.session(),
                user,
                id_token=tokens.id_token,
                refresh_token=tokens.refresh_token,
                now=now_utc(),
                idle_limit=current_app.permanent_session_lifetime
                + timedelta(seconds=int(current_app.config["OIDC_RECHECK_SECONDS"])),
            )
    except ServiceError as exc:
        db.session.rollback()
        return _refused(f"{identity.username}: {exc}", str(exc), actor=actor, user_id=user_id)
    db.session.commit()
    # A fresh session on sign-on, as for a password login (riskreg/auth/views.py).
    session.clear()
    session.permanent = True
    login_user(user)
    session["locale"] = user.locale
    session[SESSION_KEY] = row.id
    return redirect(safe_next(next_url) or url_for("dashboard.index"))


def _refused(
    reason: str, message: str, actor: str | None = None, user_id: int | str = "*"
) -> Response:
    """A sign-on that did not pass: logged with its reason, the user told without details.

    Only refusals of an identity the IdP vouched for (a valid ID token: no role, a clash) go
    into the audit trail; anyone can call /sso/callback with made-up values, and those stay
    in the application log, as made-up usernames at the password login leave no trace.
    """
    log.warning("SSO sign-on refused: %s", reason)
    if actor is not None:
        with acting(actor_name=actor):
            record(db.session(), "sso_refused", "user", user_id, {"reason": reason[:500]})
        db.session.commit()
    flash(message, "danger")
    return redirect(url_for("auth.login"))


@bp.before_app_request
def check_session() -> Response | None:
    """Every OIDC_RECHECK_SECONDS, ask the IdP whether a signed-on user may still sign in.

    A refusal ends every riskreg session of the user at this request (fail closed: an IdP
    that cannot be reached cannot vouch for anyone either).
    """
    sid = session.get(SESSION_KEY)
    if not sid or request.endpoint == "static" or not current_user.is_authenticated:
        return None
    row = db.session.get(SsoSession, sid)
    now = now_utc()
    interval = int(current_app.config["OIDC_RECHECK_SECONDS"])
    if row is not None and row.user_id == current_user.id:
        if not due_for_check(row, now=now, interval_seconds=interval):
            return None
        try:
            tokens = client.refresh(row.refresh_token, current_user.sso_subject or "")
            # Changed groups take effect at the check; no role any more ends the session.
            user = _reapply(tokens.claims) if tokens.claims else None
        except (client.SignOnFailed, ServiceError) as exc:
            db.session.rollback()
            reason = exc.reason if isinstance(exc, client.SignOnFailed) else str(exc)
            log.warning("SSO check refused %s: %s", current_user.username, reason)
        else:
            confirmed(
                db.session(),
                row,
                refresh_token=tokens.refresh_token,
                id_token=tokens.id_token or None,
                now=now,
            )
            db.session.commit()
            if user is not None:
                # Changed groups gave a new epoch (every other session ends): keep this one.
                login_user(user)
            return None
    user_id = current_user.id
    with acting(actor_id=user_id, actor_name=f"{current_user.username} (SSO)"):
        end_sessions(db.session(), user_id, reason="sso_session_ended")
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Din inloggning gäller inte längre. Logga in igen."), "warning")
    return redirect(url_for("auth.login"))


def _reapply(claims: dict[str, object]) -> User:
    """Bring the user up to date with a refreshed ID token's claims (as at sign-on)."""
    identity = identity_from_claims(claims, current_app.config["OIDC_USERNAME_CLAIM"])
    with acting(actor_name=f"{identity.username} (SSO)"):
        return sign_in(db.session(), identity, _mapping(), break_glass=break_glass_users())


def logout_redirect(user_id: int) -> str | None:
    """On logout: end the SSO session here and return the IdP's end-session URL (or None)."""
    sid = session.get(SESSION_KEY)
    if not sid or not current_app.config.get("OIDC_ISSUER"):
        return None
    row = db.session.get(SsoSession, sid)
    if row is None or row.user_id != user_id:
        return None
    target = client.logout_url(row.id_token, url_for("auth.login", _external=True))
    db.session.delete(row)
    return target
