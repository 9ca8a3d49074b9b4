"""`riskreg plan`: import and export internal control plans."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from riskreg.clitools import acting_for, as_user_option, cli_actor, fail
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _

if TYPE_CHECKING:
    pass


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
    from riskreg.plans.file_import import import_plan_file

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
            fail(exc.message, exc.messages)
        db.session.commit()
        click.echo(
            _(
                "Importerade %(count)s risker till %(organisation)s %(year)s.",
                count=len(plan.risks),
                organisation=plan.organisation.name,
                year=plan.year,
            )
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
    from riskreg.plans.file_import import plan_export_rows
    from riskreg.plans.models import Organisation, Plan

    cli_actor("plan export", as_user)
    query = select(Plan).join(Plan.organisation).where(Plan.year == year)
    if organisation:
        query = query.where(Organisation.name == organisation)
    plans = db.session.scalars(query).all()
    if not plans:
        fail(_("Ingen plan för %(year)s.", year=year))
    if len(plans) > 1:
        fail(_("Flera organisationer har en plan för året; ange --organisation."))
    rows = plan_export_rows(plans[0])
    if fmt == "xlsx":
        data = exporter.plan_rows_to_xlsx(rows)
        if output is None:
            fail(_("XLSX kräver --output FILE."))
        output.write_bytes(data)
        return
    text = exporter.plan_rows_to_csv(rows)
    if output is None:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    else:
        output.write_bytes(text.encode("utf-8"))
