from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Unit, User
from riskreg.extensions import db
from tests.conftest import login


def test_admin_creates_unit_with_parent_mailbox_and_manager(
    app: Flask, make_user, make_unit
) -> None:  # type: ignore[no-untyped-def]
    parent = make_unit("HSF", "Hälso- och sjukvårdsförvaltningen")
    boss = make_user("boss", "approver")
    make_user("ik", "admin")
    client = app.test_client()
    login(client, "ik")
    response = client.post(
        "/admin/units/new",
        data={
            "code": "Smittskydd",
            "name": "Smittskydd och vårdhygien",
            "parent_id": parent.id,
            "email": "smittskydd@example.org",
            "manager_id": boss.id,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == "Smittskydd"))
        assert unit.parent.code == "HSF" and unit.manager.username == "boss"
        assert unit.email == "smittskydd@example.org"
    duplicate = client.post(
        "/admin/units/new",
        data={"code": "smittskydd", "name": "X", "parent_id": 0, "manager_id": 0},
    )
    assert "finns redan" in duplicate.get_data(as_text=True)


def test_unit_cannot_be_placed_under_its_own_child(app: Flask, make_user, make_unit) -> None:  # type: ignore[no-untyped-def]
    top = make_unit("HSF")
    child = make_unit("CE", parent=None)
    with app.app_context():
        db.session.get(Unit, child.id).parent_id = top.id
        db.session.commit()
    make_user("ik", "admin")
    client = app.test_client()
    login(client, "ik")
    response = client.post(
        f"/admin/units/{top.id}/edit",
        data={"code": "HSF", "name": "HSF", "parent_id": child.id, "manager_id": 0},
    )
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Unit, top.id).parent_id is None


def test_admin_creates_and_edits_user(app: Flask, make_user, make_unit) -> None:  # type: ignore[no-untyped-def]
    ce = make_unit("CE")
    make_user("ik", "admin")
    client = app.test_client()
    login(client, "ik")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "karin",
            "full_name": "Karin Åström",
            "email": "karin@example.org",
            "role": "controller",
            "unit_ids": [ce.id],
            "locale": "sv",
            "active": "y",
            "password": "ett-långt-lösenord",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        karin = db.session.scalar(select(User).where(User.username == "karin"))
        assert karin.role == "controller" and [u.code for u in karin.units] == ["CE"]
        karin_id, karin_version = karin.id, karin.version
    assert login(app.test_client(), "karin", "ett-långt-lösenord").status_code == 302
    response = client.post(
        f"/admin/users/{karin_id}/edit",
        data={
            "username": "karin",
            "full_name": "Karin Å",
            "email": "karin@example.org",
            "role": "auditor",
            "locale": "en",
            "password": "",
            "version": karin_version,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        karin = db.session.get(User, karin_id)
        assert karin.role == "auditor" and not karin.active and karin.units == []
    assert login(app.test_client(), "karin", "ett-långt-lösenord").status_code == 200


def test_new_user_with_short_password_is_refused(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("ik", "admin")
    client = app.test_client()
    login(client, "ik")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "kalle",
            "full_name": "Kalle",
            "email": "k@example.org",
            "role": "auditor",
            "locale": "sv",
            "password": "kort",
        },
    )
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "kalle")) is None


def test_cli_users_create(app: Flask, make_unit) -> None:  # type: ignore[no-untyped-def]
    make_unit("CE")
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "erik",
            "--email",
            "erik@example.org",
            "--name",
            "Erik Ek",
            "--role",
            "unit_member",
            "--unit",
            "CE",
            "--password",
            "ett-långt-lösenord",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        erik = db.session.scalar(select(User).where(User.username == "erik"))
        assert [u.code for u in erik.units] == ["CE"]
    bad = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "olle",
            "--email",
            "o@example.org",
            "--name",
            "O",
            "--role",
            "auditor",
            "--unit",
            "FINNSEJ",
            "--password",
            "ett-långt-lösenord",
        ]
    )
    assert bad.exit_code == 1 and "FINNSEJ" in bad.output


def test_edit_pages_of_id_zero_do_not_exist(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("ik", "admin")
    client = app.test_client()
    login(client, "ik")
    for path in ("/admin/units/0/edit", "/admin/users/0/edit"):
        assert client.get(path).status_code == 404, path
    # Nor does posting to them create anything.
    data = {"code": "Noll", "name": "Noll", "parent_id": 0, "manager_id": 0}
    assert client.post("/admin/units/0/edit", data=data).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Unit).where(Unit.code == "Noll")) is None


def _edit(client, user_id: int, app: Flask, **changes: object):  # type: ignore[no-untyped-def]
    with app.app_context():
        user = db.session.get(User, user_id)
        data: dict[str, object] = {
            "username": user.username,
            "full_name": user.full_name,
            "email": user.email,
            "role": user.role,
            "unit_ids": [u.id for u in user.units],
            "locale": user.locale,
            "password": "",
            "version": user.version,
        }
        if user.active:
            data["active"] = "y"
    data.update(changes)
    if data.get("active") is None:
        data.pop("active")
    response = client.post(f"/admin/users/{user_id}/edit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)


def test_changes_of_active_state_role_or_units_end_the_users_sessions(
    app: Flask, make_user, make_unit
) -> None:  # type: ignore[no-untyped-def]
    make_unit("CE")
    staben = make_unit("Staben")
    make_user("ik", "admin")
    karin = make_user("karin", "controller", units=["CE"])
    admin = app.test_client()
    login(admin, "ik")

    def karins_browser():  # type: ignore[no-untyped-def]
        browser = app.test_client()
        assert login(browser, "karin").status_code == 302
        assert browser.get("/").status_code == 200
        return browser

    # Only the name changes: Karin stays signed in.
    browser = karins_browser()
    _edit(admin, karin.id, app, full_name="Karin Ny")
    assert browser.get("/").status_code == 200
    # Deactivated, then reactivated: the old cookie does not come back to life.
    _edit(admin, karin.id, app, active=None)
    assert browser.get("/").status_code == 302
    _edit(admin, karin.id, app, active="y")
    assert browser.get("/").status_code == 302
    # A new role, or other units: the sessions end too.
    browser = karins_browser()
    _edit(admin, karin.id, app, role="auditor")
    assert browser.get("/").status_code == 302
    browser = karins_browser()
    _edit(admin, karin.id, app, unit_ids=[staben.id])
    assert browser.get("/").status_code == 302
    assert karins_browser().get("/").status_code == 200  # she can sign in again
