"""`riskreg audit verify|checkpoint` and `riskreg db harden` (thin wrappers)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _

__all__ = ["audit_group", "harden_command", "maybe_checkpoint"]


@click.group("audit", help="Granskningsspåret.")
def audit_group() -> None:
    pass


def _settings():  # type: ignore[no-untyped-def]
    from riskreg.audit.checkpoint import CheckpointSettings

    return CheckpointSettings.from_config(current_app.config, current_app.instance_path)


def _organisation() -> str | None:
    from sqlalchemy import select

    from riskreg.extensions import db
    from riskreg.plans.models import Organisation

    return db.session.scalar(select(Organisation.name).order_by(Organisation.id).limit(1))


@audit_group.command("verify")
@click.option(
    "--no-reconcile",
    is_flag=True,
    help="Hoppa över jämförelsen mellan tabellernas rader och spåret (bara kedjan).",
)
@with_appcontext
def audit_verify(no_reconcile: bool) -> None:
    """Kontrollera spåret: hashkedjan, numreringen, mot varje kontrollpunkt och mot tabellerna.

    Avslutar med kod 1 vid varje fynd.
    """
    from riskreg.audit.checkpoint import chain_problems, read_checkpoints
    from riskreg.audit.verify import (
        NOT_RECONCILED,
        describe,
        entry_count_estimate,
        verify_trail,
    )
    from riskreg.extensions import db

    settings = _settings()
    checkpoints = read_checkpoints(settings)
    if db.engine.dialect.name == "postgresql":
        # One snapshot for the chain and the tables: changes committed while verify runs must
        # not look like rows that disagree with the trail.
        db.session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    session = db.session()
    if sys.stderr.isatty():
        # A bar only for a person at a terminal: cron mail and CI logs get the summary alone.
        with click.progressbar(
            length=entry_count_estimate(session),
            label="Kontrollerar spåret",
            file=sys.stderr,
            show_pos=True,
        ) as bar:
            report = verify_trail(
                session, checkpoints, reconcile=not no_reconcile, progress=bar.update
            )
    else:
        report = verify_trail(session, checkpoints, reconcile=not no_reconcile)
    problems = [
        _("kontrollpunkten %(name)s: %(problem)s", name=c.name, problem=c.problem)
        for c in checkpoints
        if not c.usable
    ]
    problems += chain_problems(checkpoints)
    notes = [
        _("kontrollpunkten %(name)s: %(problem)s", name=c.name, problem=c.problem)
        for c in checkpoints
        if c.signature == "untrusted"
    ]
    lines = problems + list(describe(report))
    click.echo(
        _(
            "%(checked)s poster kontrollerade (sista: post %(last)s), %(checkpoints)s "
            "kontrollpunkter i %(directory)s",
            checked=report.checked,
            last=report.last_id or 0,
            checkpoints=report.checkpoints,
            directory=settings.directory,
        )
        + (
            _(", %(rows)s rader jämförda med spåret", rows=report.rows_compared)
            if report.reconciled
            else ""
        )
        + "."
    )
    usable = [c for c in checkpoints if c.usable]
    if usable:
        newest = max(usable, key=lambda c: c.created_at)
        click.echo(
            _(
                "Senaste kontrollpunkt: %(name)s (post %(entry)s).",
                name=newest.name,
                entry=newest.entry,
            )
        )
    if not checkpoints:
        click.echo(
            _(
                "Obs: inga kontrollpunkter. Utan dem kan poster i slutet av spåret tas bort, "
                "eller spåret skrivas om med omräknad kedja, utan att det syns; kör `riskreg "
                "audit checkpoint` dagligen."
            )
        )
    for note in notes:
        click.echo(_("Obs: %(note)s", note=note))
    if report.reconciled:
        click.echo(
            _(
                "Jämförs inte med spåret: %(tables)s",
                tables="; ".join(f"{k} ({_(v)})" for k, v in NOT_RECONCILED.items()),
            )
        )
    if lines:
        click.echo(
            _("Fel: granskningsspåret är inte intakt (%(count)s fynd):", count=len(lines)),
            err=True,
        )
        for line in lines:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    click.echo(
        _("Granskningsspåret är intakt: %(checked)s poster kontrollerade.", checked=report.checked)
    )


@audit_group.command("checkpoint")
@click.option("--no-email", is_flag=True, help="Skicka inte kontrollpunkten till revisorerna.")
@click.option(
    "--if-older-than-hours",
    type=float,
    default=None,
    metavar="TIMMAR",
    help="Skriv bara en ny om den senaste är äldre än så (för cron, som kan köra ofta).",
)
@with_appcontext
def audit_checkpoint(no_email: bool, if_older_than_hours: float | None) -> None:
    """Signera spårets senaste post (nummer och hash) och skriv den utanför databasen.

    Filen och signaturen hamnar i AUDIT_CHECKPOINT_DIR (standard instance/audit-checkpoints)
    och skickas till AUDIT_CHECKPOINT_EMAILS om sådana adresser är angivna.
    """
    from datetime import timedelta

    from riskreg.audit.checkpoint import due

    settings = _settings()
    now = now_utc()
    if if_older_than_hours is not None and not due(
        settings, now, timedelta(hours=if_older_than_hours)
    ):
        click.echo("Den senaste kontrollpunkten är ny nog; ingen ny skrevs.")
        return
    ok = _checkpoint(settings, email=not no_email)
    if not ok:
        sys.exit(1)


def _checkpoint(settings, *, email: bool, prefix: str = "Fel") -> bool:  # type: ignore[no-untyped-def]
    from riskreg.audit.checkpoint import email_checkpoint, write_checkpoint
    from riskreg.extensions import db

    try:
        json_path, sig_path, document = write_checkpoint(
            db.session(), settings, now=now_utc(), organisation=_organisation()
        )
    except ServiceError as exc:
        click.echo(f"{prefix}: ingen kontrollpunkt skrevs: {exc.message}", err=prefix == "Fel")
        return False
    finally:
        db.session.rollback()
    click.echo(
        f"Kontrollpunkt skriven: post {document['entry']}, hash {document['hash']}\n"
        f"  {json_path}\n  {sig_path}"
    )
    if email and settings.emails:
        error = email_checkpoint(settings, current_app.config, json_path, sig_path, document)
        if error:
            click.echo(
                f"{prefix}: kontrollpunkten kunde inte skickas med e-post: {error}",
                err=prefix == "Fel",
            )
            return False
        click.echo(f"Skickad till {', '.join(settings.emails)}.")
    return True


def maybe_checkpoint() -> None:
    """For scheduled runs (reminders): write a checkpoint when the newest is a day old.

    Never fails the caller's run: a missing key or mail problem is printed and that is all.
    """
    from riskreg.audit.checkpoint import due

    settings = _settings()
    if not current_app.config.get("AUDIT_CHECKPOINT_WITH_REMINDERS", True):
        return
    if due(settings, now_utc()):
        _checkpoint(settings, email=True, prefix="Obs")


@click.command("harden")
@click.option(
    "--app-role", required=True, metavar="ROLL", help="Rollen applikationen ansluter som."
)
@with_appcontext
def harden_command(app_role: str) -> None:
    """PostgreSQL: ge applikationens roll bara SELECT och INSERT på granskningsspåret.

    Körs som tabellernas ägare (den roll som kör migreringarna), efter varje `db upgrade`.
    """
    from riskreg.audit.harden import audit_privileges, harden
    from riskreg.extensions import db

    try:
        with db.engine.begin() as conn:
            result = harden(conn, app_role)
            privileges = audit_privileges(conn, app_role)
    except ServiceError as exc:
        click.echo(f"Fel: {exc.message}", err=True)
        sys.exit(2)
    for statement in result.statements:
        click.echo(f"  {statement};")
    allowed = ", ".join(p for p, ok in privileges.items() if ok)
    click.echo(
        f"Klart: {app_role} har behörighet till {result.tables} tabeller; på audit_entry bara "
        f"{allowed}."
    )
