"""`riskreg keys init`, `riskreg reports export DIR` and `riskreg reports verify FILE.pdf`."""

from __future__ import annotations

import sys
from pathlib import Path

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
    """Kontrollera signaturerna i FILE och om riskreg har utfärdat filen.

    Slutkod 0 när alla signaturer är giltiga och betrodda, 1 annars.
    """
    from riskreg.extensions import db
    from riskreg.reports.services import verify_upload

    try:
        outcome = verify_upload(db.session, file.read_bytes(), now=now_utc(), settings=_settings())
    except ServiceError as exc:
        _fail(exc.message)
    result = outcome.result
    click.echo(f"Resultat: {result.verdict.value}")
    for message in result.messages:
        click.echo(f"  {message}")
    for sig in result.signatures:
        click.echo(
            f"  [{sig.field_name}] oförändrad: {_yes(sig.intact)}, giltig: {_yes(sig.valid)}, "
            f"betrodd: {_yes(sig.trusted)}, hela dokumentet: {_yes(sig.covers_whole_document)}, "
            f"senare ändringar tillåtna: {_yes(sig.docmdp_ok)}"
        )
    if not outcome.trust_configured:
        click.echo("  Inga betrodda rotcertifikat är konfigurerade (SIGNING_TRUST_ROOTS).")
    click.echo(outcome.issued_message)
    click.echo(f"SHA-256: {result.sha256}")
    sys.exit(0 if result.ok else 1)


def _yes(value: bool | None) -> str:
    if value is None:
        return "okänt"
    return "ja" if value else "NEJ"
