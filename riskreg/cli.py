"""The `riskreg` command: Flask's CLI for this app plus riskreg's own commands (thin wrappers)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from riskreg.audit.cli import audit_group, harden_command
from riskreg.audit.context import acting
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.reminders import cli as reminders_cli
from riskreg.sampling.cli import sample_group

if TYPE_CHECKING:
    from riskreg.auth.models import User


def _create_app() -> Flask:
    from riskreg import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """riskreg: intern kontroll och riskregister."""


def _fail(message: str, details: list[str] | None = None) -> NoReturn:
    click.echo(f"Fel: {message}", err=True)
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
    Exits with status 2 and a Swedish message otherwise.
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
        _refuse(f"Ange --as ANVÄNDARNAMN: vem ”riskreg {command}” utförs för.")
    from riskreg.auth.services import find_user

    user = find_user(db.session(), username)
    if user is None or not user.active:
        _refuse(f"Det finns ingen aktiv användare som heter {username}.")
    if not allowed(user):
        _refuse(f"{user.username} ({user.role}) får inte köra ”riskreg {command}”.")
    return user


def _refuse(message: str) -> NoReturn:
    click.echo(f"Fel: {message}", err=True)
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


def register_commands(app: Flask) -> None:
    app.cli.add_command(users_group)
    app.cli.add_command(plan_group)
    app.cli.add_command(audit_group)
    from flask_migrate.cli import db as db_group

    db_group.add_command(harden_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(start_command)
    app.cli.add_command(sample_group)
    from riskreg.reports.cli import keys_group, reports_group

    app.cli.add_command(keys_group)
    app.cli.add_command(reports_group)
    app.cli.add_command(reminders_cli.reminders_group)
    from riskreg.storage import storage_group

    app.cli.add_command(storage_group)


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
            _fail(exc.message, exc.messages[1:])
        db.session.commit()
    click.echo(f"Skapade {user.username} ({user.role}).")


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
        _fail(f"Ingen användare heter {username}.")
    with acting_for(actor):
        try:
            set_password(db.session(), user, password)
        except ServiceError as exc:
            db.session.rollback()
            _fail(exc.message, exc.messages[1:])
        db.session.commit()
    click.echo("Lösenordet är bytt.")


# --- plans ------------------------------------------------------------------------------------


@click.group("plan", help="Internkontrollplaner.")
def plan_group() -> None:
    pass


@plan_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=int, required=True)
@click.option("--organisation", required=True)
@click.option("--create-units", is_flag=True, help="Skapa ansvariga enheter som inte finns.")
@click.option("--replace", is_flag=True, help="Ersätt planens befintliga risker.")
@as_user_option
@with_appcontext
def plan_import(
    file: Path,
    year: int,
    organisation: str,
    create_units: bool,
    replace: bool,
    as_user: str | None,
) -> None:
    """Importera en plan från CSV eller XLSX (allt eller inget)."""
    from riskreg.extensions import db
    from riskreg.plans.importing import import_plan_file

    actor = cli_actor("plan import", as_user)
    with acting_for(actor), file.open("rb") as stream:
        try:
            plan = import_plan_file(
                db.session(),
                stream,
                file.name,
                organisation=organisation,
                year=year,
                create_units=create_units,
                replace=replace,
                actor=actor,
                now=now_utc(),
            )
        except ServiceError as exc:
            db.session.rollback()
            _fail(exc.message, exc.messages)
        db.session.commit()
        click.echo(
            f"Importerade {len(plan.risks)} risker till {plan.organisation.name} {plan.year}."
        )


@plan_group.command("export")
@click.option("--year", type=int, required=True)
@click.option(
    "--organisation", default=None, help="Krävs om flera organisationer har en plan för året."
)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@as_user_option
@with_appcontext
def plan_export(
    year: int, organisation: str | None, fmt: str, output: Path | None, as_user: str | None
) -> None:
    """Exportera en plan till CSV eller XLSX (standard ut eller --output)."""
    from riskreg.extensions import db
    from riskreg.plans import exporter
    from riskreg.plans.importing import plan_export_rows
    from riskreg.plans.models import Organisation, Plan

    cli_actor("plan export", as_user)
    query = select(Plan).join(Plan.organisation).where(Plan.year == year)
    if organisation:
        query = query.where(Organisation.name == organisation)
    plans = db.session.scalars(query).all()
    if not plans:
        _fail(f"Ingen plan för {year}.")
    if len(plans) > 1:
        _fail("Flera organisationer har en plan för året; ange --organisation.")
    rows = plan_export_rows(plans[0])
    if fmt == "xlsx":
        data = exporter.plan_rows_to_xlsx(rows)
        if output is None:
            _fail("XLSX kräver --output FILE.")
        output.write_bytes(data)
        return
    text = exporter.plan_rows_to_csv(rows)
    if output is None:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    else:
        output.write_bytes(text.encode("utf-8"))


# --- demo and start ---------------------------------------------------------------------------

DEMO_LOGINS = "demo-logins.txt"


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Ladda demodata (enheter, användare, 2025 års plan). Kan köras flera gånger."""
    _load_demo_and_print()


def _load_demo_and_print() -> None:
    from riskreg.demo import load_demo
    from riskreg.extensions import db

    with acting(actor_name="demo"):
        try:
            result = load_demo(db.session(), now=now_utc())
        except ServiceError as exc:
            db.session.rollback()
            _fail(exc.message, exc.messages)
        db.session.commit()
    logins = Path(current_app.instance_path) / DEMO_LOGINS
    if result.created:
        fd = os.open(logins, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for username, password in result.passwords.items():
                handle.write(f"{username} {password}\n")
        click.echo("Demodata laddad.")
    else:
        click.echo("Demodata fanns redan; inget ändrat.")
    _print_logins(logins)


def _print_logins(logins: Path) -> None:
    from riskreg.admin.forms import ROLE_LABELS
    from riskreg.demo import USERS

    if not logins.exists():
        click.echo("Demoinloggningar saknas; sätt lösenord med `riskreg users set-password admin`.")
        return
    pairs = [line.split(" ", 1) for line in logins.read_text(encoding="utf-8").splitlines() if line]
    passwords = dict(pairs)
    roles = {username: (str(ROLE_LABELS[role]), name) for username, name, role, _ in USERS}
    if "admin" in passwords:
        click.secho(f"Administratör: användarnamn admin, lösenord {passwords['admin']}", bold=True)
    if passwords:
        click.echo("Demoinloggningar (användarnamn / lösenord: roll, namn):")
    for username, password in passwords.items():
        role, name = roles.get(username, ("?", ""))
        click.echo(f"  {username} / {password}: {role}, {name}")
    click.echo(f"(Lösenorden står i {logins}; de gäller tills någon byter dem.)")


@click.command("start")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def start_command(host: str, port: int) -> None:
    """Uppgradera databasen, ladda demodata, skriv ut inloggningen och starta servern."""
    from flask_migrate import upgrade

    upgrade()
    _load_demo_and_print()
    click.echo(f"riskreg körs på http://{host}:{port}/  (Ctrl+C avslutar)")
    # Flask ignores app.run() inside its own CLI, so serve with Werkzeug directly.
    from werkzeug.serving import run_simple

    # Flask hints current_app as the Flask it stands for; it is a werkzeug LocalProxy.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_simple(host, port, app, threaded=True)
