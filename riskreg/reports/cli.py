"""`riskreg keys init|issue|import|list`, `riskreg reports export DIR`, `reports verify FILE`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from riskreg.clitools import as_user_option, cli_actor
from riskreg.db import now_utc
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.reports.services import SigningSettings


def _settings() -> SigningSettings:
    return SigningSettings.from_config(current_app.config, current_app.instance_path)


def _fail(message: str) -> None:
    click.echo(_("Fel: %(text)s", text=message), err=True)
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
    """Skapa en utvecklings-CA i instance/keys/ som utfärdar personliga certifikat."""
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
        click.echo(f"  CA-nyckel (krypterad): {keys.ca_path.parent / 'ca-key.pem'}")
        click.echo(f"  lösenfras (läsbar bara för ägaren, 0600): {keys.passphrase_path}")
        click.echo(f"  rotcertifikat att lita på vid verifiering: {keys.ca_path}")
    click.echo(
        "Personliga certifikat: `riskreg keys issue ANVÄNDARNAMN` (från denna CA) eller "
        "`riskreg keys import ANVÄNDARNAMN FIL.p12` (från regionens PKI). I produktion: sätt "
        "SIGNING_TRUST_ROOTS till regionens CA i instance/config.py."
    )


def _user_named(username: str) -> object:
    from riskreg.auth.models import User
    from riskreg.extensions import db

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        _fail(f"ingen användare heter {username}.")
    return user


def _require_passphrase(settings: SigningSettings) -> bytes:
    if settings.passphrase is None:
        _fail(
            "lösenfrasen för signeringsnycklarna saknas: kör `riskreg keys init` eller ange "
            "SIGNING_PASSPHRASE."
        )
    assert settings.passphrase is not None
    return settings.passphrase


def _describe_certificate(row: object) -> str:
    from riskreg.reports.models import SigningCertificate

    assert isinstance(row, SigningCertificate)
    where = "HSM (PKCS#11)" if row.storage == "pkcs11" else "fil"
    return (
        f"  {row.subject}\n    utfärdat av {row.issuer}, serienummer {row.serial_number}\n"
        f"    giltigt {row.not_before:%Y-%m-%d}–{row.not_after:%Y-%m-%d}, nyckel i {where}\n"
        f"    SHA-256 {row.fingerprint_sha256}"
    )


@keys_group.command("issue")
@click.argument("username")
@click.option(
    "--key-type",
    type=click.Choice(["rsa3072", "ec-p256"]),
    default="rsa3072",
    show_default=True,
    help="Nyckeltyp.",
)
@click.option(
    "--file",
    "in_file",
    is_flag=True,
    help="Lägg nyckeln i en fil även när en HSM (SIGNING_PKCS11_MODULE) är konfigurerad.",
)
@with_appcontext
def keys_issue(username: str, key_type: str, in_file: bool) -> None:
    """Utfärda ett personligt signeringscertifikat till USERNAME från organisationens CA.

    Nyckeln skapas i HSM:en när SIGNING_PKCS11_MODULE är konfigurerad, annars som en
    krypterad PKCS#12-fil i instance/keys/users/. Ett tidigare certifikat för användaren
    upphör att gälla för nya signaturer.
    """
    from riskreg.auth.models import User
    from riskreg.extensions import db
    from riskreg.reports.signers import issue_certificate

    user = _user_named(username)
    assert isinstance(user, User)
    settings = _settings()
    token = None if in_file else settings.pkcs11_token_config()
    try:
        row = issue_certificate(
            db.session(),
            user,
            keys_dir=settings.personal_keys_dir,
            passphrase=_require_passphrase(settings),
            organisation="",
            now=now_utc(),
            token=token,
            key_algorithm=key_type,
        )
    except ServiceError as exc:
        db.session.rollback()
        _fail(exc.message)
    db.session.commit()
    click.echo(f"Utfärdade ett signeringscertifikat till {user.full_name} ({user.username}):")
    click.echo(_describe_certificate(row))


@keys_group.command("import")
@click.argument("username")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--hsm",
    is_flag=True,
    help="Lägg nyckeln i HSM:en (SIGNING_PKCS11_MODULE) i stället för i en fil.",
)
@with_appcontext
def keys_import(username: str, file: Path, hsm: bool) -> None:
    """Registrera USERNAMEs certifikat från regionens PKI (PKCS#12-fil FILE).

    Lösenfrasen till filen läses från RISKREG_IMPORT_PASSPHRASE eller frågas efter.
    Nyckeln krypteras om med serverns lösenfras och sparas i instance/keys/users/, eller
    läggs med --hsm in i HSM:en som en nyckel som inte kan tas ut igen.
    """
    from riskreg.auth.models import User
    from riskreg.extensions import db
    from riskreg.reports.signers import import_certificate

    user = _user_named(username)
    assert isinstance(user, User)
    settings = _settings()
    token = settings.pkcs11_token_config() if hsm else None
    if hsm and token is None:
        _fail("--hsm kräver SIGNING_PKCS11_MODULE och SIGNING_PKCS11_TOKEN i konfigurationen.")
    secret = os.environ.get("RISKREG_IMPORT_PASSPHRASE")
    if secret is None:
        secret = click.prompt("Lösenfras för PKCS#12-filen", hide_input=True, default="")
    try:
        row = import_certificate(
            db.session(),
            user,
            file.read_bytes(),
            secret.encode("utf-8") if secret else None,
            keys_dir=settings.personal_keys_dir,
            passphrase=_require_passphrase(settings),
            now=now_utc(),
            token=token,
        )
    except ServiceError as exc:
        db.session.rollback()
        _fail(exc.message)
    db.session.commit()
    click.echo(f"Registrerade signeringscertifikatet för {user.full_name} ({user.username}):")
    click.echo(_describe_certificate(row))


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    """Visa registrerade personliga signeringscertifikat och vem de tillhör."""
    from riskreg.extensions import db
    from riskreg.reports.models import SigningCertificate

    rows = db.session.scalars(
        select(SigningCertificate).order_by(SigningCertificate.registered_at)
    ).all()
    if not rows:
        click.echo("Inga personliga signeringscertifikat är registrerade.")
    for row in rows:
        until = f"till {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "gäller"
        click.echo(f"{row.user.username}: registrerat {row.registered_at:%Y-%m-%d %H:%M} ({until})")
        click.echo(_describe_certificate(row))


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
        exported = export_reports(db.session(), _settings(), directory)
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
                db.session(), file.read_bytes(), now=now_utc(), settings=_settings()
            )
    except ServiceError as exc:
        _fail(exc.message)
    result = outcome.verification
    click.echo(_("Resultat: %(verdict)s", verdict=result.label))
    click.echo(result.headline)
    for sig in result.signatures:
        who = sig.signer_name or sig.field_name
        click.echo(
            "  "
            + _(
                "[%(field)s] %(who)s: signerat innehåll %(content)s, certifikat betrott: "
                "%(trusted)s, omfattar hela filen: %(whole)s, senare ändringar tillåtna: "
                "%(allowed)s",
                field=sig.field_name,
                who=who,
                content=_content_word(sig),
                trusted=_yes(sig.trusted),
                whole=_yes(sig.covers_whole_document),
                allowed=_yes(sig.docmdp_ok),
            )
        )
    for message in result.details:
        click.echo(f"  {message}")
    if not outcome.trust_configured:
        click.echo(
            "  " + _("Inga betrodda rotcertifikat är konfigurerade (SIGNING_TRUST_ROOTS).")
        )
    for who in outcome.signers:
        click.echo(
            "  " + _("Signerare [%(field)s]: %(text)s", field=who.field_name, text=who.message)
        )
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
        return _("GÅR INTE ATT LÄSA")
    if not sig.intact:
        return _("ÄNDRAT")
    if not sig.valid:
        return _("SIGNATURVÄRDET STÄMMER INTE")
    return _("oförändrat")


def _yes(value: bool | None) -> str:
    if value is None:
        return _("okänt")
    return _("ja") if value else _("NEJ")
