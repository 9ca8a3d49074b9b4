"""Benchmark: server time of a login POST with the production password hash, against a
baseline measured in the same run.

    .venv/bin/python -m bench.login                      # SQLite in a temporary folder
    .venv/bin/python -m bench.login --database-url postgresql+psycopg://...   # PostgreSQL
    .venv/bin/python -m bench.login --profile            # + cProfile of the successful logins

The app runs with its production settings for everything that costs time at login: the
password hasher of ``riskreg.auth.passwords`` as configured (not the tests' cheap one), the
login throttle enabled (``memory://``, or ``--storage-uri redis://…``), the audit trail, the
session regeneration. Only CSRF is off, so the requests need no token round trip; the address
limit is raised so that the unknown-user and wrong-password rounds do not lock the bench out
(each of those rounds uses its own username, so the account limit never triggers).

Timed steps, each a request through Flask's test client (so the time is all server time, no
network), wall clock (``time.perf_counter``) and CPU time of the process (``time.process_time``,
which counts argon2's worker threads too):

* ``GET /login`` (the **baseline**: render the form);
* ``POST /login`` right password (a fresh client each time, so a fresh session);
* ``POST /login`` wrong password for a real account;
* ``POST /login`` unknown username (must cost what a real one costs: the dummy hash);
* ``POST /login`` right password for an account whose stored hash was made with argon2-cffi's
  default parameters (64 MiB, t=3, p=4): the first login verifies with the old parameters and
  rehashes; the step logs each such account in once.

Ratios are against the baseline, so they carry over between machines better than seconds.
The median of ``--rounds`` rounds is reported; the load average is printed with the result.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PASSWORD = "korrekt häst batteri häftklammer"


def _timed(rounds: int, action: Callable[[int], Any]) -> tuple[float, float]:
    """Median wall and CPU seconds of ``action(i)`` over ``rounds`` calls."""
    walls, cpus = [], []
    for i in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        action(i)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--storage-uri", default="memory://")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from argon2 import PasswordHasher

    from riskreg import create_app
    from riskreg.auth import passwords
    from riskreg.auth.models import Role, User
    from riskreg.extensions import db

    folder = Path(tempfile.mkdtemp(prefix="riskreg-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": args.storage_uri,
            "LOGIN_IP_LIMIT": "100000 per 15 minutes",
        },
        instance_path=folder,
    )
    old_hasher = PasswordHasher()  # argon2-cffi's default: 64 MiB, t=3, p=4
    rounds = args.rounds
    with app.app_context():
        db.drop_all()
        db.create_all()
        current = passwords.hash_password(PASSWORD)
        old = [old_hasher.hash(PASSWORD) for _ in range(rounds)]
        db.session.add(
            User(
                username="anna",
                email="anna@example.se",
                full_name="Anna",
                password_hash=current,
                role=Role.ADMIN.value,
                locale="sv",
            )
        )
        for i in range(rounds):
            db.session.add(
                User(
                    username=f"gammal{i}",
                    email=f"gammal{i}@example.se",
                    full_name="Gammal",
                    password_hash=old[i],
                    role=Role.ADMIN.value,
                    locale="sv",
                )
            )
        db.session.commit()

    def get_form(_i: int) -> None:
        response = app.test_client().get("/login")
        assert response.status_code == 200, response.status_code

    def login(username: str, password: str, expect: int) -> Callable[[int], None]:
        def action(i: int) -> None:
            name = username.format(i=i)
            response = app.test_client().post(
                "/login", data={"username": name, "password": password}
            )
            assert response.status_code == expect, (name, response.status_code)

        return action

    # Warm up (template compilation, the dummy hash, connection pool).
    for warm in (get_form, login("anna", PASSWORD, 302), login("okänd-x{i}", "fel", 200)):
        warm(0)

    steps = [
        ("GET /login (baseline)", get_form),
        ("POST /login, right password", login("anna", PASSWORD, 302)),
        ("POST /login, wrong password (real account)", login("anna{i}", "fel lösenord", 200)),
        ("POST /login, unknown username", login("okänd{i}", "fel lösenord", 200)),
        ("POST /login, old-parameter hash (rehash)", login("gammal{i}", PASSWORD, 302)),
    ]
    # "anna{i}" is no account: make the wrong-password step hit real accounts instead.
    with app.app_context():
        for i in range(rounds):
            db.session.add(
                User(
                    username=f"anna{i}",
                    email=f"anna{i}@example.se",
                    full_name="Anna",
                    password_hash=current,
                    role=Role.ADMIN.value,
                    locale="sv",
                )
            )
        db.session.commit()

    print(
        f"riskreg login benchmark — {platform.python_version()}, {os.cpu_count()} cores, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}, throttle {args.storage_uri}"
    )
    print(f"hasher: {_describe(passwords._hasher)}; load average before: {_load()}")
    results = {}
    for name, action in steps:
        results[name] = _timed(rounds, action)
    base_wall, base_cpu = results[steps[0][0]]
    print("\n| step | median wall ms | × baseline | median CPU ms | × baseline |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu) in results.items():
        print(
            f"| {name} | {wall * 1000:.1f} | {wall / base_wall:.1f} | {cpu * 1000:.1f} | "
            f"{cpu / base_cpu:.1f} |"
        )
    print(f"\nrounds: {rounds}; load average after: {_load()}")

    with app.app_context():
        rehashed = sum(
            1
            for u in db.session.scalars(db.select(User).where(User.username.like("gammal%")))
            if u.password_hash not in old and not passwords.needs_rehash(u.password_hash)
        )
    print(f"old-parameter hashes rehashed by their first login: {rehashed}/{rounds}")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(rounds):
            login("anna", PASSWORD, 302)(i)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def _describe(hasher: Any) -> str:
    return (
        f"argon2{hasher.type.name.lower()} m={hasher.memory_cost // 1024} MiB "
        f"t={hasher.time_cost} p={hasher.parallelism}"
    )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
