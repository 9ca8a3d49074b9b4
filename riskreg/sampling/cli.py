"""`riskreg sample ...`: thin commands over the sampling services."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from riskreg.i18n import gettext_now as _


@click.group("sample", help="Stickprov.")
def sample_group() -> None:
    pass


@sample_group.command("verify")
@click.argument("control_id", type=int)
@with_appcontext
def sample_verify(control_id: int) -> None:
    """Härled granskningens urval på nytt ur population och frö och jämför med det lagrade."""
    from riskreg.controls.models import Control
    from riskreg.extensions import db
    from riskreg.sampling.drawing import verify_draw
    from riskreg.sampling.lookups import current_draw

    control = db.session.get(Control, control_id)
    if control is None:
        click.echo(_("Fel: ingen granskning med id %(id)s.", id=control_id), err=True)
        sys.exit(1)
    draw = current_draw(db.session(), control)
    if draw is None or draw.status != "drawn":
        click.echo(
            _("Fel: granskningen ”%(title)s” har inget draget urval.", title=control.title),
            err=True,
        )
        sys.exit(1)
    result = verify_draw(db.session(), draw)
    db.session.rollback()
    if not result.ok:
        click.echo(
            _(
                "Urvalet stämmer INTE (dragning %(draw)s): %(text)s",
                draw=draw.id,
                text=result.message,
            ),
            err=True,
        )
        sys.exit(1)
    click.echo(result.message)
