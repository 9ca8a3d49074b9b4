"""`riskreg users`: accounts from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext

from riskreg.clitools import acting_for, as_user_option, cli_actor, fail
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _

if TYPE_CHECKING:
    pass


# --- users ------------------------------------------------------------------------------------


@click.group("users", help="Användare.")
def users_group() -> None:
    pass


@users_group.command("create")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True, help="Fullständigt namn.")
@click.option(
    "--role",
    type=click.Choice(["admin", "controller", "unit_member", "approver", "auditor"]),
    required=True,
)
@click.option("--unit", "units", multiple=True, help="Enhetskod; kan anges flera gånger.")
@click.option("--locale", type=click.Choice(["sv", "en"]), default="sv")
@click.password_option("--password", help="Lämnas den ute frågar kommandot.")
@as_user_option
@with_appcontext
def users_create(
    username: str,
    email: str,
    full_name: str,
    role: str,
    units: tuple[str, ...],
    locale: str,
    password: str,
    as_user: str | None,
) -> None:
    """Skapa en användare (den första administratören utan --as)."""
    from riskreg.auth.services import create_user, units_by_codes
    from riskreg.extensions import db

    actor = cli_actor("users create", as_user, bootstrap=True)
    with acting_for(actor):
        try:
            user = create_user(
                db.session(),
                username=username,
                email=email,
                full_name=full_name,
                password=password,
                role=role,
                units=units_by_codes(db.session(), units),
                locale=locale,
            )
        except ServiceError as exc:
            db.session.rollback()
            fail(exc.message, exc.messages[1:])
        db.session.commit()
    click.echo(_("Skapade %(username)s (%(role)s).", username=user.username, role=user.role))


@users_group.command("set-password")
@click.argument("username")
@click.password_option("--password")
@as_user_option
@with_appcontext
def users_set_password(username: str, password: str, as_user: str | None) -> None:
    """Byt lösenord för en användare (loggar ut alla dess sessioner)."""
    from riskreg.auth.services import find_user, set_password
    from riskreg.extensions import db

    actor = cli_actor("users set-password", as_user)
    user = find_user(db.session(), username)
    if user is None:
        fail(_("Ingen användare heter %(username)s.", username=username))
    with acting_for(actor):
        try:
            set_password(db.session(), user, password)
        except ServiceError as exc:
            db.session.rollback()
            fail(exc.message, exc.messages[1:])
        db.session.commit()
    click.echo(_("Lösenordet är bytt."))


# --- plans ------------------------------------------------------------------------------------
