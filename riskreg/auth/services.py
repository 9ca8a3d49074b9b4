"""Accounts and units: plain functions that flush and never commit."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from riskreg.audit.trail import record
from riskreg.auth.models import Role, Unit, User
from riskreg.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    burn_verification_time,
    hash_password,
    needs_rehash,
    strength_problems,
    verify_password,
)
from riskreg.errors import ServiceError, StaleObject
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _


def password_problems(
    password: str, *, username: str = "", full_name: str = "", email: str = ""
) -> list[str]:
    """Every reason the password is refused (see riskreg.auth.passwords for the policy)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            _(
                "Lösenordet måste vara minst %(MIN_PASSWORD_LENGTH)s tecken.",
                MIN_PASSWORD_LENGTH=MIN_PASSWORD_LENGTH,
            )
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(
            _(
                "Lösenordet får vara högst %(MAX_PASSWORD_LENGTH)s tecken.",
                MAX_PASSWORD_LENGTH=MAX_PASSWORD_LENGTH,
            )
        )
    # Very short usernames ("ce") occur by chance in any long password; they reveal nothing.
    if len(username) >= 4 and username.lower() in password.lower():
        problems.append(_("Lösenordet får inte innehålla användarnamnet."))
    if not problems:
        problems.extend(strength_problems(password, (username, full_name, email)))
    return problems


def normalize_username(username: str) -> str:
    """The one form of a typed username, used everywhere (login, lockout, creation, CLI).

    Unicode NFC (an "å" typed as a + ring is the same name), without surrounding white space
    of any kind (spaces, tabs, no-break and ideographic spaces) or invisible format characters
    (zero-width space, byte-order mark). Case is kept for display; see username_key.
    """
    name = unicodedata.normalize("NFC", username)
    start, end = 0, len(name)
    while start < end and _ignorable(name[start]):
        start += 1
    while end > start and _ignorable(name[end - 1]):
        end -= 1
    return name[start:end]


