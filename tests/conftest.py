"""Shared fixtures: one schema per test session, emptied after every test.

The suite runs on SQLite by default and on PostgreSQL when RISKREG_TEST_DATABASE_URL is set.
Tables are truncated rather than rolled back so that views can commit exactly as in production.

The demo data (which signs PDFs) is built once per session for each set of feature steps the
tests ask for, as a template: a SQLite file, or a PostgreSQL database used with
`CREATE DATABASE ... TEMPLATE`, plus a copy of the files it wrote into its instance folder
(keys, signed reports, evidence). `load_demo_data` restores that template into the empty test
database instead of loading the demo again; see `DemoTemplates`.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import Table, create_engine, exists, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

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


def _admin_engine(url: str) -> Any:
    """A connection to PostgreSQL's maintenance database, for CREATE/DROP DATABASE."""
    return create_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )


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
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's database. Under pytest-xdist each worker has its own: SQLite files live in
    the worker's temporary folder, and on PostgreSQL the worker id is appended to the name in
    RISKREG_TEST_DATABASE_URL (riskreg_test_gw0, ...), created here and dropped at the end."""
    url = _database_url(tmp_path_factory)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or make_url(url).get_backend_name() != "postgresql":
        yield url
        return
    name = f"{make_url(url).database}_{worker}"
    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


def _filled_tables(conn: Any) -> list[Table]:
    """The tables holding at least one row, found in one query."""
    tables = db.metadata.sorted_tables
    row = conn.execute(
        select(*(exists().select_from(t).label(f"t{i}") for i, t in enumerate(tables)))
    ).one()
    return [table for table, filled in zip(tables, row, strict=True) if filled]


def empty_all_tables(app: Flask) -> None:
    # A streamed download the test did not close keeps its request's session, and with it an
    # open transaction, until the generator is collected; on PostgreSQL TRUNCATE then waits
    # for it forever. Collect first, and let a lock that is still held fail loudly.
    gc.collect()
    with app.app_context():
        db.session.remove()
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET lock_timeout = '60s'")
            filled = _filled_tables(conn)
            if conn.dialect.name == "postgresql":
                if filled:
                    names = ", ".join(f'"{t.name}"' for t in filled)
                    conn.execute(text(f"TRUNCATE {names} CASCADE"))
                # Ids start at 1 again, also in tables the test filled and emptied itself.
                conn.execute(
                    text(
                        "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1,"
                        " false) FROM pg_sequences"
                        " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                    )
                )
            elif filled:
                # units and users point at each other; SQLite checks keys row by row.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                for table in reversed(filled):
                    conn.execute(table.delete())
                conn.commit()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


@pytest.fixture()
def app(_app: Flask, demo_templates: DemoTemplates) -> Iterator[Flask]:
    yield _app
    empty_all_tables(_app)


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RISKREG_* variable of the caller's shell, and an empty instance folder: what a
    fresh deployment's create_app() sees. Returns the instance folder."""
    for key in list(os.environ):
        if key.startswith("RISKREG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RISKREG_INSTANCE_PATH", str(tmp_path))
    return tmp_path


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


def _load_demo_now(app: Flask, feature_demos: tuple[str, ...] | None) -> dict[str, str]:
    """Really load the demo data into `app`'s database (signing its PDFs). Returns passwords."""
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


@dataclass(frozen=True)
class DemoTemplate:
    passwords: dict[str, str]
    database: str  # the SQLite file or the PostgreSQL database holding the loaded demo
    instance: Path  # the files the demo wrote into its instance folder


class DemoTemplates:
    """The demo loaded once per session and feature-step set, restored into each test's database.

    A template is built by a second app on its own database and instance folder. Restoring it
    copies the database into place (SQLite's backup API; on PostgreSQL the test database is
    dropped and created again from the template) and copies the template's instance files over
    the test app's instance folder, so rows and files (signed reports, keys, evidence) match.
    """

    def __init__(self, session_app: Flask, database_url: str, root: Path) -> None:
        self.session_app = session_app
        self.url = make_url(database_url)
        self.root = root
        self.templates: dict[tuple[str, ...] | None, DemoTemplate] = {}

    @property
    def postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def _admin(self) -> Any:
        return _admin_engine(self.url.render_as_string(hide_password=False))

    def get(self, feature_demos: tuple[str, ...] | None) -> DemoTemplate:
        if feature_demos not in self.templates:
            self.templates[feature_demos] = self._build(feature_demos)
        return self.templates[feature_demos]

    def _build(self, feature_demos: tuple[str, ...] | None) -> DemoTemplate:
        name = f"demo{len(self.templates)}"
        instance = self.root / name / "instance"
        instance.mkdir(parents=True)
        if self.postgresql:
            database = f"{self.url.database}_{name}"[:63]
            with self._admin().connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            url = self.url.set(database=database).render_as_string(hide_password=False)
        else:
            database = str(self.root / name / "demo.sqlite3")
            url = f"sqlite:///{database}"
        builder = make_app(url, instance)
        with builder.app_context():
            db.create_all()
        try:
            passwords = _load_demo_now(builder, feature_demos)
        finally:
            with builder.app_context():
                db.session.remove()
                db.engine.dispose()
        return DemoTemplate(passwords=passwords, database=database, instance=instance)

    def restore(self, app: Flask, template: DemoTemplate) -> dict[str, str]:
        with app.app_context():
            db.session.remove()
            if self.postgresql:
                db.engine.dispose()
                with self.session_app.app_context():
                    db.session.remove()
                    db.engine.dispose()
                live = self.url.database
                with self._admin().connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{live}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{live}" TEMPLATE "{template.database}"'))
            else:
                raw = db.engine.raw_connection()
                try:
                    with sqlite3.connect(template.database) as source:
                        source.backup(raw.driver_connection)  # type: ignore[arg-type]
                finally:
                    raw.close()
        shutil.copytree(template.instance, app.instance_path, dirs_exist_ok=True)
        return dict(template.passwords)

    def drop(self) -> None:
        if self.postgresql and self.templates:
            with self._admin().connect() as conn:
                for template in self.templates.values():
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{template.database}"'))


_demo_templates: dict[str, DemoTemplates] = {}  # the session app's database URL -> templates


@pytest.fixture(scope="session")
def demo_templates(
    _app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoTemplates]:
    templates = DemoTemplates(_app, database_url, tmp_path_factory.mktemp("demo-templates"))
    _demo_templates[database_url] = templates
    yield templates
    del _demo_templates[database_url]
    templates.drop()


def _is_empty(app: Flask) -> bool:
    with app.app_context():
        db.session.remove()
        with db.engine.connect() as conn:
            return not _filled_tables(conn)


def load_demo_data(app: Flask, feature_demos: tuple[str, ...] | None = None) -> dict[str, str]:
    """Load the demo data, optionally only up to some features' steps. Returns passwords.

    Into the session's empty test database the demo is restored from its session template
    (built on first use); anything else gets the demo loaded for real.
    """
    templates = _demo_templates.get(app.config["SQLALCHEMY_DATABASE_URI"])
    if templates is not None and _is_empty(app):
        return templates.restore(app, templates.get(feature_demos))
    return _load_demo_now(app, feature_demos)


@pytest.fixture()
def demo(app: Flask, demo_templates: DemoTemplates) -> dict[str, str]:
    """The whole demo data set: units, one user per role, the adopted 2025 plan and every
    feature's demo step. Returns the passwords."""
    return load_demo_data(app)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
