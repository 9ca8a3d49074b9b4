"""`riskreg keys init`, `riskreg reports export DIR` and `riskreg reports verify FILE.pdf`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from riskreg.cli import as_user_option, cli_actor
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.reports.services import SigningSettings


def _settings() -> SigningSettings:
    return SigningSettings.from_config(current_app.config, current_app.instance_path)


def _fail(message: str) -> None:
    click.echo(f"Fel: {message}", err=True)
    sys.exit(1)


# --- keys -------------------------------------------------------------------------------------


@click.group("keys", help="Signeringsnycklar för rapporterna.")
def keys_group() -> None:
    pass


@keys_group.command("init")
@click.option(
    "--organisation",
    default=None,
    help="Organisationens namn i certifikaten (standard: den första organisationen i databasen).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Ersätt befintliga nycklar (äldre rapporter kedjar "
    "då inte längre till den nya ca.pem; spara den gamla).",
)
@with_appcontext
def keys_init(organisation: str | None, force: bool) -> None:
    """Skapa en utvecklings-CA och ett signeringscertifikat i instance/keys/."""
    from riskreg.extensions import db
    from riskreg.plans.models import Organisation
    from riskreg.reports.services import KEYS_DIR, certificate_organisation, ensure_dev_keys

    if organisation is None:
        first = db.session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
        organisation = first.name if first is not None else "riskreg"
    keys_dir = Path(current_app.instance_path) / KEYS_DIR
    try:
        keys = ensure_dev_keys(keys_dir, organisation, force=force)
    except (ServiceError, FileExistsError) as exc:
        _fail(str(exc))
    if not keys.created:
        click.echo(f"Nycklarna finns redan i {keys_dir}; inget ändrat (--force ersätter dem).")
    else:
        named = certificate_organisation(organisation)
        click.echo(f"Skapade utvecklingsnycklar för {named} i {keys_dir}:")
        click.echo(f"  signeringsnyckel (PKCS#12): {keys.pkcs12_path}")
        click.echo(f"  lösenfras (läsbar bara för ägaren, 0600): {keys.passphrase_path}")
        click.echo(f"  rotcertifikat att lita på vid verifiering: {keys.ca_path}")
    settings = _settings()
    if settings.pkcs12_path != keys.pkcs12_path:
        click.echo(
            f"Obs: konfigurationen signerar med {settings.pkcs12_path} (SIGNING_PKCS12), "
            "inte med utvecklingsnyckeln."
        )
    click.echo(
        "I produktion: sätt SIGNING_PKCS12, SIGNING_PASSPHRASE och SIGNING_TRUST_ROOTS till "
        "regionens eget certifikat i instance/config.py."
    )


# --- reports ----------------------------------------------------------------------------------


@click.group("reports", help="Signerade rapporter.")
def reports_group() -> None:
    pass


@reports_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@as_user_option
@with_appcontext
def reports_export(directory: Path, as_user: str | None) -> None:
    """Kopiera varje lagrad, medsignerad rapport till DIRECTORY (för arkivering)."""
    from riskreg.extensions import db
    from riskreg.reports.services import export_reports

    cli_actor("reports export", as_user)
    try:
        exported = export_reports(db.session, _settings(), directory)
    except ServiceError as exc:
        _fail(exc.message)
    written = sum(1 for e in exported if e.written)
    click.echo(
        f"{len(exported)} signerade rapporter i {directory} ({written} nya, "
        f"{len(exported) - written} fanns redan). Kontrollsummor i {directory / 'SHA256SUMS'}."
    )


@reports_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def reports_verify(file: Path) -> None:
    """Ge ett omdöme om FILE: är den exakt en rapport som riskreg har utfärdat?

    \b
    Slutkoder:
      0  äkta: exakt den slutliga, medsignerade rapporten som riskreg har arkiverat
      1  filen kunde inte kontrolleras (finns inte, är ingen PDF)
      2  ändrad efter signeringen
      3  inte utfärdad av riskreg (oförändrade signaturer, men ingen rapport från riskreg)
      4  trasig (går inte att läsa, eller en signatur är skadad)
      5  tidigare version av en rapport (t.ex. utan medsignaturen)
      6  väntar på medsignatur
      7  osignerad
    """
    from riskreg.extensions import db
    from riskreg.reports.services import verify_upload

    try:
        with _quiet_pyhanko():
            outcome = verify_upload(
                db.session, file.read_bytes(), now=now_utc(), settings=_settings()
            )
    except ServiceError as exc:
        _fail(exc.message)
    result = outcome.verification
    click.echo(f"Resultat: {result.label}")
    click.echo(result.headline)
    for sig in result.signatures:
        who = sig.signer_name or sig.field_name
        click.echo(
            f"  [{sig.field_name}] {who}: signerat innehåll {_content_word(sig)}, "
            f"certifikat betrott: {_yes(sig.trusted)}, "
            f"omfattar hela filen: {_yes(sig.covers_whole_document)}, "
            f"senare ändringar tillåtna: {_yes(sig.docmdp_ok)}"
        )
    for message in result.details:
        click.echo(f"  {message}")
    if not outcome.trust_configured:
        click.echo("  Inga betrodda rotcertifikat är konfigurerade (SIGNING_TRUST_ROOTS).")
    click.echo(f"SHA-256: {result.sha256}")
    sys.exit(result.exit_code)


@contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """pyHanko logs validation failures with tracebacks; the verdict says it in words."""
    loggers = [logging.getLogger(name) for name in ("pyhanko", "pyhanko_certvalidator")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _content_word(sig: Any) -> str:
    if not sig.readable:
        return "GÅR INTE ATT LÄSA"
    if not sig.intact:
        return "ÄNDRAT"
    if not sig.valid:
        return "SIGNATURVÄRDET STÄMMER INTE"
    return "oförändrat"


def _yes(value: bool | None) -> str:
    if value is None:
        return "okänt"
    return "ja" if value else "NEJ"
