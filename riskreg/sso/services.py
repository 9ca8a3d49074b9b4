"""Sign-on rules: who an identity from the IdP becomes in riskreg. Flush, never commit.

No HTTP here: riskreg.sso.client talks to the IdP and hands over a checked Identity.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from riskreg.audit.trail import record
from riskreg.auth.models import Unit, User
from riskreg.auth.services import username_key
from riskreg.errors import ServiceError
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.sso.mapping import GroupMapping, forvaltning_for, place
from riskreg.sso.models import SsoSession

#: No password verifies against this (it is no argon2 hash): SSO users have no local password.
NO_PASSWORD = "!sso"  # noqa: S105  # nosec B105

NOT_ALLOWED = N_(
    "Ditt konto hos regionen ger ingen behörighet i riskreg. Kontakta administratören."
)


@dataclass(frozen=True)
class Identity:
    """What a verified ID token says about the user."""

    subject: str
    username: str
    email: str
    full_name: str
    groups: tuple[str, ...]


def identity_from_claims(claims: Mapping[str, Any], username_claim: str) -> Identity:
    """The identity in checked ID token claims (Entra ID: oid-based sub, UPN, name, groups)."""
    subject = str(claims.get("sub") or "")
    username = str(claims.get(username_claim) or claims.get("email") or "").strip()
    if not subject or not username:
        raise ServiceError(_("Identitetsleverantören skickade inget användarnamn."))
    email = str(claims.get("email") or (username if "@" in username else "")).strip().lower()
    groups = claims.get("groups") or []
    if not isinstance(groups, list):
        groups = [groups]
    return Identity(
        subject=subject,
        username=username[:80],
        email=email or f"{subject}@sso.invalid",
        full_name=str(claims.get("name") or username)[:200],
        groups=tuple(str(g) for g in groups),
    )


def sign_in(
    session: Session,
    identity: Identity,
    mapping: GroupMapping,
    *,
    break_glass: Collection[str] = (),
) -> User:
    """The riskreg user for this identity: created on first sign-on, brought up to date
    (name, e-mail, role, units) on every one. Raises ServiceError if the groups give no role.

    A local account with the same username and no subject yet becomes this identity's account
    (a region moving its existing users to SSO); break-glass accounts never do.
    """
    placement = place(identity.groups, mapping)
    forvaltning_for(identity.groups, mapping)  # hook: no förvaltning level yet
    if placement.role is None:
        raise ServiceError(_(NOT_ALLOWED))
    user = session.scalar(select(User).where(User.sso_subject == identity.subject))
    if user is None:
        user = session.scalar(
            select(User).where(func.lower(User.username) == username_key(identity.username))
        )
        if user is not None and (
            user.sso_subject is not None or username_key(user.username) in _keys(break_glass)
        ):
            raise ServiceError(
                _("Användarnamnet %(name)s används redan av ett annat konto.", name=user.username)
            )
    clash = select(User.id).where(User.email == identity.email)
    if session.scalar(clash if user is None else clash.where(User.id != user.id)) is not None:
        raise ServiceError(
            _("E-postadressen %(email)s används redan av ett annat konto.", email=identity.email)
        )
    if user is None:
        user = User(
            username=identity.username,
            password_hash=NO_PASSWORD,
            sso_subject=identity.subject,
            email=identity.email,
            full_name=identity.full_name,
            role=placement.role.value,
        )
        session.add(user)
    elif not user.active:
        raise ServiceError(_("Kontot är avstängt i riskreg. Kontakta administratören."))
    units = list(
        session.scalars(select(Unit).where(Unit.code.in_(placement.unit_codes)).order_by(Unit.code))
    )
    # As update_user: a change of what the user may do ends every session they have (the
    # caller keeps the current browser signed in under the new epoch).
    if user.id is not None and (
        user.role != placement.role.value or {u.id for u in user.units} != {u.id for u in units}
    ):
        user.session_epoch += 1
    # Only what changed is assigned, so an unchanged sign-on writes no audit entries.
    wanted: dict[str, Any] = {
        "sso_subject": identity.subject,
        "email": identity.email,
        "full_name": identity.full_name,
        "role": placement.role.value,
    }
    for name, value in wanted.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
    if {u.id for u in user.units} != {u.id for u in units}:
        user.units = units
    session.flush()
    return user


def _keys(usernames: Collection[str]) -> set[str]:
    return {username_key(name) for name in usernames if name.strip()}


def password_login_allowed(
    username: str, *, local_login: bool, break_glass: Collection[str]
) -> bool:
    """May this username try a password? Always, unless LOCAL_LOGIN is off: then only the
    break-glass accounts (and is_break_glass decides after the password is checked)."""
    return local_login or username_key(username) in _keys(break_glass)


def is_break_glass(user: User, break_glass: Collection[str]) -> bool:
    """A local administrator who may still use a password when local login is off."""
    return (
        user.role == "admin"
        and user.sso_subject is None
        and username_key(user.username) in _keys(break_glass)
    )


def open_session(
    session: Session,
    user: User,
    *,
    id_token: str,
    refresh_token: str | None,
    now: datetime,
    idle_limit: timedelta,
) -> SsoSession:
    """Keep the tokens of a new sign-on server-side; the cookie gets only the row's id.

    Rows unchecked for longer than ``idle_limit`` belong to cookies that have expired (a
    session in use is checked every few minutes): their tokens are deleted here, so the table
    holds live sessions only.
    """
    session.execute(delete(SsoSession).where(SsoSession.checked_at < now - idle_limit))
    row = SsoSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        id_token=id_token,
        refresh_token=refresh_token,
        checked_at=now,
        created_at=now,
    )
    session.add(row)
    record(session, "sso_login", "user", user.id)
    return row


def due_for_check(row: SsoSession, *, now: datetime, interval_seconds: int) -> bool:
    checked = row.checked_at
    if checked.tzinfo is None:  # stored as UTC; a driver may hand it back naive
        checked = checked.replace(tzinfo=UTC)
    return now - checked >= timedelta(seconds=interval_seconds)


def confirmed(
    session: Session,
    row: SsoSession,
    *,
    refresh_token: str | None,
    id_token: str | None,
    now: datetime,
) -> None:
    """The IdP still lets the user in: keep its newest tokens and the time of the check."""
    row.checked_at = now
    if refresh_token:
        row.refresh_token = refresh_token
    if id_token:
        row.id_token = id_token
    session.flush()


def end_sessions(session: Session, user_id: int, *, reason: str) -> None:
    """The IdP refused the user (or they logged out): every riskreg session of theirs ends.

    A new epoch ends every cookie of the user (see load_user in riskreg/__init__.py); a plain
    UPDATE, as the logout does, so no form sees a false conflict.
    """
    session.execute(
        update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1)
    )
    session.execute(delete(SsoSession).where(SsoSession.user_id == user_id))
    record(session, reason, "user", user_id)
