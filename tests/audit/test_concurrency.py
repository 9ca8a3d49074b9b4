"""Two transactions writing audit entries at the same time still build one unbroken chain.

On PostgreSQL each writer takes a transaction-scoped advisory lock before reading the last hash
(riskreg/audit/trail.py::_lock_chain), so the second waits until the first has committed. On
SQLite the database's single writer lock serialises them. Each writer holds its transaction
open for a moment after writing its entry, so without the lock both would chain onto the same
predecessor and `verify_chain` would report the break.
"""

from __future__ import annotations

import threading
import time

from flask import Flask
from sqlalchemy import func, select

from riskreg.audit.context import acting
from riskreg.audit.models import AuditEntry
from riskreg.audit.trail import verify_chain
from riskreg.auth.models import Unit
from riskreg.extensions import db

# SQLite's busy handler sleeps between retries, so fewer rounds there keep the suite quick.
ROUNDS = {"postgresql": 15, "sqlite": 4}


def test_concurrent_writers_keep_one_unbroken_chain(app: Flask, make_unit) -> None:  # type: ignore[no-untyped-def]
    units = {name: make_unit(name).id for name in ("A", "B", "C")}
    with app.app_context():
        before = db.session.scalar(select(func.count(AuditEntry.id)))
        rounds = ROUNDS.get(db.engine.dialect.name, 4)
    barrier = threading.Barrier(len(units))
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            with app.app_context(), acting(actor_name=f"writer-{name}"):
                barrier.wait()
                for number in range(rounds):
                    unit = db.session.get(Unit, units[name])
                    assert unit is not None
                    unit.name = f"{name} {number}"
                    db.session.flush()  # the audit entry is written; the chain is locked
                    time.sleep(0.005)  # hold the transaction open while the others try
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in units]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        checked, broken = verify_chain(db.session)
        assert broken is None, broken
        assert checked == before + len(units) * rounds
        prev_hashes = db.session.scalars(select(AuditEntry.prev_hash)).all()
        assert len(prev_hashes) == len(set(prev_hashes))  # nobody shares a predecessor
        actors = db.session.scalars(
            select(AuditEntry.actor_name).where(AuditEntry.actor_name.like("writer-%"))
        ).all()
        assert sorted(set(actors)) == ["writer-A", "writer-B", "writer-C"]
