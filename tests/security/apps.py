"""Apps with the protections the shared test app switches off (CSRF, rate limiting).

The session-wide test app runs with WTF_CSRF_ENABLED=False and RATELIMIT_ENABLED=False so that
feature tests can post forms directly. Security tests build their own app on the same database
with `hardened_app(app, ...)`; the `app` fixture they also request empties the tables after
the test as usual.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import csrf_token_from, make_app


@contextmanager
def hardened_app(base: Flask, **overrides: Any) -> Iterator[Flask]:
    """A second app on `base`'s database with CSRF and rate limiting on (unless overridden).

    Each gets its own RATELIMIT_KEY_PREFIX, so counts never leak between tests or into other
    users of a shared Redis.
    """
    config: dict[str, Any] = {
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_KEY_PREFIX": f"riskreg-test-{uuid.uuid4().hex}",
    }
    config.update(overrides)
    hardened = make_app(
        base.config["SQLALCHEMY_DATABASE_URI"], base.instance_path, **config
    )
    try:
        yield hardened
    finally:
        with hardened.app_context():
            from riskreg.extensions import db

            db.session.remove()
            db.engine.dispose()


def login_with_csrf(
    client: FlaskClient, username: str, password: str, ip: str = "192.0.2.10", **extra: str
) -> Any:
    """Log in through the form as a browser does: fetch the page, send its CSRF token back."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, **extra},
        environ_base={"REMOTE_ADDR": ip},
    )


def db_fingerprint(app: Flask) -> dict[str, tuple[int, str]]:
    """Row count and a hash of the sorted rows of every table: equal before and after means
    the database is unchanged (nothing written, nothing half-written, no audit entry)."""
    with app.app_context():
        from riskreg.extensions import db

        result: dict[str, tuple[int, str]] = {}
        for table in db.metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
            digest = hashlib.sha256("\n".join(rows).encode("utf-8", "surrogatepass")).hexdigest()
            result[table.name] = (len(rows), digest)
        db.session.remove()
        return result
