"""Apps with the protections the shared test app switches off (CSRF, rate limiting).

The session-wide test app runs with WTF_CSRF_ENABLED=False and RATELIMIT_ENABLED=False so that
feature tests can post forms directly. Security tests build their own app on the same database
with `hardened_app(app, ...)`; the `app` fixture they also request empties the tables after
the test as usual.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from riskreg.extensions import limiter
from tests.conftest import make_app


@contextmanager
def hardened_app(base: Flask, **overrides: Any) -> Iterator[Flask]:
    """A second app on `base`'s database with CSRF and rate limiting on (unless overridden).

    Each gets its own RATELIMIT_KEY_PREFIX, so counts never leak between tests or into other
    users of a shared Redis. Flask-Limiter's extension object is one global whose `enabled`
    flag follows the last app initialised; it is put back afterwards.
    """
    config: dict[str, Any] = {
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_KEY_PREFIX": f"riskreg-test-{uuid.uuid4().hex}",
    }
    config.update(overrides)
    was_enabled = limiter.enabled
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
        limiter.enabled = was_enabled
