"""Benchmark: one reminder run over 10,000 open items and 500 recipients to a loopback SMTP
server, with baselines measured in the same process on the same data.

    .venv/bin/python -m bench.reminders_run                      # SQLite in a temporary folder
    .venv/bin/python -m bench.reminders_run --database-url postgresql+psycopg://...  # PostgreSQL

The data: 100 units, each with a functional mailbox and 4 active members (500 addresses; the
first member is the unit's manager), and 100 open actions per unit whose due dates lie between
60 days ago and 14 days ahead, so every item has a reminder due today: 50,000 unit reminders
plus the escalations of the items that are 14+ days overdue, in 500 digests.

Timed steps (wall clock, ``time.perf_counter``):

* ``decide``: ``due_reminders`` alone on items and recipients already in memory (the pure core);
* ``load + decide``: load the items and recipients from the database, then decide;
* ``build``: load, decide and build the 500 messages, nothing written or sent;
* ``dry``: ``run_reminders(dry_run=True)``, what ``riskreg reminders send --dry-run`` does
  (``build`` plus the check against the send log);
* ``run``: ``run_reminders`` (load, decide, check the log, claim, build, send over SMTP to the
  server in another process, record sent, notifications, audit entry, both commits);
* ``rerun``: the same run again, which finds everything sent and sends nothing.

Ratios are relative to ``decide`` and to ``build``, so they carry over between machines better
than the seconds do. The SMTP server runs in a child process so that it does not compete with
the run for the GIL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

UNITS = 100
MEMBERS_PER_UNIT = 4
ITEMS = 10_000
NOW = dt.datetime(2025, 9, 1, 5, 0, tzinfo=dt.UTC)  # Monday 07:00 in Stockholm
STEPS = {
    "decide": "decide (pure `due_reminders`)",
    "load": "load + decide",
    "build": "build messages (no send)",
    "dry": "**dry run** (`run_reminders(dry_run=True)`: load, decide, check the log, build)",
    "run": "**run** (claim, send, record)",
    "rerun": "rerun (nothing to send)",
}


# --- SMTP sink in a child process -------------------------------------------------------------


def _sink(port: int, ready: Any, count: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- data -------------------------------------------------------------------------------------


def _populate(session: Any) -> None:
    from sqlalchemy import insert, select

    from riskreg.auth.models import Unit, User, user_units
    from riskreg.controls.models import Action, Control
    from riskreg.plans.models import Organisation, Plan
    from riskreg.risks.models import Risk

    root = Unit(code="REGION", name="Regionen")
    session.add(root)
    session.flush()
    session.execute(
        insert(Unit),
        [
            {
                "code": f"E{u:03d}",
                "name": f"Enhet {u}",
                "parent_id": root.id,
                "email": f"enhet{u:03d}@bench.test",
            }
            for u in range(UNITS)
        ],
    )
    units = session.execute(select(Unit.id, Unit.code).where(Unit.parent_id == root.id)).all()
    session.execute(
        insert(User),
        [
            {
                "username": f"{code.lower()}-{k}",
                "email": f"{code.lower()}-{k}@bench.test",
                "full_name": f"Användare {k} på {code}",
                "password_hash": "!",  # cannot log in; hashing 400 passwords is not the point
                "role": "unit_member",
                "locale": "en" if k == 3 else "sv",
            }
            for _, code in units
            for k in range(MEMBERS_PER_UNIT)
        ],
    )
    users = {u.username: u.id for u in session.execute(select(User.username, User.id))}
    session.execute(
        insert(user_units),
        [
            {"user_id": users[f"{code.lower()}-{k}"], "unit_id": uid}
            for uid, code in units
            for k in range(MEMBERS_PER_UNIT)
        ],
    )
    for uid, code in units:
        session.get(Unit, uid).manager_id = users[f"{code.lower()}-0"]
    organisation = Organisation(name="Benchmark")
    plan = Plan(organisation=organisation, year=2025)
    risk = Risk(
        plan=plan,
        section="administration",
        title="Risk",
        probability=3,
        consequence=3,
        responsible_unit_id=units[0][0],
    )
    control = Control(
        risk=risk,
        title="Granskning",
        check_type="generic",
        responsible_unit_id=units[0][0],
        deadline=dt.date(2026, 6, 30),
        status="approved",  # done: only the actions are reminded about
    )
    session.add(control)
    session.flush()
    today = dt.date(2025, 9, 1)
    session.execute(
        insert(Action),
        [
            {
                "control_id": control.id,
                "owner_unit_id": units[i % UNITS][0],
                "description": f"Åtgärd {i}: rätta avvikelsen i underlaget",
                # -60 ... +14 days: every item has a reminder due on `today`.
                "due_date": today + dt.timedelta(days=(i % 75) - 60),
                "status": "open",
                "answer": "",
                "verification_note": "",
                "created_at": NOW,
                "version": 1,
            }
            for i in range(ITEMS)
        ],
    )
    session.commit()


# --- timing -----------------------------------------------------------------------------------


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _round(session: Any, mail: Any, count: Any) -> tuple[dict[str, float], int, int]:
    """One round on a fresh send log: the timed steps, the reminders and the digests."""
    from sqlalchemy import delete

    from riskreg.reminders.decide import Recipient, due_reminders
    from riskreg.reminders.digest import build_messages
    from riskreg.reminders.models import Notification, SentReminder
    from riskreg.reminders.policy_store import load_policy
    from riskreg.reminders.recipients import RecipientDirectory, open_items
    from riskreg.reminders.services import run_reminders

    session.execute(delete(Notification))
    session.execute(delete(SentReminder))
    session.commit()
    times: dict[str, float] = {}

    items = open_items(session)
    policy = load_policy(session)
    directory = RecipientDirectory(session)
    units = {item.owner_unit_id for item in items}
    recipients: dict[int, list[Recipient]] = {u: directory.recipients_for_unit(u) for u in units}
    managers = {u: directory.manager_for_unit(u) for u in units}
    session.rollback()
    due_reminders(items[:10], policy, NOW, recipients.__getitem__, managers.__getitem__, ())
    times["decide"], due = _timed(
        lambda: due_reminders(items, policy, NOW, recipients.__getitem__, managers.__getitem__, ())
    )

    def load_and_decide() -> list[Any]:
        d = RecipientDirectory(session)
        found = due_reminders(
            open_items(session),
            load_policy(session),
            NOW,
            d.recipients_for_unit,
            d.manager_for_unit,
            (),
        )
        session.rollback()
        return found

    times["load"], _ = _timed(load_and_decide)
    times["build"], outgoing = _timed(
        lambda: build_messages(
            load_and_decide(), base_url=mail.base_url, sender=mail.sender, now=NOW
        )
    )
    times["dry"], dry = _timed(lambda: run_reminders(session, now=NOW, mail=mail, dry_run=True))
    assert dry.due == len(due) and len(dry.digests) == len(outgoing), dry.lines()[:3]
    before = count.value
    times["run"], report = _timed(lambda: run_reminders(session, now=NOW, mail=mail))
    assert report.ok, report.lines()
    assert report.sent == len(due), (report.sent, len(due))
    assert count.value - before == len(outgoing) == len(report.digests)
    times["rerun"], again = _timed(lambda: run_reminders(session, now=NOW, mail=mail))
    assert again.sent == 0 and again.due == 0
    return times, len(due), len(outgoing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    args = parser.parse_args()
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())

    from riskreg import create_app
    from riskreg.extensions import db
    from riskreg.reminders.services import MailSettings

    port = _free_port()
    context = mp.get_context("spawn")
    ready, stop, count = context.Event(), context.Event(), context.Value("i", 0)
    sink = context.Process(target=_sink, args=(port, ready, count, stop), daemon=True)
    sink.start()
    if not ready.wait(30):
        sys.exit("the SMTP sink did not start")

    times: dict[str, list[float]] = {name: [] for name in STEPS}
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench",
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": port,
                "MAIL_DEFAULT_SENDER": "riskreg <riskreg@bench.test>",
                "BASE_URL": "https://riskreg.bench.test",
            },
            instance_path=tmp,
        )
        with app.app_context():
            db.drop_all()
            db.create_all()
            _populate(db.session)
            mail = MailSettings.from_config(app.config)
            for _ in range(args.repeat):
                measured, reminders, digests = _round(db.session, mail, count)
                for name, seconds in measured.items():
                    times[name].append(seconds)
            db.session.rollback()
            if db.engine.dialect.name != "sqlite":  # the SQLite file goes with the folder
                db.drop_all()
        stop.set()
        sink.join(30)

    median = {name: statistics.median(values) for name, values in times.items()}
    backend = url.split(":", 1)[0]
    print(f"# reminders_run: {ITEMS} open items, {UNITS * (MEMBERS_PER_UNIT + 1)} addresses")
    print(
        f"backend {backend}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    print(f"{reminders} reminders in {digests} digests per run; server accepted {count.value}")
    print(
        f"median of {args.repeat} rounds; load average before {load_before}, after "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    print()
    print("| step | seconds (median) | min–max | × decide | × build |")
    print("|---|---:|---:|---:|---:|")
    for name, label in STEPS.items():
        seconds = median[name]
        spread = f"{min(times[name]):.2f}–{max(times[name]):.2f}"
        print(
            f"| {label} | {seconds:.2f} | {spread} | {seconds / median['decide']:.1f} "
            f"| {seconds / median['build']:.2f} |"
        )
    print()
    print(
        f"run: {reminders / median['run']:,.0f} reminders/s, "
        f"{digests / median['run']:,.1f} digests/s"
    )


if __name__ == "__main__":
    main()
