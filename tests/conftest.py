"""Shared fixtures: one schema per test session, emptied after every test.

The suite runs on SQLite by default and on PostgreSQL when RISKREG_TEST_DATABASE_URL is set.
Tables are truncated rather than rolled back so that views can commit exactly as in production.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import text

from riskreg import create_app
from riskreg.auth.models import Role, Unit, User
from riskreg.auth.services import create_unit, create_user
from riskreg.extensions import db

# No time limits on examples: speed is measured by the scripts under bench/, and a loaded CI
# machine must not turn a correct test red.
settings.register_profile("riskreg", deadline=None)
settings.load_profile("riskreg")

TEST_PASSWORD = "korrekt-häst-batteri-47"


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("RISKREG_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id at production cost takes ~60 ms a hash; the tests create hundreds of users."""
    from argon2 import PasswordHasher

    from riskreg.auth import passwords

    production = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = production


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


def make_app(database_url: str, instance_dir: Path, **overrides: Any) -> Flask:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        "BASE_URL": "http://riskreg.test",
    }
    config.update(overrides)
    return create_app(config, instance_path=instance_dir)


@pytest.fixture(scope="session")
def _app(database_url: str, instance_dir: Path) -> Iterator[Flask]:
    app = make_app(database_url, instance_dir)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.drop_all()  # leftovers of an interrupted run; SQLite starts from a new file
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            db.drop_all()
        db.engine.dispose()


def empty_all_tables(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        tables = db.metadata.sorted_tables
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                # units and users point at each other; SQLite checks keys row by row.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                for table in reversed(tables):
                    conn.execute(table.delete())
                conn.commit()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


@pytest.fixture()
def app(_app: Flask) -> Iterator[Flask]:
    yield _app
    empty_all_tables(_app)


@pytest.fixture()
def ctx(app: Flask) -> Iterator[Flask]:
    """An application context for tests that call services directly."""
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture()
def make_unit(app: Flask) -> Callable[..., Unit]:
    def factory(
        code: str, name: str | None = None, parent: Unit | None = None, **kwargs: Any
    ) -> Unit:
        with app.app_context():
            unit = create_unit(db.session, code=code, name=name or code, parent=parent, **kwargs)
            db.session.commit()
            db.session.refresh(unit)
            db.session.expunge(unit)
            return unit

    return factory


@pytest.fixture()
def make_user(app: Flask) -> Callable[..., User]:
    def factory(
        username: str,
        role: Role | str = Role.ADMIN,
        units: list[str] | tuple[str, ...] = (),
        **kwargs: Any,
    ) -> User:
        with app.app_context():
            from sqlalchemy import select

            unit_objs = list(db.session.scalars(select(Unit).where(Unit.code.in_(units))))
            user = create_user(
                db.session,
                username=username,
                email=kwargs.pop("email", f"{username}@example.org"),
                full_name=kwargs.pop("full_name", username.title()),
                password=kwargs.pop("password", TEST_PASSWORD),
                role=role,
                units=unit_objs,
                **kwargs,
            )
            db.session.commit()
            user_id = user.id
        with app.app_context():
            loaded = db.session.get(User, user_id)
            assert loaded is not None
            db.session.expunge(loaded)
            return loaded

    return factory


def login(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> Any:
    return client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )


def load_demo_data(app: Flask, feature_demos: tuple[str, ...] | None = None) -> dict[str, str]:
    """Load the demo data, optionally only up to some features' steps. Returns passwords."""
    from concurrent.futures import ThreadPoolExecutor

    from riskreg.db import now_utc
    from riskreg.demo import load_demo

    def run() -> dict[str, str]:
        with app.app_context():
            result = load_demo(db.session, now=now_utc(), feature_demos=feature_demos)
            db.session.commit()
            db.session.remove()
        return result.passwords

    # On a worker thread: the demo signs PDFs, and pyHanko's asyncio.run() refuses to run in a
    # thread where Playwright's browser keeps an event loop open.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture()
def demo(app: Flask) -> dict[str, str]:
    """The whole demo data set: units, one user per role, the adopted 2025 plan and every
    feature's demo step. Returns the passwords."""
    return load_demo_data(app)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
