"""The `riskreg` command: Flask's CLI for this app plus riskreg's own commands (thin wrappers)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from riskreg.audit.cli import audit_group, harden_command
from riskreg.audit.context import acting
from riskreg.clitools import fail
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.reminders import cli as reminders_cli
from riskreg.sampling.cli import sample_group


def _create_app() -> Flask:
    from riskreg import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """riskreg: intern kontroll och riskregister."""


def register_commands(app: Flask) -> None:
    from riskreg.auth.cli import users_group
    from riskreg.plans.cli import plan_group

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
            fail(exc.message, exc.messages)
        db.session.commit()
    logins = Path(current_app.instance_path) / DEMO_LOGINS
    if result.created:
        fd = os.open(logins, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for username, password in result.passwords.items():
                handle.write(f"{username} {password}\n")
        click.echo(_("Demodata laddad."))
    else:
        click.echo(_("Demodata fanns redan; inget ändrat."))
    _print_logins(logins)


def _print_logins(logins: Path) -> None:
    from riskreg.admin.forms import ROLE_LABELS
    from riskreg.demo import USERS

    if not logins.exists():
        click.echo(
            _("Demoinloggningar saknas; sätt lösenord med `riskreg users set-password admin`.")
        )
        return
    pairs = [line.split(" ", 1) for line in logins.read_text(encoding="utf-8").splitlines() if line]
    passwords = dict(pairs)
    roles = {username: (str(ROLE_LABELS[role]), name) for username, name, role, _ in USERS}
    if "admin" in passwords:
        click.secho(
            _(
                "Administratör: användarnamn admin, lösenord %(password)s",
                password=passwords["admin"],
            ),
            bold=True,
        )
    if passwords:
        click.echo(_("Demoinloggningar (användarnamn / lösenord: roll, namn):"))
    for username, password in passwords.items():
        role, name = roles.get(username, ("?", ""))
        click.echo(f"  {username} / {password}: {role}, {name}")
    click.echo(_("(Lösenorden står i %(path)s; de gäller tills någon byter dem.)", path=logins))


@click.command("start")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def start_command(host: str, port: int) -> None:
    """Uppgradera databasen, ladda demodata, skriv ut inloggningen och starta servern."""
    from flask_migrate import upgrade

    upgrade()
    _load_demo_and_print()
    click.echo(_("riskreg körs på %(url)s  (Ctrl+C avslutar)", url=f"http://{host}:{port}/"))
    # Flask ignores app.run() inside its own CLI, so serve with Werkzeug directly.
    from werkzeug.serving import run_simple

    # Flask hints current_app as the Flask it stands for; it is a werkzeug LocalProxy.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_simple(host, port, app, threaded=True)
