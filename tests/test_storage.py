"""No orphans after a crash: `riskreg storage check` lists and cleans them.

A signing or an upload writes its file before the transaction that records it commits. A
crash in between (kill -9, a rollback after a lost race) leaves a complete file with no row;
a crash while writing leaves a temporary file. Both must be found and removed, and nothing a
row refers to may ever be touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.reports import services
from riskreg.reports.models import Report
from riskreg.sampling.evidence import evidence_dir
from riskreg.sampling.models import Evidence, SampleItem
from tests.conftest import load_demo_data
from tests.reports.scenario import Scenario, approved_control, build, settings_for, sign_both, user

TWO_HOURS = 2 * 3600


@pytest.fixture()
def archive(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "archive"
    monkeypatch.setitem(app.config, "REPORTS_DIR", str(folder))
    return folder


@pytest.fixture()
def scenario(app: Flask, archive: Path) -> Scenario:
    """The demo (its signed reports in ``archive`` too) and an approved control."""
    load_demo_data(app)
    restored = Path(app.instance_path) / "reports"  # a demo restored from its template
    if restored.is_dir():
        shutil.copytree(restored, archive, dirs_exist_ok=True)
    settings_for(app)
    return build(app)


@pytest.fixture()
def evidence_files(app: Flask) -> Iterator[list[Path]]:
    """Files this test puts into the shared evidence folder; removed afterwards."""
    made: list[Path] = []
    yield made
    for path in made:
        path.unlink(missing_ok=True)


def age(path: Path, seconds: int = TWO_HOURS) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def crash_while_signing(app: Flask, scenario: Scenario) -> Path:
    """Sign, then lose the transaction (as a kill -9 before the commit does)."""
    with app.app_context():
        report = services.sign_review(
            db.session,
            approved_control(db.session, scenario),
            actor=user(db.session, scenario.controller),
            now=now_utc(),
            settings=settings_for(app),
        )
        name = report.certified_file
        path = settings_for(app).store().path(name)
        db.session.rollback()
        assert db.session.scalar(select(Report).where(Report.certified_file == name)) is None
    return path


def check(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["storage", "check", *args])
    return result.exit_code, result.output


def test_crashed_signing_and_upload_leave_orphans_that_check_lists_and_cleans(
    app: Flask, scenario: Scenario, archive: Path, evidence_files: list[Path]
) -> None:
    second = build(app, title="Utbetalningar, andra halvåret")
    orphan = crash_while_signing(app, second)
    report_id = sign_both(app, scenario)
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None and report.final_file is not None
        kept = [archive / report.certified_file, archive / report.final_file]
        final_name, final_sha = report.final_file, report.final_sha256 or ""
        # An evidence file with its row, and one whose upload transaction was lost.
        item = db.session.scalars(select(SampleItem)).first()
        assert item is not None
        evidence = evidence_dir(app.instance_path)
        recorded_bytes, lost_bytes = b"kvitto 1\n", b"kvitto 2, aldrig sparat\n"
        recorded = evidence / hashlib.sha256(recorded_bytes).hexdigest()
        lost = evidence / hashlib.sha256(lost_bytes).hexdigest()
        evidence_files += [recorded, lost]
        recorded.write_bytes(recorded_bytes)
        lost.write_bytes(lost_bytes)
        db.session.add(
            Evidence(
                item=item,
                file_name="kvitto.txt",
                content_type="text/plain",
                size=len(recorded_bytes),
                sha256=recorded.name,
                stored_name=recorded.name,
                uploaded_at=now_utc(),
            )
        )
        db.session.commit()
    # What a kill -9 in the middle of writing leaves: the temporary names of both stores.
    half_report = orphan.parent / ".tmp-abc123.pdf"
    half_report.write_bytes(b"%PDF-1.7 halv")
    half_upload = evidence / ".upload-xyz"
    fresh = evidence / ("0" * 64)  # an upload whose transaction may still be running
    evidence_files += [half_upload, fresh]
    half_upload.write_bytes(b"halv")
    fresh.write_bytes(b"pagar")
    for path in [orphan, half_report, half_upload, lost, recorded, *kept]:
        age(path)

    code, output = check(app)
    assert code == 1, output
    for path in (orphan, half_report, half_upload, lost):
        assert str(path) in output, path
    assert "ofullständigt skriven" in output and "utan rad i databasen" in output
    for path in (*kept, recorded, fresh):
        assert str(path) not in output, path
    assert "nyare filer utan rad lämnas orörda" in output
    assert "--clean tar bort dem" in output
    assert all(p.exists() for p in (orphan, half_report, half_upload, lost))  # listed only

    code, output = check(app, "--clean")
    assert code == 0, output
    assert not any(p.exists() for p in (orphan, half_report, half_upload, lost))
    assert all(p.exists() for p in (*kept, recorded, fresh))
    with app.app_context():
        assert settings_for(app).store().read_verified(final_name, final_sha).startswith(b"%PDF")

    code, output = check(app, "--min-age", "0", "--clean")
    assert not fresh.exists()  # with no grace period, the young orphan goes too

    recorded.unlink()
    code, output = check(app)
    assert code == 2, output
    assert f"{recorded} SAKNAS" in output


def test_report_files_are_written_whole_and_adopted_by_a_retry(app: Flask, archive: Path) -> None:
    store = services.ReportStore(archive)
    store.write_once("2025/GR-2025-0001-v1-granskare-ab.pdf", b"%PDF-1.7 rapport")
    target = archive / "2025" / "GR-2025-0001-v1-granskare-ab.pdf"
    assert target.read_bytes() == b"%PDF-1.7 rapport"
    assert stat.S_IMODE(target.stat().st_mode) == 0o440
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp left
    age(target)
    # A retry with the same bytes (after a crash before the commit) adopts the file and
    # makes it young again, so a concurrent `storage check` leaves it alone.
    store.write_once("2025/GR-2025-0001-v1-granskare-ab.pdf", b"%PDF-1.7 rapport")
    assert time.time() - target.stat().st_mtime < 60
    with pytest.raises(services.ReportFileError, match="annat innehåll"):
        store.write_once("2025/GR-2025-0001-v1-granskare-ab.pdf", b"%PDF-1.7 annan")
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