def _ignorable(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp", "Cc")


def username_key(username: str) -> str:
    """What two usernames must share to be the same account: normalised and lower-cased (the
    database compares lower(username), so this is the same rule)."""
    return normalize_username(username).lower()


def find_user(session: Session, username: str) -> User | None:
    """The account a typed username means, whatever its padding, case or Unicode form."""
    return session.scalar(select(User).where(func.lower(User.username) == username_key(username)))


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = find_user(session, username)
    if user is None or not user.active:
        burn_verification_time(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        _rehash(session, user, password)
    return user


def _rehash(session: Session, user: User, password: str) -> None:
    """Store the password again with the current hash parameters (docs/security.md).

    A plain UPDATE, like the logout's epoch: the hash is no field of any form, so it must not
    bump the row version (an administrator editing the user would see a false conflict), and
    it changes only the hash this login verified, so a password set meanwhile is kept. The
    trail gets a "password_rehash" entry without the hash. The caller commits.
    """
    old = user.password_hash
    new = hash_password(password)
    result = session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == old)
        .values(password_hash=new)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        session.expire(user, ["password_hash"])
        record(session, "password_rehash", "user", user.id)


def units_by_codes(session: Session, codes: Iterable[str]) -> list[Unit]:
    wanted = {c.strip() for c in codes if c.strip()}
    if not wanted:
        return []
    units = list(session.scalars(select(Unit).where(Unit.code.in_(wanted))))
    missing = wanted - {u.code for u in units}
    if missing:
        raise ServiceError(_("Okänd enhet: %(value)s", value=", ".join(sorted(missing))))
    return units


def create_user(
    session: Session,
    *,
    username: str,
    email: str,
    full_name: str,
    password: str,
    role: Role | str,
    units: Iterable[Unit] = (),
    locale: str = "sv",
) -> User:
    role = Role(role)
    username = normalize_username(username)
    if not username:
        raise ServiceError(_("Ange ett användarnamn."))
    problems = password_problems(password, username=username, full_name=full_name, email=email)
    if problems:
        raise ServiceError(problems[0], messages=problems)
    _check_unique_user(session, username, email)
    user = User(
        username=username,
        email=email.strip().lower(),
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        role=role.value,
        locale=locale,
        units=list(units),
    )
    session.add(user)
    _flush_or_explain(session, _("Användarnamnet eller e-postadressen finns redan."))
    return user


def update_user(
    session: Session,
    user: User,
    *,
    email: str,
    full_name: str,
    role: Role | str,
    units: Iterable[Unit],
    active: bool,
    locale: str,
    expected_version: int | None = None,
) -> User:
    _check_version(user, expected_version)
    _check_unique_user(session, user.username, email, exclude_id=user.id)
    units = list(units)
    role = Role(role).value
    # A change of what the user may do ends every session they have: a deactivated and
    # reactivated user's old cookies stay dead, and a narrower role or fewer units take
    # effect now, not at their next login.
    if (
        active != user.active
        or role != user.role
        or {u.id for u in units} != {u.id for u in user.units}
    ):
        user.session_epoch += 1
    user.email = email.strip().lower()
    user.full_name = full_name.strip()
    user.role = role
    user.units = units
    user.active = active
    user.locale = locale
    _flush_or_explain(session, _("E-postadressen används redan av en annan användare."))
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Set a new password and end every other session of the user (their epoch changes)."""
    problems = password_problems(
        password, username=user.username, full_name=user.full_name, email=user.email
    )
    if problems:
        raise ServiceError(problems[0], messages=problems)
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    _flush_or_explain(session, _("Lösenordet kunde inte sparas."))


def _check_unique_user(
    session: Session, username: str, email: str, exclude_id: int | None = None
) -> None:
    query = select(User).where(
        (func.lower(User.username) == username_key(username))
        | (User.email == email.strip().lower())
    )
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    if session.scalar(query) is not None:
        raise ServiceError(_("Användarnamnet eller e-postadressen finns redan."))


def create_unit(
    session: Session,
    *,
    code: str,
    name: str,
    parent: Unit | None = None,
    email: str | None = None,
    manager: User | None = None,
) -> Unit:
    code = code.strip()
    if session.scalar(select(Unit).where(func.lower(Unit.code) == code.lower())):
        raise ServiceError(_("Enhetskoden %(code)s finns redan.", code=code))
    unit = Unit(code=code, name=name.strip(), parent=parent, email=email or None, manager=manager)
    session.add(unit)
    _flush_or_explain(session, _("Enhetskoden %(code)s finns redan.", code=code))
    return unit


def update_unit(
    session: Session,
    unit: Unit,
    *,
    code: str,
    name: str,
    parent: Unit | None,
    email: str | None,
    manager: User | None,
    expected_version: int | None = None,
) -> Unit:
    _check_version(unit, expected_version)
    code = code.strip()
    clash = session.scalar(
        select(Unit).where(func.lower(Unit.code) == code.lower(), Unit.id != unit.id)
    )
    if clash:
        raise ServiceError(_("Enhetskoden %(code)s finns redan.", code=code))
    if parent is not None and parent in unit.descendants_and_self():
        raise ServiceError(_("En enhet kan inte ligga under sig själv eller sina underenheter."))
    unit.code = code
    unit.name = name.strip()
    unit.parent = parent
    unit.email = email or None
    unit.manager = manager
    _flush_or_explain(session, _("Enhetskoden %(code)s finns redan.", code=code))
    return unit


STALE_MESSAGE = N_(
    "Någon annan har sparat ändringar sedan du öppnade formuläret. "
    "Dina ändringar har inte sparats; jämför med den aktuella versionen nedan."
)


def _check_version(obj: User | Unit, expected_version: int | None) -> None:
    """Optimistic locking: the form carries the version it was loaded with."""
    if expected_version is not None and obj.version != expected_version:
        raise StaleObject(_(STALE_MESSAGE))


def _flush_or_explain(session: Session, message: str) -> None:
    """Turn a constraint violation (a concurrent insert the pre-check missed) into a message,
    and a concurrent save between our read and our write (the version column) into a conflict.

    The caller rolls the whole request back on ServiceError, so no savepoint is needed.
    """
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleObject(_(STALE_MESSAGE)) from exc
    except IntegrityError as exc:
        raise ServiceError(message) from exc
