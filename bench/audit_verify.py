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
"""

from __future__ import annotations

import argparse
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
    from riskreg.audit.verify import verify_trail
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

        began = time.perf_counter()
        report = verify_trail(db.session(), [head])
        seconds = time.perf_counter() - began
        assert report.ok, report.findings[:5]
        assert report.checked == args.entries
        print(
            f"{args.entries} entries, {report.rows_compared} rows: {seconds:.2f} s, "
            f"{args.entries / seconds:,.0f} entries/s, peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        db.session.remove()
        db.drop_all()


if __name__ == "__main__":
    main()
