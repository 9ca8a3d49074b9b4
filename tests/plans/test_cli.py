from __future__ import annotations

import csv
import io
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from riskreg.audit.models import AuditEntry
from riskreg.auth.models import User
from riskreg.demo import PLAN_FILE
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk

ORG = "Region Västmanland – Hälso- och sjukvårdsförvaltningen"


#: The coordinator the commands act for (riskreg.permissions.CLI_ON_BEHALF_OF).
AS = ["--as", "samordnare"]


def _units(make_unit, make_user) -> None:  # type: ignore[no-untyped-def]
    for code in ("CE", "CHR", "Staben", "Smittskydd", "POU staben"):
        make_unit(code)
    make_user("samordnare", "admin")


def test_import_then_export_gives_back_the_shipped_file(
    app: Flask, make_unit, make_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _units(make_unit, make_user)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["plan", "import", str(PLAN_FILE), "--year", "2025", "--organisation", ORG, *AS]
    )
    assert result.exit_code == 0, result.output
    assert "7 risker" in result.output
    with app.app_context():
        # The import is in the audit trail as the coordinator it was run for.
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.object_type == "plan").limit(1)
        )
        assert entry is not None and entry.actor_name == "samordnare (cli)"
        assert entry.actor_id == db.session.scalar(
            select(User.id).where(User.username == "samordnare")
        )
    out = tmp_path / "export.csv"
    result = runner.invoke(
        args=["plan", "export", "--year", "2025", "--format", "csv", "--output", str(out), *AS]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == PLAN_FILE.read_bytes()
    stdout = runner.invoke(args=["plan", "export", "--year", "2025", *AS])
    original = list(csv.reader(io.StringIO(PLAN_FILE.read_text(encoding="utf-8"))))
    assert list(csv.reader(io.StringIO(stdout.output))) == original


def test_xlsx_export_imports_back_to_the_same_plan(
    app: Flask, make_unit, make_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _units(make_unit, make_user)
    runner = app.test_cli_runner()
    runner.invoke(
        args=["plan", "import", str(PLAN_FILE), "--year", "2025", "--organisation", ORG, *AS]
    )
    xlsx = tmp_path / "plan.xlsx"
    assert (
        runner.invoke(
            args=[
                "plan",
                "export",
                "--year",
                "2025",
                "--format",
                "xlsx",
                "--output",
                str(xlsx),
                *AS,
            ]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        args=["plan", "import", str(xlsx), "--year", "2026", "--organisation", ORG, *AS]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "2026.csv"
    runner.invoke(args=["plan", "export", "--year", "2026", "--output", str(out), *AS])
    assert out.read_bytes() == PLAN_FILE.read_bytes()


def test_bad_file_exits_non_zero_with_line_numbers_and_writes_nothing(
    app: Flask, make_unit, make_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _units(make_unit, make_user)
    lines = PLAN_FILE.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",3,3,9,", ",3,5,15,")
    lines[6] = lines[6].replace(",Smittskydd", ",Okänd")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["plan", "import", str(bad), "--year", "2025", "--organisation", ORG, *AS]
    )
    assert result.exit_code == 1
    assert "Rad 4" in result.output and "Rad 7" in result.output and "Okänd" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Risk.id))) == 0
        assert db.session.scalar(select(func.count(Plan.id))) == 0


def test_missing_column_is_named(app: Flask, make_unit, make_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _units(make_unit, make_user)
    rows = list(csv.reader(io.StringIO(PLAN_FILE.read_text(encoding="utf-8"))))
    index = rows[0].index("consequence")
    trimmed = [row[:index] + row[index + 1 :] for row in rows]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(trimmed)
    bad = tmp_path / "missing.csv"
    bad.write_text(out.getvalue(), encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["plan", "import", str(bad), "--year", "2025", "--organisation", ORG, *AS]
    )
    assert result.exit_code == 1 and "konsekvens (k)" in result.output.lower()
