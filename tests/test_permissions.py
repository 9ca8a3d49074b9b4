"""Every route × every role. A route missing from EXPECTED fails the guard test.

Each entry says which roles may use the endpoint; everyone else must be refused (403 or 404 for
signed-in users, a redirect to the login page for anonymous visitors) and see none of the data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Unit, User
from riskreg.extensions import db
from riskreg.plans.models import Plan, Risk
from tests.conftest import login

ALL = {"admin", "controller", "unit_member", "approver", "auditor"}
ADMIN = {"admin"}
READ_ALL = {"admin", "controller", "auditor"}
PUBLIC = ALL | {"anonymous"}

# endpoint -> (method, url builder, roles allowed)
Ids = dict[str, int]
EXPECTED: dict[str, tuple[str, Callable[[Ids], str], set[str]]] = {
    "static": ("GET", lambda i: "/static/css/riskreg.css", PUBLIC),
    "auth.login": ("GET", lambda i: "/login", PUBLIC),
    "auth.logout": ("POST", lambda i: "/logout", ALL),
    "auth.language": ("POST", lambda i: "/language", PUBLIC),
    "auth.change_password": ("GET", lambda i: "/account/password", ALL),
    "dashboard.index": ("GET", lambda i: "/", ALL),
    "plans.index": ("GET", lambda i: "/plans/", ALL),
    "plans.show": ("GET", lambda i: f"/plans/{i['plan']}", ALL),
    "plans.new": ("GET", lambda i: "/plans/new", ADMIN),
    "plans.adopt": ("GET", lambda i: f"/plans/{i['plan']}/adopt", ADMIN),
    "plans.import_file": ("GET", lambda i: "/plans/import", ADMIN),
    "plans.export": ("GET", lambda i: f"/plans/{i['plan']}/export.csv", READ_ALL),
    "risks.index": ("GET", lambda i: "/risks/", ALL),
    "risks.heatmap": ("GET", lambda i: "/risks/heatmap", ALL),
    "risks.matrix_css": ("GET", lambda i: "/risks/matrix.css", ALL),
    # The CE risk: unit members of Smittskydd must not see it; the approver (HSF) may.
    "risks.show": ("GET", lambda i: f"/risks/{i['ce_risk']}", READ_ALL | {"approver"}),
    "risks.new": ("GET", lambda i: f"/risks/new?plan={i['plan']}", ADMIN),
    "risks.edit": ("GET", lambda i: f"/risks/{i['ce_risk']}/edit", ADMIN),
    "risks.delete": ("POST", lambda i: f"/risks/{i['ce_risk']}/delete", ADMIN),
    "admin.units": ("GET", lambda i: "/admin/units", ADMIN),
    "admin.edit_unit": ("GET", lambda i: f"/admin/units/{i['unit']}/edit", ADMIN),
    "admin.users": ("GET", lambda i: "/admin/users", ADMIN),
    "admin.edit_user": ("GET", lambda i: f"/admin/users/{i['user']}/edit", ADMIN),
    "admin.matrix": ("GET", lambda i: "/admin/matrix", ADMIN),
}

DEMO_LOGIN = {
    "admin": "admin",
    "controller": "granskare",
    "unit_member": "smittskydd",
    "approver": "chef",
    "auditor": "revisor",
}


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - set(EXPECTED)
    assert not missing, f"routes missing from the permission matrix: {sorted(missing)}"
    stale = set(EXPECTED) - endpoints
    assert not stale, f"matrix names routes that no longer exist: {sorted(stale)}"


def test_every_view_declares_its_permission(app: Flask) -> None:
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, "permission")
    ]
    assert not undeclared, f"views without @requires: {undeclared}"


def _ids(app: Flask) -> Ids:
    with app.app_context():
        plan = db.session.scalar(select(Plan))
        ce = db.session.scalar(select(Unit).where(Unit.code == "CE"))
        ce_risk = db.session.scalar(select(Risk).where(Risk.responsible_unit_id == ce.id))
        user = db.session.scalar(select(User).where(User.username == "ce"))
        return {"plan": plan.id, "ce_risk": ce_risk.id, "unit": ce.id, "user": user.id}


ROLES = [*sorted(ALL), "anonymous"]


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app: Flask, demo: dict[str, str], role: str) -> None:
    ids = _ids(app)
    client = app.test_client()
    if role != "anonymous":
        response = login(client, DEMO_LOGIN[role], demo[DEMO_LOGIN[role]])
        assert response.status_code == 302, f"{role} could not log in"
    failures: list[str] = []
    # Logout last: it ends the session the other checks need.
    for endpoint, (method, url_for_ids, allowed) in sorted(
        EXPECTED.items(), key=lambda item: item[0] == "auth.logout"
    ):
        if endpoint == "risks.delete" and role in allowed:
            continue  # exercised destructively in tests/risks; here only refusals matter
        url = url_for_ids(ids)
        response: Any = client.open(url, method=method)
        code = response.status_code
        response.close()
        if role in allowed:
            bounced = code == 302 and "/login" in response.location
            ok = code in (200, 302) and (not bounced or endpoint == "auth.logout")
        elif role == "anonymous":
            ok = code == 302 and "/login" in response.location
        else:
            ok = code in (403, 404)
        if not ok:
            failures.append(f"{method} {url} ({endpoint}) as {role}: {code}")
    assert not failures, "\n".join(failures)


def test_unit_member_sees_only_own_units_risks_in_lists(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "smittskydd", demo["smittskydd"])
    page = client.get("/risks/").get_data(as_text=True)
    assert "basala hygienrutiner" in page
    assert "privata vårdgivare" not in page
    plan_page = client.get(f"/plans/{_ids(app)['plan']}").get_data(as_text=True)
    assert "basala hygienrutiner" in plan_page
    assert "privata vårdgivare" not in plan_page


def test_other_units_risk_by_id_is_404_without_data(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "smittskydd", demo["smittskydd"])
    response = client.get(f"/risks/{_ids(app)['ce_risk']}")
    assert response.status_code == 404
    assert "privata vårdgivare" not in response.get_data(as_text=True)
