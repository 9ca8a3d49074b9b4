"""Web hardening over every route: CSRF on each POST, security headers on each GET, no inline
script or style anywhere. Routes come from app.url_map and their URLs from the permission
matrix (tests/permission_matrix/), so routes other features add are covered without edits here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.security.apps import db_fingerprint, hardened_app, login_with_csrf
from tests.test_permissions import EXPECTED, _ids

CSRF_TITLE = "Formuläret kunde inte tas emot"
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle\s*=|<style\b", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
# Data a careless view would happily store if CSRF did not stop it first.
PLAUSIBLE_FORM = {
    "title": "CSRF-test",
    "name": "CSRF-test",
    "code": "CSRFTEST",
    "reason": "CSRF-test",
    "organisation": "CSRF-test",
    "year": "2031",
    "locale": "en",
    "username": "admin",
    "password": "fel-lösenord-123",
}


def _rules(app: Flask, method: str) -> list[tuple[str, str]]:
    """(endpoint, url) for every route accepting `method`, URL from the permission matrix."""
    ids = _ids(app)
    found = []
    for rule in app.url_map.iter_rules():
        if method not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        assert rule.endpoint in EXPECTED, f"{rule.endpoint} is missing from the matrix"
        found.append((rule.endpoint, EXPECTED[rule.endpoint][1](ids)))
    return sorted(set(found))


@pytest.fixture()
def protected(app: Flask, demo: dict[str, str]) -> Iterator[tuple[Flask, dict[str, str]]]:
    with hardened_app(app) as hard:
        yield hard, demo


def _admin(hard: Flask, demo: dict[str, str]) -> FlaskClient:
    client = hard.test_client()
    assert login_with_csrf(client, "admin", demo["admin"]).status_code == 302
    return client


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_post_route_refuses_a_form_without_its_csrf_token(
    protected: tuple[Flask, dict[str, str]], who: str
) -> None:
    hard, demo = protected
    client = _admin(hard, demo) if who == "admin" else hard.test_client()
    routes = _rules(hard, "POST")
    assert {"auth.login", "auth.logout", "risks.delete", "admin.edit_user"} <= {
        endpoint for endpoint, _ in routes
    }
    before = db_fingerprint(hard)
    failures = []
    for endpoint, url in routes:
        for data in (PLAUSIBLE_FORM, {**PLAUSIBLE_FORM, "csrf_token": "forged.token.value"}):
            response = client.post(url, data=data)
            html = response.get_data(as_text=True)
            if response.status_code != 400 or CSRF_TITLE not in html:
                failures.append(f"POST {url} ({endpoint}): {response.status_code}")
    assert not failures, "\n".join(failures)
    assert db_fingerprint(hard) == before
    # Still signed in and serving: a refused form is no error of the application.
    assert client.get("/").status_code == (200 if who == "admin" else 302)


def test_a_token_from_another_session_is_refused(protected: tuple[Flask, dict[str, str]]) -> None:
    hard, demo = protected
    attacker = hard.test_client()
    token = re.search(
        r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
        attacker.get("/login").get_data(as_text=True),
    )
    assert token
    victim = _admin(hard, demo)
    before = db_fingerprint(hard)
    response = victim.post("/language", data={"locale": "en", "csrf_token": token.group(1)})
    assert response.status_code == 400
    assert db_fingerprint(hard) == before


def _check_headers(response: Any, where: str) -> list[str]:
    problems = []
    csp = response.headers.get("Content-Security-Policy", "")
    for needed in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'",
                   "object-src 'none'", "base-uri 'self'", "form-action 'self'"):
        if needed not in csp:
            problems.append(f"{where}: CSP lacks {needed}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(f"{where}: CSP allows unsafe-inline/eval")
    expected = {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    for header, value in expected.items():
        if response.headers.get(header) != value:
            problems.append(f"{where}: {header} is {response.headers.get(header)!r}")
    return problems


def _check_markup(html: str, where: str) -> list[str]:
    problems = []
    for pattern, what in (
        (INLINE_SCRIPT, "inline <script>"),
        (INLINE_STYLE, "inline style"),
        (EVENT_HANDLER, "inline event handler"),
    ):
        match = pattern.search(html)
        if match:
            problems.append(f"{where}: {what}: {match.group(0)[:80]}")
    return problems


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_get_route_sends_the_security_headers_and_no_inline_code(
    protected: tuple[Flask, dict[str, str]], who: str
) -> None:
    hard, demo = protected
    client = _admin(hard, demo) if who == "admin" else hard.test_client()
    problems: list[str] = []
    urls = [url for _endpoint, url in _rules(hard, "GET")]
    urls += ["/static/css/riskreg.css", "/finns-inte", "/admin/users/999999/edit"]
    for url in urls:
        response = client.get(url)
        where = f"GET {url} ({response.status_code})"
        if response.status_code >= 500:
            problems.append(f"{where}: server error")
        problems += _check_headers(response, where)
        if response.mimetype == "text/html":
            problems += _check_markup(response.get_data(as_text=True), where)
        response.close()
    assert not problems, "\n".join(problems)


def test_error_pages_carry_the_headers_too(app: Flask, demo: dict[str, str]) -> None:
    with hardened_app(app, MAX_CONTENT_LENGTH=1024, LOGIN_ACCOUNT_LIMIT="1 per hour") as hard:
        client = hard.test_client()
        responses = {
            "400 csrf": client.post("/language", data={"locale": "en"}),
            "413": client.post("/login", data={"username": "x" * 5000}),
        }
        login_with_csrf(client, "admin", "fel-lösenord-123")
        responses["429"] = login_with_csrf(client, "admin", "fel-lösenord-123")
        member = hard.test_client()
        login_with_csrf(member, "smittskydd", demo["smittskydd"], ip="192.0.2.77")
        responses["403"] = member.get("/admin/users")
        responses["404"] = member.get("/plans/999999")
        problems = []
        for name, response in responses.items():
            assert str(response.status_code) == name.split()[0], name
            problems += _check_headers(response, name)
            problems += _check_markup(response.get_data(as_text=True), name)
        assert not problems, "\n".join(problems)


def test_exports_are_attachments_with_nosniff(app: Flask, demo: dict[str, str]) -> None:
    with hardened_app(app) as hard:
        client = _admin(hard, demo)
        plan_url = EXPECTED["plans.export"][1](_ids(hard))
        for url in (plan_url, "/audit/export.csv", "/audit/export.xlsx"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers["Content-Disposition"].startswith("attachment;"), url
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            # A streamed download holds its request context until closed, as a server does.
            response.close()


def test_ids_beyond_the_database_range_are_404_on_every_route(
    protected: tuple[Flask, dict[str, str]],
) -> None:
    """`<int:...>` only matches ids an INTEGER column holds (riskreg.DatabaseId)."""
    from werkzeug.routing import IntegerConverter

    hard, demo = protected
    client = _admin(hard, demo)
    checked, problems = 0, []
    for rule in hard.url_map.iter_rules():
        if not any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            continue
        for huge in (2**31, 10**30):
            values = {
                name: (huge if isinstance(conv, IntegerConverter) else "csv")
                for name, conv in rule._converters.items()
            }
            path = rule.rule
            for name, value in values.items():
                path = re.sub(rf"<[^>]*:?{name}>", str(value), path)
            method = "GET" if "GET" in (rule.methods or ()) else "POST"
            response = client.open(path, method=method)
            checked += 1
            if response.status_code != 404:
                problems.append(f"{method} {path}: {response.status_code}")
    assert checked >= 10 and not problems, problems
