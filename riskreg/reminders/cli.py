"""`riskreg reminders send`: one reminder run, for cron or a systemd timer (a thin wrapper)."""

from __future__ import annotations

import datetime as dt
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from riskreg.audit.context import acting
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.reminders.decide import STOCKHOLM


def parse_now(value: str) -> dt.datetime:
    """An ISO date-time; without an offset it is Stockholm local time ("2025-06-23T07:00")."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} är ingen ISO-tidpunkt (t.ex. 2025-06-23T07:00 eller 2025-06-23T05:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=STOCKHOLM)
    return parsed.astimezone(dt.UTC)


@click.group("reminders", help="Påminnelser om sista dagar.")
def reminders_group() -> None:
    pass


@reminders_group.command("send")
@click.option(
    "--dry-run", is_flag=True, help="Visa vad som skulle skickas; skicka och logga inget."
)
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO-DATETIME",
    help="Bestäm vad som förfaller som om klockan vore denna (utan tidszon: svensk tid). För test.",
)
@with_appcontext
def reminders_send(dry_run: bool, now_text: str | None) -> None:
    """Skicka de påminnelser som förfaller nu (en körning; säker att köra flera gånger).

    Avslutar med kod 1 om något sammandrag inte kunde skickas (det skickas vid nästa körning)
    och kod 2 om inställningarna är felaktiga.
    """
    from riskreg.extensions import db
    from riskreg.reminders.services import MailSettings, run_reminders

    at = now_utc()
    now = parse_now(now_text) if now_text else at
    with acting(actor_name="reminders"):
        try:
            report = run_reminders(
                db.session(),
                now=now,
                mail=MailSettings.from_config(current_app.config),
                dry_run=dry_run,
                at=at,
            )
        except ServiceError as exc:
            db.session.rollback()
            click.echo(_("Fel: %(text)s", text=exc.message), err=True)
            sys.exit(2)
    for line in report.lines():
        click.echo(line)
    if not dry_run:
        from riskreg.audit.cli import maybe_checkpoint

        maybe_checkpoint()  # the daily run also anchors the audit trail, if a day has passed
    if not report.ok:
        click.echo(
            _(
                "Fel: alla påminnelser kunde inte skickas%(error)s. Inget av det är loggat som "
                "skickat; nästa körning försöker igen.",
                error=f": {report.error}" if report.error else "",
            ),
            err=True,
        )
        sys.exit(1)
