"""Files riskreg keeps outside the database, and the orphans a crash can leave among them.

Two stores hold files: the signed reports (``REPORTS_DIR``, :class:`riskreg.reports.services.
ReportStore`) and the evidence uploads (``instance/evidence``, stored under their SHA-256).
Both write a file *before* the transaction that records it commits, and both write it so that
a crash leaves either nothing under the real name or a complete file:

* the content goes to a temporary name in the same folder (``.tmp-…`` / ``.upload-…``) and is
  linked or renamed to its real name only when complete, so a half-written file never has a
  real name;
* a complete file whose transaction then failed (kill -9, a lost race, a rollback) has no row.
  A later attempt with the same content adopts it (same name, same bytes); otherwise it is an
  **orphan**.

``riskreg storage check`` lists both kinds of leftover and, with ``--clean``, removes them.
Only files older than a grace period (``--min-age``, one hour by default) count, so a file
whose transaction is still running is never taken for an orphan; a store that re-uses an
existing file refreshes its time for the same reason. Rows whose file is missing are listed
too (they are never "cleaned": the row is the record, the missing file is for the operator).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

__all__ = [
    "EVIDENCE_KINDS",
    "Leftover",
    "StorageReport",
    "check_storage",
    "evidence_dir",
    "remove_orphans",
    "store_by_sha256",
]

#: Prefixes of the temporary names the stores write to before a file is complete.
TEMPORARY_PREFIXES = (".tmp-", ".upload-")


@dataclass(frozen=True)
class Leftover:
    """A file without a row (``orphan``, ``unfinished``) or a row without its file."""

    area: str  # "rapporter" or "underlag"
    kind: str  # "orphan": complete file, no row; "unfinished": temporary; "missing": no file
    path: Path
    size: int
    modified: datetime | None


@dataclass(frozen=True)
class StorageReport:
    orphans: tuple[Leftover, ...]
    missing: tuple[Leftover, ...]
    young: int  # unreferenced files inside the grace period, left alone


#: What may be evidence (riskreg.uploads.KINDS): documents, pictures, spreadsheets and text.
EVIDENCE_KINDS: frozenset[str] = frozenset({"pdf", "png", "jpeg", "xlsx", "docx", "csv", "txt"})


def evidence_dir(instance_path: str | os.PathLike[str]) -> Path:
    """The folder of every evidence file: the sampled items' and the actions' answers."""
    path = Path(instance_path) / "evidence"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_by_sha256(stream: IO[bytes], sha256: str, storage: Path) -> str:
    """Copy a checked upload's ``stream`` into ``storage`` under its SHA-256 (the name it
    returns). Identical content is stored once; a re-used file is touched so that
    ``riskreg storage check`` does not take it for an orphan."""
    storage.mkdir(parents=True, exist_ok=True)
    target = storage / sha256
    if target.exists():
        touch(target)
        return sha256
    # Written beside the target and renamed, so a half-copied file never has the name.
    handle = tempfile.NamedTemporaryFile(dir=storage, prefix=".upload-", delete=False)  # noqa: SIM115
    try:
        with handle:
            stream.seek(0)
            shutil.copyfileobj(stream, handle)
        os.replace(handle.name, target)
    except BaseException:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
        raise
    return sha256


def _files(folder: Path) -> Iterable[Path]:
    if not folder.is_dir():
        return []
    return (path for path in folder.rglob("*") if path.is_file())


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _scan(
    area: str, folder: Path, referenced: set[str], *, now: datetime, min_age: timedelta
) -> tuple[list[Leftover], list[Leftover], int]:
    orphans: list[Leftover] = []
    young = 0
    for path in _files(folder):
        name = path.relative_to(folder).as_posix()
        if name in referenced:
            continue
        modified = _modified(path)
        if now - modified < min_age:
            young += 1
            continue
        kind = "unfinished" if path.name.startswith(TEMPORARY_PREFIXES) else "orphan"
        orphans.append(Leftover(area, kind, path, path.stat().st_size, modified))
    missing = [
        Leftover(area, "missing", folder / name, 0, None)
        for name in sorted(referenced)
        if not (folder / name).is_file()
    ]
    return orphans, missing, young


def check_storage(
    session: Session,
    *,
    reports_dir: Path,
    evidence_dir: Path,
    now: datetime,
    min_age: timedelta = timedelta(hours=1),
) -> StorageReport:
    """Compare the two stores with the rows that refer to their files."""
    from riskreg.controls.models import ActionEvidence
    from riskreg.reports.models import Report
    from riskreg.sampling.models import Evidence

    report_files: set[str] = set()
    for certified, final in session.execute(select(Report.certified_file, Report.final_file)):
        report_files.add(certified)
        if final:
            report_files.add(final)
    evidence_files = set(session.scalars(select(Evidence.stored_name).distinct()))
    evidence_files |= set(session.scalars(select(ActionEvidence.stored_name).distinct()))
    orphans, missing, young = _scan(
        "rapporter", reports_dir, report_files, now=now, min_age=min_age
    )
    more_orphans, more_missing, more_young = _scan(
        "underlag", evidence_dir, evidence_files, now=now, min_age=min_age
    )
    return StorageReport(
        tuple(orphans + more_orphans), tuple(missing + more_missing), young + more_young
    )


def remove_orphans(orphans: Iterable[Leftover]) -> int:
    """Delete the listed orphans (never a row's file); returns how many were removed."""
    removed = 0
    for leftover in orphans:
        if leftover.kind == "missing":
            continue
        try:
            leftover.path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


# ------------------------------------------------------------------ command line


@click.group("storage", help="Filerna utanför databasen: rapporter och underlag.")
def storage_group() -> None:
    pass


@storage_group.command("check")
@click.option("--clean", is_flag=True, help="Ta bort de föräldralösa filerna som listas.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Timmar: yngre filer kan höra till en signering eller uppladdning som pågår.",
)
@with_appcontext
def storage_check(clean: bool, min_age: float) -> None:
    """Lista filer utan rad i databasen (efter ett avbrott) och rader utan fil.

    \b
    Slutkoder: 0 inget att anmärka (eller allt städat), 1 föräldralösa filer kvar
    (kör med --clean), 2 rader vars fil saknas.
    """
    from riskreg.db import now_utc
    from riskreg.extensions import db
    from riskreg.reports.services import SigningSettings
    from riskreg.sampling.evidence import evidence_dir

    settings = SigningSettings.from_config(current_app.config, current_app.instance_path)
    report = check_storage(
        db.session(),
        reports_dir=settings.reports_dir,
        evidence_dir=evidence_dir(current_app.instance_path),
        now=now_utc(),
        min_age=timedelta(hours=min_age),
    )
    words = {"orphan": "utan rad i databasen", "unfinished": "ofullständigt skriven"}
    for leftover in report.orphans:
        click.echo(
            f"{leftover.area}: {leftover.path} ({words[leftover.kind]}, {leftover.size} byte, "
            f"{leftover.modified:%Y-%m-%d %H:%M} UTC)"
        )
    for leftover in report.missing:
        click.echo(f"{leftover.area}: {leftover.path} SAKNAS (databasen hänvisar till filen)")
    if report.young:
        click.echo(f"{report.young} nyare filer utan rad lämnas orörda (yngre än {min_age:g} h).")
    code = 0
    if report.orphans and clean:
        removed = remove_orphans(report.orphans)
        click.echo(f"{removed} föräldralösa filer borttagna.")
    elif report.orphans:
        click.echo(f"{len(report.orphans)} föräldralösa filer; --clean tar bort dem.")
        code = 1
    else:
        click.echo("Inga föräldralösa filer.")
    if report.missing:
        click.echo(f"{len(report.missing)} filer saknas.")
        code = 2
    sys.exit(code)


def touch(path: Path) -> None:
    """Refresh a re-used file's time, so a concurrent check never takes it for an orphan."""
    with contextlib.suppress(FileNotFoundError):
        os.utime(path)
