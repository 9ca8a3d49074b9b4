from __future__ import annotations

from flask import Flask

from riskreg.auth.models import User
from riskreg.extensions import db
from tests.conftest import TEST_PASSWORD, login


def test_login_and_logout(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller", full_name="Anna Åström")
    client = app.test_client()
    assert client.get("/").status_code == 302
    response = login(client, "anna")
    assert response.status_code == 302 and response.location == "/"
    assert "Anna Åström" in client.get("/").get_data(as_text=True)
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_and_unknown_user_look_the_same(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    client = app.test_client()
    wrong = login(client, "anna", "fel-lösenord-123").get_data(as_text=True)
    unknown = login(client, "ingen", "fel-lösenord-123").get_data(as_text=True)
    assert "Fel användarnamn eller lösenord" in wrong
    assert "Fel användarnamn eller lösenord" in unknown


def test_deactivated_user_cannot_log_in(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("anna", "controller")
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert login(app.test_client(), "anna").status_code == 200


def test_next_redirect_stays_on_this_site(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    for target, expected in (
        ("/risks/", "/risks/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        client = app.test_client()
        response = client.post(
            "/login", data={"username": "anna", "password": TEST_PASSWORD, "next": target}
        )
        assert response.location == expected, target


def test_password_hash_is_argon2id(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("anna", "controller")
    assert user.password_hash.startswith("$argon2id$")


def test_password_change_logs_out_other_sessions(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "anna")
    login(phone, "anna")
    response = laptop.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": "ett-helt-nytt-lösenord",
            "confirm": "ett-helt-nytt-lösenord",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302
    assert login(app.test_client(), "anna", "ett-helt-nytt-lösenord").status_code == 302


def test_weak_new_password_is_refused(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    client = app.test_client()
    login(client, "anna")
    response = client.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": "password1234",
            "confirm": "password1234",
        },
    )
    assert "för vanligt" in response.get_data(as_text=True)


def test_language_switch_to_english_and_back(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    client = app.test_client()
    login(client, "anna")
    assert "Riskregister" in client.get("/").get_data(as_text=True)
    client.post("/language", data={"locale": "en", "next": "/"})
    html = client.get("/").get_data(as_text=True)
    assert "Risk register" in html and 'lang="en"' in html
    with app.app_context():
        assert db.session.query(User).filter_by(username="anna").one().locale == "en"
    client.post("/language", data={"locale": "sv", "next": "/"})
    assert "Riskregister" in client.get("/").get_data(as_text=True)


def test_session_is_renewed_at_login(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("anna", "controller")
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, "anna")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_security_headers_are_set(app: Flask) -> None:
    response = app.test_client().get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
