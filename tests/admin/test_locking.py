"""No lost updates on the unit and user forms: a stale form gets a conflict with both versions."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from riskreg.auth import services
from riskreg.auth.models import Unit, User
from riskreg.errors import StaleObject
from riskreg.extensions import db
from tests.conftest import login


def _unit_form(unit: Unit, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "code": unit.code,
        "name": unit.name,
        "parent_id": unit.parent_id or 0,
        "email": unit.email or "",
        "manager_id": unit.manager_id or 0,
        "version": unit.version,
    }
    form.update(changes)
    return form


def _user_form(user: User, **changes: object) -> dict[str, object]:
    """The form as loaded (units are passed in `changes`: the user is detached here)."""
    form: dict[str, object] = {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role,
        "unit_ids": [],
        "locale": user.locale,
        "active": "y" if user.active else "",
        "password": "",
        "version": user.version,
    }
    form.update(changes)
    return form


def test_stale_unit_form_shows_both_versions_and_overwrites_nothing(
    app: Flask, make_user, make_unit
) -> None:  # type: ignore[no-untyped-def]
    unit = make_unit("CE", "Centrum för ekonomi")
    make_user("anna", "admin")
    make_user("bo", "admin")
    anna, bo = app.test_client(), app.test_client()
    login(anna, "anna")
    login(bo, "bo")
    page = anna.get(f"/admin/units/{unit.id}/edit").get_data(as_text=True)
    assert f'name="version" type="hidden" value="{unit.version}"' in page
    # Bo saves first.
    assert bo.post(f"/admin/units/{unit.id}/edit", data=_unit_form(unit, name="Bos namn")
                   ).status_code == 302
    # Anna's form still carries the old version.
    response = anna.post(f"/admin/units/{unit.id}/edit", data=_unit_form(unit, name="Annas namn"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Någon annan har sparat ändringar" in html
    conflict = html.split('data-testid="conflict"')[1].split("</div>")[0]
    assert "Bos namn" in conflict  # the saved version
    assert 'value="Annas namn"' in html  # her own, still in the form
    with app.app_context():
        saved = db.session.get(Unit, unit.id)
        assert saved.name == "Bos namn"
        new_version = saved.version
    assert f'name="version" type="hidden" value="{new_version}"' in html
    # Saving again, now knowingly over Bo's version, works.
    again = anna.post(
        f"/admin/units/{unit.id}/edit",
        data=_unit_form(unit, name="Annas namn", version=new_version),
    )
    assert again.status_code == 302
    with app.app_context():
        assert db.session.get(Unit, unit.id).name == "Annas namn"


def test_stale_user_form_shows_both_versions_and_overwrites_nothing(
    app: Flask, make_user, make_unit
) -> None:  # type: ignore[no-untyped-def]
    ce = make_unit("CE")
    target = make_user("karin", "controller", units=["CE"], full_name="Karin Åström")
    make_user("anna", "admin")
    make_user("bo", "admin")
    anna, bo = app.test_client(), app.test_client()
    login(anna, "anna")
    login(bo, "bo")
    assert bo.post(f"/admin/users/{target.id}/edit",
                   data=_user_form(target, role="auditor", unit_ids=[])).status_code == 302
    response = anna.post(
        f"/admin/users/{target.id}/edit",
        data=_user_form(
            target, full_name="Karin Å", unit_ids=[ce.id], password="ett-helt-nytt-lösenord"
        ),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Någon annan har sparat ändringar" in html
    conflict = html.split('data-testid="conflict"')[1].split("</div>")[0]
    assert "Revisor" in conflict and "—" in conflict  # Bo's role, no units
    assert 'value="Karin Å"' in html
    with app.app_context():
        saved = db.session.get(User, target.id)
        assert saved.role == "auditor" and saved.full_name == "Karin Åström"
    # Nothing of Anna's form was applied, the new password neither.
    assert login(app.test_client(), "karin", "ett-helt-nytt-lösenord").status_code == 200


@pytest.mark.parametrize("version", ["", "abc", "-1", "999"])
def test_a_missing_or_forged_version_is_a_conflict(
    app: Flask, make_user, make_unit, version: str
) -> None:  # type: ignore[no-untyped-def]
    unit = make_unit("CE", "Centrum för ekonomi")
    make_user("anna", "admin")
    client = app.test_client()
    login(client, "anna")
    response = client.post(
        f"/admin/units/{unit.id}/edit", data=_unit_form(unit, name="X", version=version)
    )
    assert response.status_code == 200 and 'data-testid="conflict"' in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.get(Unit, unit.id).name == "Centrum för ekonomi"


def test_a_save_between_read_and_write_is_a_conflict_too(app: Flask, make_unit) -> None:  # type: ignore[no-untyped-def]
    """The form check passes, but another transaction commits before ours flushes: the version
    column (SQLAlchemy's version_id_col) turns that into the same conflict, not a 500."""
    unit = make_unit("CE", "Centrum för ekonomi")
    with app.app_context():
        ours = Session(db.engine)
        theirs = Session(db.engine)
        try:
            mine = ours.get(Unit, unit.id)
            assert mine is not None
            version = mine.version
            other = theirs.get(Unit, unit.id)
            assert other is not None
            other.name = "Deras"
            theirs.commit()
            with pytest.raises(StaleObject):
                services.update_unit(
                    ours, mine, code="CE", name="Vår", parent=None, email=None, manager=None,
                    expected_version=version,
                )
            ours.rollback()
        finally:
            ours.close()
            theirs.close()
        assert db.session.get(Unit, unit.id).name == "Deras"


def test_logging_out_does_not_make_an_open_user_form_stale(
    app: Flask, make_user
) -> None:  # type: ignore[no-untyped-def]
    target = make_user("karin", "controller")
    make_user("anna", "admin")
    admin = app.test_client()
    login(admin, "anna")
    karin = app.test_client()
    login(karin, "karin")
    karin.post("/logout")  # ends her sessions (new epoch) without touching the row version
    response = admin.post(f"/admin/users/{target.id}/edit", data=_user_form(target))
    assert response.status_code == 302
