"""Every route × every role. A route missing from the matrix fails the guard test.

Each entry says which roles may use the endpoint; everyone else must be refused (403 or 404 for
signed-in users, a redirect to the login page for anonymous visitors) and see none of the data.
The matrix lives in tests/permission_matrix/, one module per feature.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

import pytest
from flask import Flask

import tests.permission_matrix as matrix_package
from tests.conftest import login
from tests.permission_matrix.roles import ALL, Ids, Matrix


def _modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{matrix_package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(matrix_package.__path__)
        if info.name != "roles"
    ]


def _expected() -> Matrix:
    merged: Matrix = {}
    for module in _modules():
        for endpoint, entry in module.EXPECTED.items():
            assert endpoint not in merged, f"{endpoint} is in two matrix modules"
            merged[endpoint] = entry
    return merged


EXPECTED = _expected()

DEMO_LOGIN = {
    "admin": "admin",
    "controller": "granskare",
    "unit_member": "smittskydd",
    "approver": "chef",
    "auditor": "revisor",
}

# Routes that change or destroy something on an allowed GET/POST are exercised in their own
# feature tests; here only the refusals are checked for them.
DESTRUCTIVE = {"risks.delete"}


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
    found: Ids = {}
    for module in _modules():
        if hasattr(module, "ids"):
            found.update(module.ids(app))
    return found


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
        if endpoint in DESTRUCTIVE and role in allowed:
            continue
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
