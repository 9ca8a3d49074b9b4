"""`riskreg db harden`: against the real PostgreSQL, the application's role can add to the audit
trail and read it, and PostgreSQL refuses its UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from riskreg.audit.models import AuditEntry
from riskreg.extensions import db


def _is_postgres(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


@pytest.fixture
def app_role(app: Flask) -> Iterator[str]:
    if not _is_postgres(app):
        pytest.skip("roles and grants are PostgreSQL's; set RISKREG_TEST_DATABASE_URL")
    with app.app_context():
        database = db.engine.url.database
        role = f"{database}_app"  # roles are cluster-wide: one per test database

        def drop(conn) -> None:  # type: ignore[no-untyped-def]
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
            if exists.first():
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))

        with db.engine.begin() as conn:
            drop(conn)
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    yield role
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            drop(conn)


def test_the_app_role_may_insert_and_read_but_not_change_the_trail(
    app: Flask, app_role: str, make_unit  # type: ignore[no-untyped-def]
) -> None:
    make_unit("HSF")  # an entry to try to change
    result = app.test_cli_runner().invoke(args=["db", "harden", "--app-role", app_role])
    assert result.exit_code == 0, result.output
    assert "på audit_entry bara SELECT, INSERT" in result.output

    with app.app_context():
        url = make_url(str(db.engine.url)).set(username=app_role, password=None)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(AuditEntry.id)).first() is not None
            conn.execute(text("UPDATE unit SET name = 'ändrad' WHERE code = 'HSF'"))  # allowed
            conn.rollback()
            for statement in (
                "UPDATE audit_entry SET actor_name = 'någon annan'",
                "DELETE FROM audit_entry",
                "TRUNCATE audit_entry",
            ):
                with pytest.raises(ProgrammingError, match="permission denied"):
                    conn.execute(text(statement))
                conn.rollback()
    finally:
        engine.dispose()

    # The application itself still works as that role: a change writes its audit entry.
    from riskreg.audit.context import acting
    from riskreg.auth.services import create_unit
    from tests.conftest import make_app

    restricted = make_app(url.render_as_string(hide_password=False), app.instance_path)
    with restricted.app_context(), acting(actor_name="app-role"):
        create_unit(db.session, code="NY", name="Ny enhet")
        db.session.commit()
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None and entry.actor_name == "app-role"
        db.session.remove()
        db.engine.dispose()
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_harden_refuses_a_role_that_owns_the_tables(app: Flask) -> None:
    if not _is_postgres(app):
        pytest.skip("PostgreSQL only")
    with app.app_context():
        owner = db.session.scalar(
            text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_entry'")
        )
    result = app.test_cli_runner().invoke(args=["db", "harden", "--app-role", owner])
    assert result.exit_code == 2
    assert "superanvändare" in result.output or "äger tabellerna" in result.output


def test_harden_says_it_is_for_postgresql_only(app: Flask) -> None:
    if _is_postgres(app):
        pytest.skip("SQLite only")
    result = app.test_cli_runner().invoke(args=["db", "harden", "--app-role", "riskreg_app"])
    assert result.exit_code == 2
    assert "bara sättas upp på PostgreSQL" in result.output
