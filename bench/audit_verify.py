"""Benchmark: `riskreg audit verify` (chain, numbering, checkpoints, reconciliation) over a
synthetic trail.

    .venv/bin/python -m bench.audit_verify                       # 500,000 entries, SQLite
    .venv/bin/python -m bench.audit_verify --entries 100000 --database-url postgresql+psycopg://...

The trail: ``--entries`` chained entries written with Core INSERTs (not timed): one creation
per unit row (``--rows`` units exist, so the reconciliation compares them), the rest updates
of those units' names, each with an actor, an address and one changed field, as the flush
listener writes them. The timed step is ``verify_trail`` with reconciliation, against one
checkpoint at the head; the script prints entries per second and the peak resident memory
(``ru_maxrss``), which must not grow with the number of entries (the entries are streamed with
``yield_per``; only the replayed state of the audited rows is kept).

The **baseline**, measured in the same run on the same table: read every entry with the
driver (the same streaming query) and recompute its SHA-256, nothing else; the floor of any
verification. Wall clock and the process's CPU time are both reported: on the shared machine
the wall clock mostly measures the wait for a core.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=500_000)
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from riskreg import create_app
    from riskreg.audit.checkpoint import Checkpoint
    from riskreg.audit.models import AuditEntry
    from riskreg.audit.trail import GENESIS_HASH, canonical, chain_hash
    from riskreg.audit.verify import _stream_entries, verify_trail
    from riskreg.auth.models import Unit
    from riskreg.db import table_of
    from riskreg.extensions import db

    folder = Path(tempfile.mkdtemp(prefix="riskreg-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True},
        instance_path=folder,
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with app.app_context():
        db.drop_all()
        db.create_all()
        names = {}
        db.session.execute(
            insert(table_of(Unit)),
            [
                {"id": i, "code": f"U{i}", "name": f"Enhet {i}", "created_at": start, "version": 1}
                for i in range(1, args.rows + 1)
            ],
        )
        prev, batch = GENESIS_HASH, []
        for number in range(1, args.entries + 1):
            at = start + timedelta(seconds=number)
            row = (number - 1) % args.rows + 1
            if number <= args.rows:
                action = "create"
                changes = {
                    "id": [None, row],
                    "code": [None, f"U{row}"],
                    "name": [None, f"Enhet {row}"],
                    "created_at": [None, start.isoformat()],
                }
                names[row] = f"Enhet {row}"
            else:
                action = "update"
                new = f"Enhet {row} v{number}"
                changes = {"name": [names[row], new]}
                names[row] = new
            entry = {"at": at.isoformat(), "actor_id": 1, "actor_name": "admin",
                     "ip": "10.0.0.1", "action": action, "object_type": "unit",
                     "object_id": str(row), "reason": None, "changes": changes}  # fmt: skip
            payload = canonical(entry)
            digest = chain_hash(prev, payload)
            batch.append({"id": number, "at": at, "actor_id": 1, "actor_name": "admin",
                          "ip": "10.0.0.1", "action": action, "object_type": "unit",
                          "object_id": str(row), "reason": None, "payload": payload,
                          "prev_hash": prev, "hash": digest})  # fmt: skip
            prev = digest
            if len(batch) == 10_000:
                db.session.execute(insert(table_of(AuditEntry)), batch)
                batch = []
        if batch:
            db.session.execute(insert(table_of(AuditEntry)), batch)
        for row, name in names.items():
            db.session.execute(table_of(Unit).update().where(Unit.id == row).values(name=name))
        db.session.commit()
        head = Checkpoint(folder / "head.json", args.entries, prev, datetime.now(UTC), "valid")

        def baseline() -> int:
            # The same streamed driver rows verify reads, hashed; nothing else.
            n = 0
            for row in _stream_entries(db.session(), 5000, None):
                n += chain_hash(row[10], row[9]) == row[11]
            return n

        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print("| step | wall s | entries/s | CPU s | entries/CPU s | × baseline (wall) | (CPU) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, step in (
            ("baseline: read + SHA-256", baseline),
            ("riskreg audit verify (+ reconciliation)", lambda: verify_trail(db.session(), [head])),
        ):
            db.session.rollback()
            began, cpu = time.perf_counter(), time.process_time()
            result = step()
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
            if isinstance(result, int):
                assert result == args.entries
                base_wall, base_cpu = seconds, cpu
            else:
                assert result.ok, result.findings[:5]
                assert result.checked == args.entries
            print(
                f"| {label} | {seconds:.2f} | {args.entries / seconds:,.0f} | {cpu:.2f} "
                f"| {args.entries / cpu:,.0f} | {base_wall / seconds:.2f}× "
                f"| {base_cpu / cpu:.2f}× |"
            )
        print(
            f"{args.entries} entries, {db.engine.dialect.name}; load average before {load}, "
            f"after {', '.join(f'{x:.1f}' for x in os.getloadavg())}; peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        db.session.remove()
        db.drop_all()


if __name__ == "__main__":
    main()
