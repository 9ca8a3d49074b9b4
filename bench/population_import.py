"""Benchmark: import a generated 1,000,000-row payment population, then draw an MUS sample.

    .venv/bin/python -m bench.population_import [--rows N] [--database-url URL] [--keep DIR]

Writes a Swedish payment CSV (semicolons, decimal commas, NBSP thousands, Windows-1252),
imports it through ``riskreg.sampling.importing.import_population`` into a fresh SQLite
database (and into the PostgreSQL database given with ``--database-url``, whose tables are
dropped and recreated), then plans and draws an MUS sample with ``drawing.draw_sample``.

The baseline is measured in the same run against the same database: a plain DBAPI
``executemany`` of the same rows (key, line, amount in öre, a JSON payload) into the same
``population_item`` table, with no validation. Each phase runs in its own forked process,
so "peak memory" is that phase's own maximum resident set size (``ru_maxrss``), not the
history of the benchmark process. The ratios printed are riskreg / baseline.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HEADER = ["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp", "Betalningsdatum"]
PROVIDERS = (
    "Vårdcentralen Kungsgärdet AB", "Capio Vårdcentral Västerås City", "Läkarhuset Köping AB",
    "Citykliniken Sala", "Familjeläkarna i Arboga", "Hälsocentralen Fagersta Norra",
    "Närakuten Västerås AB", "Fysio Mälardalen AB", "Ögonkliniken Västerås HB",
)
NOW = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)


def amount_text(n: int) -> str:
    """A deterministic amount between 100 and 999 999,99 kr, Swedish style with NBSP."""
    ore = (n * 7_919_993) % 99_990_000 + 10_000
    kronor, rest = divmod(ore, 100)
    return f"{kronor:,}".replace(",", "\u00a0") + f",{rest:02d}"


def write_population(path: Path, rows: int) -> None:
    with path.open("w", encoding="cp1252", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            month = 1 + n % 5
            writer.writerow([
                f"UTB-{n:08d}", PROVIDERS[n % len(PROVIDERS)], f"VV-2025-{n % 97:03d}",
                f"2025-{month:02d}", amount_text(n), f"2025-{month:02d}-{1 + n % 28:02d}",
            ])


def _in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` in a forked process; add its peak RSS (MiB) to the result."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()

    def run() -> None:
        try:
            result = work()
            result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            child.send(result)
        except BaseException as exc:
            child.send({"error": repr(exc)})
            raise

    process = context.Process(target=run)
    process.start()
    result = parent.recv()
    process.join()
    if "error" in result:
        raise SystemExit(f"phase failed: {result['error']}")
    return result


def _app(url: str, instance: Path) -> Any:
    from riskreg import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True},
        instance_path=instance,
    )


def prepare(url: str, instance: Path) -> int:
    """Fresh schema and one started payments control; returns its id."""
    from riskreg.auth.models import Role
    from riskreg.auth.services import create_unit, create_user
    from riskreg.controls.services import change_status, create_control
    from riskreg.extensions import db
    from riskreg.plans.models import Organisation, Plan
    from riskreg.risks.models import Risk

    app = _app(url, instance)
    with app.app_context():
        db.drop_all()
        db.create_all()
        unit = create_unit(db.session(), code="CE", name="Centrum för ekonomi")
        user = create_user(
            db.session(), username="granskare", email="g@example.org", full_name="Granskare",
            password="bench-lösenord-som-är-långt-nog-1", role=Role.CONTROLLER, units=[unit],
        )
        plan = Plan(organisation=Organisation(name="Benchmark"), year=2025)
        risk = Risk(plan=plan, section="region", title="Felaktiga utbetalningar",
                    probability=4, consequence=3, deadline=date(2025, 8, 15),
                    responsible_unit=unit)
        db.session.add(risk)
        control = create_control(
            db.session(), risk, title="Utbetalningar 2025", check_type="payments",
            responsible_unit=unit, controllers=[user],
            deviation_definition="Belopp som inte följer avtalet.", actor=user, now=NOW,
        )
        # Started: the deviation definition is locked before the import.
        change_status(db.session(), control, "in_progress", actor=user, now=NOW)
        db.session.commit()
        return control.id


def riskreg_import(url: str, instance: Path, csv_path: Path, control_id: int) -> dict[str, Any]:
    from riskreg.controls.models import Control
    from riskreg.extensions import db
    from riskreg.sampling.importing import import_population

    app = _app(url, instance)
    with app.app_context():
        control = db.session.get_one(Control, control_id)
        before = _rss_mib()
        start, cpu = time.perf_counter(), time.process_time()
        with csv_path.open("rb") as stream:
            population = import_population(
                db.session(), control, stream, csv_path.name, actor=control.controllers[0],
                now=NOW, period_start=date(2025, 1, 1), period_end=date(2025, 5, 31),
            )
        db.session.commit()
        seconds = time.perf_counter() - start
        return {"rows": population.row_count, "seconds": seconds, "before_mib": before,
                "cpu": time.process_time() - cpu, "total_ore": population.total_amount_ore}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def num(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def riskreg_draw(url: str, instance: Path, control_id: int, total: int) -> dict[str, Any]:
    from riskreg.controls.models import Control
    from riskreg.extensions import db
    from riskreg.sampling import drawing, planning
    from riskreg.sampling.selection import generate_seed

    app = _app(url, instance)
    with app.app_context():
        control = db.session.get_one(Control, control_id)
        actor = control.controllers[0]
        before = _rss_mib()
        start = time.perf_counter()
        plan = planning.plan_sample(
            db.session(), control, method="mus", actor=actor, now=NOW,
            confidence=Decimal("0.95"), tolerable_misstatement_ore=total // 50,
            expected_misstatement_ore=total // 200,
        )
        draw = drawing.draw_sample(
            db.session(), control, selection_method="mus_fixed_interval", seed=generate_seed(),
            actor=actor, now=NOW,
        )
        db.session.commit()
        seconds = time.perf_counter() - start
        return {"rows": draw.population.row_count, "seconds": seconds, "before_mib": before,
                "sample_size": draw.sample_size, "planned": plan.sample_size}


def _baseline_rows(csv_path: Path, population_id: int) -> Iterator[tuple[Any, ...]]:
    with csv_path.open("r", encoding="cp1252", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        for line, row in enumerate(reader, start=2):
            kronor, _, ore = row[4].replace("\u00a0", "").partition(",")
            data = json.dumps({"provider": row[1], "contract": row[2], "period": row[3],
                               "payment_date": row[5]}, ensure_ascii=False)
            yield population_id, line, row[0], int(kronor) * 100 + int(ore or 0), None, data


def baseline(url: str, instance: Path, csv_path: Path, control_id: int) -> dict[str, Any]:
    """A plain executemany of the same rows into the same table, one transaction."""
    from riskreg.extensions import db
    from riskreg.sampling.models import Population

    app = _app(url, instance)
    with app.app_context():
        population = Population(control_id=control_id, file_name="baseline", file_sha256="-",
                                row_count=0, superseded=True)
        db.session.add(population)
        db.session.commit()
        population_id = population.id
        marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            "INSERT INTO population_item (population_id, line, record_key, amount_ore, "
            f"stratum, data_json) VALUES ({', '.join([marker] * 6)})"
        )
        raw = db.engine.raw_connection()
        try:
            before = _rss_mib()
            start, cpu = time.perf_counter(), time.process_time()
            cursor = raw.cursor()
            # Drivers take any iterable (streamed here, as the benchmark measures memory);
            # SQLAlchemy's DB-API protocol hints a Sequence.
            rows_in = _baseline_rows(csv_path, population_id)
            cursor.executemany(sql, rows_in)  # type: ignore[arg-type]
            raw.commit()
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            cursor.execute(
                f"SELECT count(*) FROM population_item WHERE population_id = {marker}",
                (population_id,),
            )
            row = cursor.fetchone()
            assert row is not None
            rows = row[0]
        finally:
            raw.close()
        return {"rows": rows, "seconds": seconds, "before_mib": before, "cpu": cpu}


def _row(name: str, result: dict[str, Any]) -> str:
    growth = result["peak_rss_mib"] - result["before_mib"]
    return (
        f"| {name} | {num(result['rows'])} | {result['seconds']:.1f} | "
        f"{num(result['rows'] / result['seconds'])} | {result['peak_rss_mib']:.0f} | "
        f"{growth:.0f} |"
    )


def run(url: str, label: str, instance: Path, csv_path: Path) -> list[str]:
    control_id = _in_child(lambda: {"id": prepare(url, instance), "before_mib": 0})["id"]
    imported = _in_child(lambda: riskreg_import(url, instance, csv_path, control_id))
    plain = _in_child(lambda: baseline(url, instance, csv_path, control_id))
    drawn = _in_child(lambda: riskreg_draw(url, instance, control_id, imported["total_ore"]))
    rate = imported["rows"] / imported["seconds"]
    base_rate = plain["rows"] / plain["seconds"]
    base_growth = max(plain["peak_rss_mib"] - plain["before_mib"], 1)
    growth = imported["peak_rss_mib"] - imported["before_mib"]
    return [
        f"## {label}",
        "",
        "| phase | rows | seconds | rows/s | peak RSS (MiB) | growth during phase (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
        _row("baseline: plain DBAPI executemany", plain),
        _row("riskreg import (parsed, validated, hashed, audited)", imported),
        _row(f"riskreg MUS plan + draw (n = {drawn['planned']}; {drawn['sample_size']} items)",
             drawn),
        "",
        f"Import / baseline: {rate / base_rate:.2f}× the rows per second (client CPU: import "
        f"{imported['cpu']:.1f} s, baseline {plain['cpu']:.1f} s); peak RSS "
        f"{imported['peak_rss_mib'] / plain['peak_rss_mib']:.2f}× ; growth during the phase "
        f"{growth:.0f} MiB vs {base_growth:.0f} MiB.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="also run against PostgreSQL")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="riskreg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / "utbetalningar.csv"
    start = time.perf_counter()
    write_population(csv_path, args.rows)
    size = os.path.getsize(csv_path)
    print(f"# Population import benchmark ({os.cpu_count()} CPUs)\n")
    print(f"Generated {num(args.rows)} rows, {size / 2**20:.0f} MiB, in "
          f"{time.perf_counter() - start:.0f} s: {csv_path}\n")
    targets = [(f"sqlite:///{work / 'bench.sqlite3'}", "SQLite (fresh file)")]
    if args.database_url:
        targets.append((args.database_url, "PostgreSQL"))
    for url, label in targets:
        print("\n".join(run(url, label, work / "instance", csv_path)), flush=True)


if __name__ == "__main__":
    main()
