"""Deployment settings: Secure cookies in production, ProxyFix behind a TLS-terminating proxy."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, request
from sqlalchemy import select

from riskreg import create_app
from riskreg.audit.models import AuditEntry
from riskreg.config import ConfigError
from riskreg.extensions import db
from tests.conftest import TEST_PASSWORD, csrf_token_from
from tests.security.apps import hardened_app


def test_session_cookie_is_secure_by_default_only_in_production(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert create_app().config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("RISKREG_ENV_NAME", "production")
    monkeypatch.setenv("RISKREG_SECRET_KEY", "a-long-random-production-secret")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_refuses_insecure_cookies_unless_explicitly_allowed(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKREG_ENV_NAME", "production")
    monkeypatch.setenv("RISKREG_SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.setenv("RISKREG_SESSION_COOKIE_SECURE", "false")
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SECURE"):
        create_app()
    monkeypatch.setenv("RISKREG_ALLOW_INSECURE_SESSION_COOKIE", "true")
    assert create_app().config["SESSION_COOKIE_SECURE"] is False


def test_proxy_settings_come_from_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKREG_PROXY_FIX_X_FOR", "1")
    monkeypatch.setenv("RISKREG_PROXY_FIX_X_PROTO", "1")
    app = create_app()
    assert app.config["PROXY_FIX_X_FOR"] == 1
    assert type(app.wsgi_app).__name__ == "ProxyFix"


def _probe(app: Flask) -> None:
    if "probe" not in app.view_functions:

        @app.route("/_probe")
        def probe() -> str:
            return f"{request.remote_addr} {request.scheme} {request.host}"

        probe.permission = "public"  # type: ignore[attr-defined]


def test_without_proxy_fix_forwarded_headers_are_ignored(app: Flask) -> None:
    with hardened_app(app) as plain:
        _probe(plain)
        response = plain.test_client().get(
            "/_probe",
            headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
        assert response.get_data(as_text=True).startswith("10.0.0.2 http ")


def test_with_proxy_fix_the_client_address_and_scheme_come_from_the_proxy(app: Flask) -> None:
    with hardened_app(app, PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, PROXY_FIX_X_HOST=1) as behind:
        _probe(behind)
        response = behind.test_client().get(
            "/_probe",
            headers={
                # A client-sent value first, the one our proxy appended last: only the last
                # (one trusted hop) counts, so a client cannot choose its address.
                "X-Forwarded-For": "6.6.6.6, 203.0.113.9",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "riskreg.regionen.se",
            },
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
        assert response.get_data(as_text=True) == "203.0.113.9 https riskreg.regionen.se"


def test_behind_the_proxy_the_audit_trail_and_the_throttle_see_the_client(
    app: Flask, make_user
) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    make_user("bertil", "controller")
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    with hardened_app(
        app, PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, LOGIN_IP_LIMIT="3 per 15 minutes"
    ) as behind:

        def via_proxy(client_ip: str) -> dict[str, str]:
            # Over HTTPS Flask-WTF also wants a same-origin Referer on every POST; browsers
            # send it because of our Referrer-Policy: same-origin.
            return {
                "X-Forwarded-For": client_ip,
                "X-Forwarded-Proto": "https",
                "Referer": "https://localhost/login",
            }

        client = behind.test_client()
        token_page = client.get("/login", headers=via_proxy("203.0.113.9"), environ_base=proxy)
        logged_in = client.post(
            "/login",
            data={
                "username": "anna",
                "password": TEST_PASSWORD,
                "csrf_token": csrf_token_from(token_page.get_data(as_text=True)),
            },
            headers=via_proxy("203.0.113.9"),
            environ_base=proxy,
        )
        assert logged_in.status_code == 302, logged_in.get_data(as_text=True)
        page = client.get("/account/password", headers=via_proxy("203.0.113.9"), environ_base=proxy)
        client.post(
            "/logout",
            data={"csrf_token": csrf_token_from(page.get_data(as_text=True))},
            headers=via_proxy("203.0.113.9"),
            environ_base=proxy,
        )
        with behind.app_context():
            entry = db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == "logout")
            ).one()
            assert entry.ip == "203.0.113.9"

        # Three failures from one client behind the proxy throttle that client, not the proxy
        # (which every other user also comes through).
        def attempt(client_ip: str, username: str, password: str) -> int:
            c = behind.test_client()
            tok = csrf_token_from(
                c.get("/login", headers=via_proxy(client_ip), environ_base=proxy).get_data(
                    as_text=True
                )
            )
            return c.post(
                "/login",
                data={"username": username, "password": password, "csrf_token": tok},
                headers=via_proxy(client_ip),
                environ_base=proxy,
            ).status_code

        for name in ("x1", "x2", "x3"):
            assert attempt("198.51.100.1", name, "fel-lösenord-123") == 200
        assert attempt("198.51.100.1", "bertil", TEST_PASSWORD) == 429
        assert attempt("198.51.100.2", "bertil", TEST_PASSWORD) == 302
