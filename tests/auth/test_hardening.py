"""Authentication hardening: password policy, login throttling and lockout, cookies, sessions."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.audit.models import AuditEntry
from riskreg.auth import passwords
from riskreg.auth.models import User
from riskreg.auth.services import authenticate, password_problems
from riskreg.extensions import db
from tests.conftest import TEST_PASSWORD, csrf_token_from, login
from tests.security.apps import hardened_app
from tests.security.apps import login_with_csrf as post_login

LOCKED = "Inloggningen är tillfälligt spärrad"
WRONG = "Fel användarnamn eller lösenord"


# --- password policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "password1234",  # in zxcvbn's list of common passwords
        "Qwerty123456!",  # keyboard row + digits
        "iloveyou1234",
        "Sommar2025!!",  # the Swedish classic: season + year
        "Stockholm2025!",
        "Lösenord2025!",
        "aaaaaaaaaaaaaaaa",
        "abcdefghijklmn",
        "Anna.Andersson",  # the user's own name
        "andersson-anna",
    ],
)
def test_easily_guessed_passwords_are_refused(password: str) -> None:
    problems = password_problems(
        password, username="anna", full_name="Anna Andersson", email="anna.andersson@region.se"
    )
    assert problems, password
    assert any("lätt att gissa" in p or "för vanligt" in p or "användarnamn" in p for p in problems)


@pytest.mark.parametrize(
    "password",
    [
        TEST_PASSWORD,
        "ett-långt-lösenord",
        "Min katt heter Findus",
        "Tekopp.Lampa.9",
        "gröna-bilar-kör",
    ],
)
def test_long_unusual_passwords_are_accepted(password: str) -> None:
    assert password_problems(password, username="anna", full_name="Anna Andersson") == []


def test_length_limits() -> None:
    assert "minst 12 tecken" in password_problems("Kx9#vQ2!mZ")[0]
    assert "högst 200 tecken" in password_problems("Kx9#vQ2!mZ" * 21)[0]
    # Beyond zxcvbn's 72 characters the password is judged on its start, without an error.
    assert password_problems("Tekopp.Lampa.9-" * 10) == []


def test_policy_applies_to_admin_set_and_cli_passwords(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("ik", "admin")
    target = make_user("anna", "controller")
    client = app.test_client()
    login(client, "ik")
    response = client.post(
        f"/admin/users/{target.id}/edit",
        data={
            "username": "anna",
            "full_name": "Anna",
            "email": "anna@example.org",
            "role": "controller",
            "locale": "sv",
            "active": "y",
            "password": "Sommar2025!!",
            "version": target.version,
        },
    )
    assert response.status_code == 200 and "för vanligt" in response.get_data(as_text=True)
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", "anna", "--password", "qwerty123456", "--as", "ik"]
    )
    assert result.exit_code == 1 and "vanligt" in result.output


def test_unknown_username_costs_a_hash_verification_too(ctx: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    real = passwords.verify_password

    def spy(password_hash: str, password: str) -> bool:
        calls.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    assert authenticate(db.session, "finns-inte", "något-lösenord") is None
    assert calls == ["något-lösenord"]


# --- throttling and lockout -------------------------------------------------------------------


def test_account_is_locked_after_five_failures_even_for_the_right_password(
    app: Flask, make_user
) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app) as hard:
        client = hard.test_client()
        for _ in range(5):
            response = post_login(client, "anna", "fel-lösenord-123")
            assert response.status_code == 200 and WRONG in response.get_data(as_text=True)
        response = post_login(client, "Anna ", TEST_PASSWORD)  # case and spaces do not help
        html = response.get_data(as_text=True)
        assert response.status_code == 429
        assert LOCKED in html and "15 min" in html
        assert int(response.headers["Retry-After"]) > 800
        assert client.get("/").status_code == 302  # not logged in
        # Another address is refused too: the lock is on the account.
        elsewhere = post_login(hard.test_client(), "anna", TEST_PASSWORD, ip="198.51.100.7")
        assert elsewhere.status_code == 429


def test_lockout_message_does_not_reveal_whether_the_account_exists(
    app: Flask, make_user
) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app) as hard:
        pages = {}
        for name in ("anna", "ingen-sadan"):
            client = hard.test_client()
            for _ in range(5):
                post_login(client, name, "fel-lösenord-123", ip=f"192.0.2.{len(name)}")
            response = post_login(client, name, "fel-lösenord-123", ip=f"192.0.2.{len(name)}")
            assert response.status_code == 429
            html = response.get_data(as_text=True).replace(name, "NAME")
            pages[name] = re.sub(r'name="csrf_token"[^>]*>', "", html)
        assert pages["anna"] == pages["ingen-sadan"]


def test_successful_login_resets_the_failures(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app) as hard:
        for _ in range(4):
            post_login(hard.test_client(), "anna", "fel-lösenord-123")
        assert post_login(hard.test_client(), "anna", TEST_PASSWORD).status_code == 302
        for _ in range(4):
            post_login(hard.test_client(), "anna", "fel-lösenord-123")
        assert post_login(hard.test_client(), "anna", TEST_PASSWORD).status_code == 302


def test_lock_expires(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app, LOGIN_ACCOUNT_LIMIT="2 per 1 second") as hard:
        client = hard.test_client()
        post_login(client, "anna", "fel-lösenord-123")
        post_login(client, "anna", "fel-lösenord-123")
        assert post_login(client, "anna", TEST_PASSWORD).status_code == 429
        time.sleep(1.2)
        assert post_login(client, "anna", TEST_PASSWORD).status_code == 302


def test_failures_from_one_address_across_many_usernames_are_throttled(
    app: Flask, make_user
) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app, LOGIN_IP_LIMIT="3 per 15 minutes") as hard:
        for name in ("a1", "a2", "a3"):
            response = post_login(hard.test_client(), name, "x" * 12, ip="203.0.113.5")
            assert response.status_code == 200
        refused = post_login(hard.test_client(), "anna", TEST_PASSWORD, ip="203.0.113.5")
        assert refused.status_code == 429
        assert "från din adress" in refused.get_data(as_text=True)
        # Other addresses, and the account itself, are unaffected.
        other = post_login(hard.test_client(), "anna", TEST_PASSWORD, ip="203.0.113.6")
        assert other.status_code == 302


def test_successful_logins_do_not_count_against_the_address(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app, LOGIN_IP_LIMIT="2 per 15 minutes") as hard:
        for _ in range(5):
            assert post_login(hard.test_client(), "anna", TEST_PASSWORD).status_code == 302


def test_a_lockout_is_written_to_the_users_audit_history(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    anna = make_user("anna", "controller")
    with hardened_app(app) as hard:
        for _ in range(5):
            post_login(hard.test_client(), "anna", "fel-lösenord-123", ip="192.0.2.99")
        for _ in range(5):
            post_login(hard.test_client(), "ingen-sadan", "fel-lösenord-123", ip="192.0.2.98")
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "lockout")).all()
        assert [(e.object_type, e.object_id, e.ip) for e in entries] == [
            ("user", str(anna.id), "192.0.2.99")
        ]
        assert json.loads(entries[0].payload)["changes"] == {"failed_logins": 5}


def test_admin_setting_a_new_password_lifts_the_lock(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("ik", "admin")
    anna = make_user("anna", "controller")
    with hardened_app(app) as hard:
        for _ in range(5):
            post_login(hard.test_client(), "anna", "fel-lösenord-123")
        assert post_login(hard.test_client(), "anna", TEST_PASSWORD).status_code == 429
        admin = hard.test_client()
        assert post_login(admin, "ik", TEST_PASSWORD, ip="192.0.2.200").status_code == 302
        page = admin.get(f"/admin/users/{anna.id}/edit").get_data(as_text=True)
        response = admin.post(
            f"/admin/users/{anna.id}/edit",
            data={
                "csrf_token": csrf_token_from(page),
                "username": "anna",
                "full_name": "Anna",
                "email": "anna@example.org",
                "role": "controller",
                "locale": "sv",
                "active": "y",
                "password": "ett-helt-nytt-lösenord",
                "version": anna.version,
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        assert post_login(hard.test_client(), "anna", "ett-helt-nytt-lösenord").status_code == 302


def test_redis_storage_is_shared_between_workers(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    make_user("anna", "controller")
    prefix = f"riskreg-test-{uuid.uuid4().hex}"
    settings = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "RATELIMIT_KEY_PREFIX": prefix}
    try:
        # Two apps with the same Redis are two gunicorn workers: failures add up across them.
        with hardened_app(app, **settings) as worker1, hardened_app(app, **settings) as worker2:
            for worker in (worker1, worker2, worker1, worker2, worker1):
                post_login(worker.test_client(), "anna", "fel-lösenord-123")
            assert post_login(worker2.test_client(), "anna", TEST_PASSWORD).status_code == 429
            assert client.keys(f"*{prefix}*")
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        client.close()


def test_login_still_works_when_the_throttle_storage_is_down(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0") as hard:
        for _ in range(5):
            post_login(hard.test_client(), "anna", "fel-lösenord-123")
        # Counted in memory instead: still locked, and nobody else is locked out.
        assert post_login(hard.test_client(), "anna", TEST_PASSWORD).status_code == 429
        make_user("bertil", "controller")
        assert post_login(hard.test_client(), "bertil", TEST_PASSWORD).status_code == 302


# --- cookies and sessions ---------------------------------------------------------------------


def _session_cookie(response: Any) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_and_expires(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    cookie = _session_cookie(login(app.test_client(), "anna"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # development: plain http://localhost works


def test_production_session_cookie_is_secure(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(
        app, ENV_NAME="production", WTF_CSRF_ENABLED=False, SESSION_COOKIE_SECURE=None
    ) as prod:
        assert prod.config["SESSION_COOKIE_SECURE"] is True
        response = login(prod.test_client(), "anna")
        assert "; Secure" in _session_cookie(response)


def test_session_fixation_a_planted_session_and_its_csrf_token_die_at_login(
    app: Flask, make_user
) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    with hardened_app(app) as hard:
        client = hard.test_client()
        before = csrf_token_from(client.get("/login").get_data(as_text=True))
        with client.session_transaction() as sess:
            sess["planted"] = "by an attacker"
            planted_cookie = dict(sess)
        assert post_login(client, "anna", TEST_PASSWORD).status_code == 302
        with client.session_transaction() as sess:
            assert "planted" not in sess
            assert dict(sess) != planted_cookie
        # A form token from before the login no longer works after it.
        response = client.post("/account/password", data={"csrf_token": before})
        assert response.status_code == 400


def test_a_copied_session_cookie_is_dead_after_logout(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    client = app.test_client()
    login(client, "anna")
    stolen = client.get_cookie("session")
    assert stolen is not None
    thief = app.test_client()
    thief.set_cookie("session", stolen.value)
    assert thief.get("/").status_code == 200
    client.post("/logout")
    assert thief.get("/").status_code == 302


def test_admin_set_password_logs_the_user_out_everywhere(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("ik", "admin")
    anna = make_user("anna", "controller")
    laptop = app.test_client()
    login(laptop, "anna")
    assert laptop.get("/").status_code == 200
    admin = app.test_client()
    login(admin, "ik")
    response = admin.post(
        f"/admin/users/{anna.id}/edit",
        data={
            "username": "anna",
            "full_name": "Anna",
            "email": "anna@example.org",
            "role": "controller",
            "locale": "sv",
            "active": "y",
            "password": "ett-helt-nytt-lösenord",
            "version": anna.version,
        },
    )
    assert response.status_code == 302
    assert laptop.get("/").status_code == 302
    assert login(app.test_client(), "anna", "ett-helt-nytt-lösenord").status_code == 302


def test_deactivating_a_user_ends_their_sessions(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    anna = make_user("anna", "controller")
    client = app.test_client()
    login(client, "anna")
    with app.app_context():
        db.session.get(User, anna.id).active = False
        db.session.commit()
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "http:evil.example",
        "https:/evil.example",
        " //evil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
    ],
)
def test_next_never_leaves_the_site(app: Flask, make_user, target: str) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "anna", "password": TEST_PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response.location == "/"
    response = client.post("/language", data={"locale": "en", "next": target})
    assert response.location == "/"


def test_next_keeps_a_path_with_query_on_this_site(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    response = app.test_client().post(
        "/login",
        data={"username": "anna", "password": TEST_PASSWORD, "next": "/risks/?q=hygien&s=3"},
    )
    assert response.location == "/risks/?q=hygien&s=3"
