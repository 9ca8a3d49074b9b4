"""What every feature's commands share: ``--as`` (whom a command acts for, checked against
riskreg.permissions.CLI_ON_BEHALF_OF), auditing as that user, and failing with a message."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click
from sqlalchemy import select

from riskreg.audit.context import acting
from riskreg.i18n import gettext_now as _

if TYPE_CHECKING:
    from riskreg.auth.models import User


def fail(message: str, details: list[str] | None = None) -> NoReturn:
    click.echo(_("Fel: %(text)s", text=message), err=True)
    for line in details or []:
        click.echo(f"  {line}", err=True)
    sys.exit(1)


AS_HELP = (
    "Användarnamnet som kommandot utförs för: behörigheten prövas som i webbgränssnittet och "
    "granskningsspåret visar användaren."
)


def as_user_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as", "as_user", metavar="ANVÄNDARNAMN", help=AS_HELP)(command)


def cli_actor(command: str, username: str | None, *, bootstrap: bool = False) -> User | None:
    """The active user a command acts for, allowed by riskreg.permissions.CLI_ON_BEHALF_OF.

    ``--as`` names whom the action is on behalf of, for the role rules and the audit trail; it
    is no login (whoever runs the command can read the database). With ``bootstrap``, a
    command may run without it while no active administrator exists (the first account).
    Exits with status 2 and a message (in the command language, RISKREG_LANGUAGE) otherwise.
    """
    from riskreg.auth.models import Role, User
    from riskreg.extensions import db
    from riskreg.permissions import CLI_ON_BEHALF_OF

    allowed = CLI_ON_BEHALF_OF[command]
    if not username:
        if bootstrap and not db.session.scalar(
            select(User.id).where(User.role == Role.ADMIN.value, User.active.is_(True)).limit(1)
        ):
            return None
        refuse(_("Ange --as ANVÄNDARNAMN: vem ”riskreg %(command)s” utförs för.", command=command))
    from riskreg.auth.services import find_user

    user = find_user(db.session(), username)
    if user is None or not user.active:
        refuse(_("Det finns ingen aktiv användare som heter %(username)s.", username=username))
    if not allowed(user):
        refuse(
            _(
                "%(username)s (%(role)s) får inte köra ”riskreg %(command)s”.",
                username=user.username,
                role=user.role,
                command=command,
            )
        )
    return user


def refuse(message: str) -> NoReturn:
    click.echo(_("Fel: %(text)s", text=message), err=True)
    sys.exit(2)


@contextmanager
def acting_for(user: User | None) -> Iterator[None]:
    """Audit the command's changes as the user it acts for (or as the command line)."""
    if user is None:
        with acting(actor_name="cli"):
            yield
    else:
        with acting(actor_id=user.id, actor_name=f"{user.username} (cli)"):
            yield
