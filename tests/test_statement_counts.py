"""No list page runs more SQL statements for more rows (issue 15: 9,384 statements for one page).

For every list page, as an administrator and as a unit member where the page is theirs too:
count the statements of one GET with 10 rows of the page's objects, add rows up to 1,000
(bulk inserts through the models, tests/scale_data.py), count again. The count must not grow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, insert, select

from riskreg.audit.models import AuditEntry
from riskreg.auth.models import Role, User
from riskreg.extensions import db
from tests import scale_data
from tests.conftest import TEST_PASSWORD, login

SMALL, LARGE = 10, 1000

#: Page, and whether a unit member may open it (else only the administrator is counted).
PAGES: dict[str, bool] = {
    "/": True,
    "/risks/": True,
    "/risks/?sort=risk_value": True,
    "/risks/heatmap": True,
    "/controls/": True,
    "/controls/?sort=unit&overdue=1": True,
    "/controls/actions/": True,
    "/reports/": True,
    "/sampling/": True,
    "/audit/": False,
    "/plans/": True,
    "/admin/users": False,
    "/admin/units": False,
}


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


class Register:
    """Units, people, one plan; ``grow_to(n)`` adds objects of every kind up to ``n`` each."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.count = 0
        with app.app_context():
            session = db.session()
            self.units = scale_data.units(session, [("REG", None), ("A", "REG"), ("B", "REG")])
            unit_ids = list(self.units.values())
            admin = scale_data.user(session, "admin", Role.ADMIN)
            member = scale_data.user(session, "member", Role.UNIT_MEMBER, [self.units["A"]])
            controller = scale_data.user(session, "controller", Role.CONTROLLER)
            for user in (admin, member, controller):
                user.password_hash = _hash(TEST_PASSWORD)
            self.controller_id = controller.id
            self.plan_id = scale_data.plan(session, 2026)
            scale_data.followup_report(session, self.plan_id)
            self.unit_ids = unit_ids
            session.commit()

    def grow_to(self, n: int) -> None:
        with self.app.app_context():
            session = db.session()
            more = n - self.count
            scale_data.register(
                session,
                plan_id=self.plan_id,
                unit_ids=self.unit_ids,
                controllers=[self.controller_id],
                n=more,
                start=self.count,
            )
            # People and units grow too: the admin lists show them.
            scale_data.members(session, range(self.count, n), self.unit_ids)
            scale_data.more_units(session, range(self.count, n), parent=self.units["B"])
            # The trail numbers its entries itself (no sequence): continue after the last.
            last = session.scalar(select(func.max(AuditEntry.id))) or 0
            session.execute(
                insert(AuditEntry),
                [
                    {
                        "id": last + 1 + i - self.count,
                        "at": scale_data.NOW + dt.timedelta(seconds=i),
                        "actor_name": "test",
                        "action": "update",
                        "object_type": "control",
                        "object_id": str(i),
                        "payload": "{}",
                        "prev_hash": "0" * 64,
                        "hash": hashlib.sha256(f"entry {i}".encode()).hexdigest(),
                    }
                    for i in range(self.count, n)
                ],
            )
            session.commit()
            self.count = n


def _hash(password: str) -> str:
    from riskreg.auth.passwords import hash_password

    return hash_password(password)


def _statements(app: Flask, client: FlaskClient, path: str) -> int:
    client.get(path)  # warm: first-request work (matrix, templates) is not per row
    with counting(app) as statements:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(statements)


@pytest.fixture()
def register(app: Flask) -> Register:
    return Register(app)


def test_statements_do_not_grow_with_rows(app: Flask, register: Register) -> None:
    """One register grown from 10 to 1,000 rows of everything; every page counted at both
    sizes (one build for all pages keeps this test fast)."""
    clients: dict[str, FlaskClient] = {}
    for name in ("admin", "member"):
        clients[name] = app.test_client()
        assert login(clients[name], name).status_code == 302
    visits = [
        (path, name) for path, member_too in PAGES.items()
        for name in (("admin", "member") if member_too else ("admin",))
    ]
    register.grow_to(SMALL)
    small = {(path, name): _statements(app, clients[name], path) for path, name in visits}
    register.grow_to(LARGE)
    large = {(path, name): _statements(app, clients[name], path) for path, name in visits}
    # Fewer is fine (a first page of ten rows may name ten different things; a full page
    # repeats them); more is the N+1 this test is for.
    grown = {
        f"{path} as {name}": f"{small[path, name]} statements with {SMALL} rows, "
        f"{large[path, name]} with {LARGE}"
        for path, name in visits
        if large[path, name] > small[path, name]
    }
    assert not grown, grown


def test_the_large_register_is_paged(app: Flask, register: Register) -> None:
    """With 1,000 controls the list shows one page of them and says how many there are."""
    register.grow_to(LARGE)
    client = app.test_client()
    login(client, "admin")
    html = client.get("/controls/").get_data(as_text=True)
    assert html.count('data-testid="control-row"') == 50
    assert "1000 granskningar" in html or "1 000 granskningar" in html
    assert 'data-testid="page-next"' in html
    with app.app_context():
        assert db.session.query(User).count() > LARGE
