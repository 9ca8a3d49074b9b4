from __future__ import annotations

import re
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from riskreg.auth.models import Role
from riskreg.controls.models import Action, CheckType, Control, ControlStatus
from riskreg.db import local_date, now_utc
from riskreg.extensions import db
from riskreg.risks.models import Risk
from tests.conftest import login


def _as(app: Flask, demo: dict[str, str], username: str) -> FlaskClient:
    client = app.test_client()
    response = login(client, username, demo[username])
    assert response.status_code == 302, f"{username} could not log in"
    return client


def _control(app: Flask, check_type: CheckType | str, title_part: str = "") -> Control:
    with app.app_context():
        query = select(Control).where(Control.check_type == CheckType(check_type).value)
        if title_part:
            query = query.where(Control.title.contains(title_part))
        control = db.session.scalars(query.order_by(Control.id)).first()
        assert control is not None
        db.session.expunge(control)
        return control


def _reload(app: Flask, control_id: int) -> Control:
    with app.app_context():
        control = db.session.get(Control, control_id)
        assert control is not None
        _ = [e.to_status for e in control.events], control.controllers
        db.session.expunge(control)
        return control


def _risk(app: Flask, title_part: str) -> Risk:
    with app.app_context():
        risk = db.session.scalar(select(Risk).where(Risk.title.contains(title_part)))
        db.session.expunge(risk)
        return risk


def _user_id(app: Flask, username: str) -> int:
    from riskreg.auth.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def _chr_actions(app: Flask) -> list[Action]:
    with app.app_context():
        actions = list(
            db.session.scalars(
                select(Action)
                .join(Action.control)
                .where(Control.title.contains("timanställning"))
                .order_by(Action.due_date)
            )
        )
        for a in actions:
            db.session.expunge(a)
        return actions


# --- demo ---------------------------------------------------------------------------------------


def test_demo_has_one_control_per_risk_planned_but_one(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        controls = list(db.session.scalars(select(Control)))
        assert len(controls) == 7
        assert len({c.risk_id for c in controls}) == 7
        by_type: dict[str, list[Control]] = {}
        for c in controls:
            by_type.setdefault(c.check_type, []).append(c)
            assert c.deviation_definition.strip()
            assert c.deadline == date(2025, 8, 15)
        assert {t: len(cs) for t, cs in by_type.items()} == {
            "payments": 1,
            "passcards": 1,
            "hygiene": 1,
            "referrals": 1,
            "generic": 3,
        }
        assert [c.responsible_unit.code for c in by_type["payments"]] == ["CE"]
        assert [u.username for u in by_type["payments"][0].controllers] == ["granskare"]
        assert [u.username for u in by_type["passcards"][0].controllers] == ["granskare2"]
        assert by_type["referrals"][0].responsible_unit.code == "POU staben"
        for c in by_type["generic"]:
            assert 2 <= len(c.attributes_text.splitlines()) <= 4
        in_progress = [c for c in controls if c.status == ControlStatus.IN_PROGRESS]
        assert [c.responsible_unit.code for c in in_progress] == ["CHR"]
        assert in_progress[0].conclusion.startswith("Utkast")
        assert all(c.status == ControlStatus.PLANNED for c in controls if c not in in_progress)
        today = local_date(now_utc())
        dues = sorted(a.due_date for a in in_progress[0].actions)
        assert len(dues) == 2
        assert dues[0] < today < dues[1]
        assert dues[1] - today >= timedelta(days=13)


# --- list, risk page, dashboard -----------------------------------------------------------------


def _list_titles(html: str) -> list[str]:
    return re.findall(r'<a href="/controls/\d+">([^<]+)</a>', html)


def test_list_shows_what_each_role_may_see(app: Flask, demo: dict[str, str]) -> None:
    assert len(_list_titles(_text(_as(app, demo, "admin").get("/controls/")))) == 7
    assert len(_list_titles(_text(_as(app, demo, "revisor").get("/controls/")))) == 7
    assert len(_list_titles(_text(_as(app, demo, "chef").get("/controls/")))) == 7
    # Controllers see the controls assigned to them.
    mine = _list_titles(_text(_as(app, demo, "granskare").get("/controls/")))
    assert len(mine) == 3 and any("privata vårdgivare" in t for t in mine)
    theirs = _list_titles(_text(_as(app, demo, "granskare2").get("/controls/")))
    assert len(theirs) == 4 and not any("privata vårdgivare" in t for t in theirs)
    # Unit members see their unit's.
    html = _text(_as(app, demo, "smittskydd").get("/controls/"))
    assert _list_titles(html) == [
        "Följsamhet till basala hygienrutiner och klädregler (PPM-BHK) 2025"
    ]
    assert "Risk för felaktig utbetalning" not in html


def test_list_filters(app: Flask, demo: dict[str, str]) -> None:
    client = _as(app, demo, "admin")
    assert len(_list_titles(_text(client.get("/controls/?status=in_progress")))) == 1
    assert len(_list_titles(_text(client.get("/controls/?type=generic")))) == 3
    ce = _control(app, CheckType.PAYMENTS).responsible_unit_id
    assert len(_list_titles(_text(client.get(f"/controls/?unit={ce}")))) == 2
    plan = _risk(app, "passerkort").plan_id
    assert len(_list_titles(_text(client.get(f"/controls/?plan={plan}")))) == 7
    assert _list_titles(_text(client.get(f"/controls/?plan={plan + 99}"))) == []
    # Unknown values are ignored rather than failing.
    assert len(_list_titles(_text(client.get("/controls/?status=x&type=y&unit=z")))) == 7


def test_overdue_controls_are_marked_and_filtered(app: Flask, demo: dict[str, str]) -> None:
    payments = _control(app, CheckType.PAYMENTS)
    with app.app_context():
        control = db.session.get(Control, payments.id)
        control.deadline = now_utc().date() - timedelta(days=1)
        db.session.commit()
    client = _as(app, demo, "admin")
    html = _text(client.get("/controls/?overdue=1"))
    titles = _list_titles(html)
    assert payments.title in titles
    assert 'data-testid="overdue"' in html


def test_risk_page_shows_its_controls_and_new_button(app: Flask, demo: dict[str, str]) -> None:
    risk = _risk(app, "basala hygienrutiner")
    html = _text(_as(app, demo, "granskare").get(f"/risks/{risk.id}"))
    assert 'data-testid="risk-controls"' in html
    assert "(PPM-BHK) 2025" not in html  # granskare is not assigned to the hygiene control
    assert f"/controls/new?risk={risk.id}" in html
    html = _text(_as(app, demo, "smittskydd").get(f"/risks/{risk.id}"))
    assert "Följsamhet till basala hygienrutiner och klädregler (PPM-BHK) 2025" in html
    assert "/controls/new" not in html


def test_dashboard_panel_counts(app: Flask, demo: dict[str, str]) -> None:
    html = _text(_as(app, demo, "admin").get("/"))
    assert 'data-testid="controls-panel"' in html
    assert re.search(r'data-testid="overdue-actions">1<', html)


# --- new and edit -------------------------------------------------------------------------------


def test_new_without_risk_lets_the_user_pick_one(app: Flask, demo: dict[str, str]) -> None:
    html = _text(_as(app, demo, "granskare").get("/controls/new"))
    assert len(re.findall(r'href="/controls/new\?risk=\d+"', html)) == 7


def test_new_form_defaults_to_the_plan_row(app: Flask, demo: dict[str, str]) -> None:
    risk = _risk(app, "passerkort")
    html = _text(_as(app, demo, "granskare").get(f"/controls/new?risk={risk.id}"))
    assert 'value="2025-08-15"' in html
    assert risk.review_area in html
    me = _user_id(app, "granskare")
    assert re.search(rf'value="{me}" checked', html)
    assert re.search(rf'<option selected value="{risk.responsible_unit_id}"', html) or re.search(
        rf'<option value="{risk.responsible_unit_id}" selected', html
    )
    assert "ISA 530" in html  # why the deviation definition comes first


def test_create_control_through_the_form(app: Flask, demo: dict[str, str]) -> None:
    risk = _risk(app, "passerkort")
    client = _as(app, demo, "granskare")
    response = client.post(
        f"/controls/new?risk={risk.id}",
        data={
            "title": "Uppföljning av passerkort hösten 2025",
            "check_type": "passcards",
            "responsible_unit_id": risk.responsible_unit_id,
            "controllers": [_user_id(app, "granskare")],
            "deadline": "",
            "deviation_definition": "Kort hos någon som slutat.",
        },
    )
    assert response.status_code == 302
    control_id = int(response.location.rsplit("/", 1)[1])
    control = _reload(app, control_id)
    assert control.deadline == date(2025, 8, 15)  # the plan row's "granskning klar"
    assert control.status == ControlStatus.PLANNED
    assert [u.username for u in control.controllers] == ["granskare"]
    html = _text(client.get(f"/controls/{control_id}"))
    assert "Granskningen är planerad." in html
    assert "Uppföljning av passerkort hösten 2025" in html
    assert 'data-testid="history-row"' in html


def test_new_control_validation_messages(app: Flask, demo: dict[str, str]) -> None:
    risk = _risk(app, "passerkort")
    client = _as(app, demo, "granskare")
    html = _text(client.post(f"/controls/new?risk={risk.id}", data={"title": " "}))
    assert "Ange vad granskningen gäller." in html
    assert "Välj minst en granskare." in html
    assert "Välj typ av granskning." in html
    html = _text(
        client.post(
            f"/controls/new?risk={risk.id}",
            data={
                "title": "Övrigt",
                "check_type": "generic",
                "responsible_unit_id": risk.responsible_unit_id,
                "controllers": [_user_id(app, "granskare")],
            },
        )
    )
    assert "Ange vilka attribut som kontrolleras per post" in html
    # Only controllers can be assigned (the form offers no one else).
    html = _text(
        client.post(
            f"/controls/new?risk={risk.id}",
            data={
                "title": "Övrigt",
                "check_type": "passcards",
                "responsible_unit_id": risk.responsible_unit_id,
                "controllers": [_user_id(app, "chef")],
            },
        )
    )
    assert "är inte ett giltigt val" in html
    with app.app_context():
        assert len(list(db.session.scalars(select(Control)))) == 7


def test_unit_member_and_approver_cannot_plan_controls(app: Flask, demo: dict[str, str]) -> None:
    risk = _risk(app, "basala hygienrutiner")
    assert _as(app, demo, "smittskydd").get(f"/controls/new?risk={risk.id}").status_code == 403
    assert _as(app, demo, "chef").post(f"/controls/new?risk={risk.id}").status_code == 403


def _edit_data(control: Control, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": control.title,
        "controllers": [u.id for u in control.controllers],
        "deadline": control.deadline.isoformat(),
        "deviation_definition": control.deviation_definition,
        "attributes_text": control.attributes_text,
        "version": str(control.version),
    }
    data.update(changes)
    return data


def test_edit_a_planned_control(app: Flask, demo: dict[str, str]) -> None:
    payments = _reload(app, _control(app, CheckType.PAYMENTS).id)
    client = _as(app, demo, "granskare")
    html = _text(client.get(f"/controls/{payments.id}/edit"))
    assert f'name="version" type="hidden" value="{payments.version}"' in html
    response = client.post(
        f"/controls/{payments.id}/edit",
        data=_edit_data(
            payments,
            deadline="2025-09-30",
            controllers=[_user_id(app, "granskare"), _user_id(app, "granskare2")],
        ),
    )
    assert response.status_code == 302
    control = _reload(app, payments.id)
    assert control.deadline == date(2025, 9, 30)
    assert {u.username for u in control.controllers} == {"granskare", "granskare2"}
    assert control.version > payments.version


def test_stale_edit_shows_a_conflict_with_both_versions(app: Flask, demo: dict[str, str]) -> None:
    payments = _reload(app, _control(app, CheckType.PAYMENTS).id)
    mine = _as(app, demo, "granskare")
    theirs = _as(app, demo, "admin")
    assert (
        theirs.post(
            f"/controls/{payments.id}/edit",
            data=_edit_data(payments, deviation_definition="Deras definition"),
        ).status_code
        == 302
    )
    response = mine.post(
        f"/controls/{payments.id}/edit",
        data=_edit_data(payments, deviation_definition="Min definition"),
    )
    assert response.status_code == 200
    html = _text(response)
    assert 'data-testid="conflict"' in html
    assert "Deras definition" in html and "Min definition" in html
    assert _reload(app, payments.id).deviation_definition == "Deras definition"
    # Saving again (with the version now on the form) overwrites knowingly.
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    assert version
    response = mine.post(
        f"/controls/{payments.id}/edit",
        data=_edit_data(payments, deviation_definition="Min definition", version=version.group(1)),
    )
    assert response.status_code == 302
    assert _reload(app, payments.id).deviation_definition == "Min definition"


def test_edit_is_closed_once_started(app: Flask, demo: dict[str, str]) -> None:
    chr_control = _control(app, CheckType.GENERIC, "timanställning")
    client = _as(app, demo, "granskare")
    response = client.get(f"/controls/{chr_control.id}/edit")
    assert response.status_code == 302
    assert "kan bara ändras medan den är planerad" in _text(client.get(response.location))
    # Another controller's control: not even visible.
    passcards = _control(app, CheckType.PASSCARDS)
    assert client.get(f"/controls/{passcards.id}/edit").status_code == 404


# --- status flow ----------------------------------------------------------------------------------


def _step(client: FlaskClient, app: Flask, control_id: int, step: str, note: str = "") -> str:
    version = _reload(app, control_id).version
    response = client.post(
        f"/controls/{control_id}/{step}", data={"version": str(version), "note": note}
    )
    assert response.status_code == 302, step
    return _text(client.get(response.location))


def test_status_flow_through_http_with_refusals(app: Flask, demo: dict[str, str]) -> None:
    control_id = _control(app, CheckType.PAYMENTS).id
    controller = _as(app, demo, "granskare")
    chef = _as(app, demo, "chef")

    html = _step(controller, app, control_id, "start")
    assert "Granskningen är påbörjad." in html
    assert _reload(app, control_id).status == ControlStatus.IN_PROGRESS

    html = _step(controller, app, control_id, "submit")
    assert "Skriv granskarens slutsats" in html
    assert _reload(app, control_id).status == ControlStatus.IN_PROGRESS

    version = _reload(app, control_id).version
    response = controller.post(
        f"/sampling/controls/{control_id}/evaluate",
        data={"conclusion": "Inga väsentliga fel.", "version": str(version)},
    )
    assert response.status_code == 302
    html = _step(controller, app, control_id, "submit")
    assert "Granskningen är lämnad för godkännande." in html
    assert _reload(app, control_id).status == ControlStatus.READY_FOR_REVIEW
    # The conclusion is locked now.
    assert 'data-testid="conclusion-form"' not in html

    # The controller cannot approve (own work, and not an approver).
    version = _reload(app, control_id).version
    assert (
        controller.post(
            f"/controls/{control_id}/approve", data={"version": str(version)}
        ).status_code
        == 403
    )
    # An approver of another unit does not even see the control.
    from tests.conftest import TEST_PASSWORD

    with app.app_context():
        from riskreg.auth.models import Unit, User
        from riskreg.auth.services import create_user

        create_user(
            db.session,
            username="chef_smitta",
            email="chef_smitta@example.org",
            full_name="Chef Smittskydd",
            password=TEST_PASSWORD,
            role=Role.APPROVER,
            units=[db.session.scalar(select(Unit).where(Unit.code == "Smittskydd"))],
        )
        db.session.commit()
        assert db.session.scalar(select(User).where(User.username == "chef_smitta"))
    other = app.test_client()
    login(other, "chef_smitta", TEST_PASSWORD)
    assert (
        other.post(f"/controls/{control_id}/approve", data={"version": str(version)}).status_code
        == 404
    )

    # Sending back needs a reason.
    html = _step(chef, app, control_id, "send-back")
    assert "Ange varför granskningen skickas tillbaka." in html
    html = _step(chef, app, control_id, "send-back", "Beskriv urvalet tydligare.")
    assert "tillbakaskickad" in html
    assert _reload(app, control_id).status == ControlStatus.IN_PROGRESS

    _step(controller, app, control_id, "submit")
    html = _step(chef, app, control_id, "approve", "Bra.")
    assert "Granskningen är godkänd." in html
    control = _reload(app, control_id)
    assert control.status == ControlStatus.APPROVED
    assert 'data-testid="approved-by"' in html

    # The controller alone cannot reopen an approved review; the approver can, with a reason.
    assert f'action="/controls/{control_id}/reopen"' not in _text(
        controller.get(f"/controls/{control_id}")
    )
    response = controller.post(
        f"/controls/{control_id}/reopen",
        data={"version": str(control.version), "note": "Jag vill ändra."},
    )
    assert response.status_code == 403
    assert _reload(app, control_id).status == ControlStatus.APPROVED
    html = _step(chef, app, control_id, "reopen")
    assert "Ange skäl för att öppna en godkänd granskning igen." in html
    assert _reload(app, control_id).status == ControlStatus.APPROVED
    html = _step(chef, app, control_id, "reopen", "Nya underlag från leverantören.")
    assert "Granskningen är öppnad igen." in html
    # The other party (the controller) is told, in riskreg's notifications.
    notices = _text(controller.get("/reminders/notifications"))
    assert "öppnad igen av Göran Förvaltningschef" in notices
    assert "Nya underlag från leverantören." in notices
    assert "Godkänd granskning öppnad igen" in notices

    steps = [(e.from_status, e.to_status, e.note) for e in _reload(app, control_id).events]
    assert steps == [
        (None, "planned", ""),
        ("planned", "in_progress", ""),
        ("in_progress", "ready_for_review", ""),
        ("ready_for_review", "in_progress", "Beskriv urvalet tydligare."),
        ("in_progress", "ready_for_review", ""),
        ("ready_for_review", "approved", "Bra."),
        ("approved", "in_progress", "Nya underlag från leverantören."),
    ]
    history = html[html.index('data-testid="history"') :]
    assert history.count('data-testid="history-row"') == 7
    assert "Nya underlag från leverantören." in history
    assert "Göran Förvaltningschef" in history and "Karin Åström" in history


def test_a_step_must_match_the_current_status(app: Flask, demo: dict[str, str]) -> None:
    """The approver's "send back" leads to "in progress" too, but not from "planned"."""
    control_id = _control(app, CheckType.PAYMENTS).id
    html = _step(_as(app, demo, "chef"), app, control_id, "send-back", "x")
    assert "har status ”Planerad”" in html
    assert _reload(app, control_id).status == ControlStatus.PLANNED


def test_stale_step_is_a_conflict(app: Flask, demo: dict[str, str]) -> None:
    control_id = _control(app, CheckType.PAYMENTS).id
    client = _as(app, demo, "granskare")
    old = _reload(app, control_id).version
    _step(client, app, control_id, "start")
    response = client.post(f"/controls/{control_id}/submit", data={"version": str(old)})
    assert response.status_code == 302
    assert "har ändrats av någon annan" in _text(client.get(response.location))


def test_stale_conclusion_keeps_both_texts(app: Flask, demo: dict[str, str]) -> None:
    control = _control(app, CheckType.GENERIC, "timanställning")
    client = _as(app, demo, "granskare")
    first = client.post(
        f"/sampling/controls/{control.id}/evaluate",
        data={"conclusion": "Första", "version": str(control.version)},
    )
    assert first.status_code == 302
    response = client.post(
        f"/sampling/controls/{control.id}/evaluate",
        data={"conclusion": "Andra", "version": str(control.version)},
    )
    assert response.status_code == 200
    html = _text(response)
    assert 'data-testid="conflict"' in html and "Första" in html and "Andra" in html
    assert _reload(app, control.id).conclusion == "Första"


def test_only_assigned_controllers_work_on_a_control(app: Flask, demo: dict[str, str]) -> None:
    payments = _control(app, CheckType.PAYMENTS)
    data = {"version": str(payments.version)}
    assert (
        _as(app, demo, "granskare2").post(f"/controls/{payments.id}/start", data=data).status_code
        == 404
    )
    assert (
        _as(app, demo, "revisor").post(f"/controls/{payments.id}/start", data=data).status_code
        == 403
    )
    assert (
        _as(app, demo, "chef").post(f"/controls/{payments.id}/start", data=data).status_code == 403
    )
    assert _as(app, demo, "smittskydd").get(f"/controls/{payments.id}").status_code == 404
    assert _reload(app, payments.id).status == ControlStatus.PLANNED


def test_buttons_follow_permissions(app: Flask, demo: dict[str, str]) -> None:
    payments = _control(app, CheckType.PAYMENTS)
    html = _text(_as(app, demo, "granskare").get(f"/controls/{payments.id}"))
    assert f"/controls/{payments.id}/start" in html and f"/controls/{payments.id}/edit" in html
    assert "Ny åtgärd" in html
    for username in ("revisor", "chef"):
        html = _text(_as(app, demo, username).get(f"/controls/{payments.id}"))
        assert f"/controls/{payments.id}/start" not in html
        assert f"/controls/{payments.id}/edit" not in html
        assert "Ny åtgärd" not in html


# --- actions ------------------------------------------------------------------------------------


def _raise(client: FlaskClient, control_id: int, **data: object) -> str:
    response = client.post(f"/controls/{control_id}/actions/new", data=data)
    assert response.status_code == 302, _text(response)
    return response.location


def test_new_action_form(app: Flask, demo: dict[str, str]) -> None:
    hygiene = _control(app, CheckType.HYGIENE)
    client = _as(app, demo, "granskare2")
    html = _text(client.get(f"/controls/{hygiene.id}/actions/new"))
    assert re.search(rf'<option selected value="{hygiene.responsible_unit_id}"', html) or (
        re.search(rf'value="{hygiene.responsible_unit_id}" selected', html)
    )
    html = _text(
        client.post(
            f"/controls/{hygiene.id}/actions/new",
            data={
                "description": "Utbilda i basala hygienrutiner",
                "owner_unit_id": hygiene.responsible_unit_id,
                "due_date": "2020-01-01",
            },
        )
    )
    assert "kan inte ligga i det förflutna" in html
    html = _text(client.post(f"/controls/{hygiene.id}/actions/new", data={}))
    assert "Beskriv åtgärden." in html and "Ange sista dag." in html
    location = _raise(
        client,
        hygiene.id,
        description="Utbilda i basala hygienrutiner",
        owner_unit_id=hygiene.responsible_unit_id,
        due_date=(now_utc().date() + timedelta(days=20)).isoformat(),
    )
    html = _text(client.get(location))
    assert "Åtgärden är registrerad." in html
    html = _text(client.get(f"/controls/{hygiene.id}"))
    assert "Utbilda i basala hygienrutiner" in html


def test_unit_member_answers_own_units_action_only(app: Flask, demo: dict[str, str]) -> None:
    hygiene = _control(app, CheckType.HYGIENE)
    location = _raise(
        _as(app, demo, "granskare2"),
        hygiene.id,
        description="Sätt upp affischer om handdesinfektion",
        owner_unit_id=hygiene.responsible_unit_id,
        due_date=(now_utc().date() + timedelta(days=20)).isoformat(),
    )
    action_id = int(location.rstrip("/").rsplit("/", 1)[1])
    member = _as(app, demo, "smittskydd")
    html = _text(member.get(f"/controls/actions/{action_id}"))
    assert 'data-testid="answer-form"' in html
    assert 'data-testid="verify-form"' not in html and 'data-testid="due-date-form"' not in html
    with app.app_context():
        version = db.session.get(Action, action_id).version
    html = _text(
        member.post(f"/controls/actions/{action_id}/answer", data={"version": str(version)})
    )
    assert "Beskriv vad som har gjorts." in html
    response = member.post(
        f"/controls/actions/{action_id}/answer",
        data={"answer": "Affischer uppsatta på alla avdelningar.", "version": str(version)},
    )
    assert response.status_code == 302
    html = _text(member.get(response.location))
    assert "Svaret är sparat." in html and "Besvarad" in html
    # The member cannot verify their own answer.
    assert (
        member.post(
            f"/controls/actions/{action_id}/verify", data={"version": "9", "accept": "y"}
        ).status_code
        == 403
    )
    # Another unit's action is invisible, as is its control.
    other = _chr_actions(app)[0]
    assert member.get(f"/controls/actions/{other.id}").status_code == 404
    assert (
        member.post(
            f"/controls/actions/{other.id}/answer", data={"answer": "x", "version": "1"}
        ).status_code
        == 404
    )
    listing = _text(member.get("/controls/actions/"))
    assert "Sätt upp affischer" in listing
    assert "Rätta lönen" not in listing
    # A controller may read but not answer for the unit.
    assert (
        _as(app, demo, "granskare2")
        .post(f"/controls/actions/{action_id}/answer", data={"answer": "x", "version": "1"})
        .status_code
        == 403
    )


def test_controller_verifies_or_sends_back(app: Flask, demo: dict[str, str]) -> None:
    hygiene = _control(app, CheckType.HYGIENE)
    controller = _as(app, demo, "granskare2")
    member = _as(app, demo, "smittskydd")
    location = _raise(
        controller,
        hygiene.id,
        description="Ta fram en rutin för klädregler",
        owner_unit_id=hygiene.responsible_unit_id,
        due_date=(now_utc().date() + timedelta(days=20)).isoformat(),
    )
    action_id = int(location.rstrip("/").rsplit("/", 1)[1])

    def version() -> str:
        with app.app_context():
            return str(db.session.get(Action, action_id).version)

    member.post(
        f"/controls/actions/{action_id}/answer", data={"answer": "Klart", "version": version()}
    )
    html = _text(controller.get(f"/controls/actions/{action_id}"))
    assert 'data-testid="verify-form"' in html
    html = _text(
        controller.post(
            f"/controls/actions/{action_id}/verify", data={"version": version(), "reject": "y"}
        )
    )
    assert "Ange varför svaret inte räcker." in html
    response = controller.post(
        f"/controls/actions/{action_id}/verify",
        data={"version": version(), "reject": "y", "note": "Bifoga rutinen."},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Action, action_id).status == "open"
    member.post(
        f"/controls/actions/{action_id}/answer",
        data={"answer": "Rutinen bifogad", "version": version()},
    )
    stale = str(int(version()) - 1)
    html = _text(
        controller.post(
            f"/controls/actions/{action_id}/verify", data={"version": stale, "accept": "y"}
        )
    )
    assert 'data-testid="conflict"' in html
    response = controller.post(
        f"/controls/actions/{action_id}/verify", data={"version": version(), "accept": "y"}
    )
    assert response.status_code == 302
    html = _text(controller.get(response.location))
    assert "Åtgärden är verifierad." in html
    assert "Verifierad av Östen Lindqvist" in html
    assert 'data-testid="answer-form"' not in _text(member.get(f"/controls/actions/{action_id}"))
    # Sent again from a second tab that reloaded meanwhile: the page no longer offers the
    # form, but its refusal is still shown.
    html = _text(
        controller.post(
            f"/controls/actions/{action_id}/verify", data={"version": version(), "accept": "y"}
        )
    )
    assert 'data-testid="verify-form"' not in html
    assert "Bara en besvarad åtgärd kan verifieras." in html


def test_due_date_change_needs_a_reason_and_is_shown(app: Flask, demo: dict[str, str]) -> None:
    action = _chr_actions(app)[0]
    client = _as(app, demo, "granskare")
    new_date = (now_utc().date() + timedelta(days=30)).isoformat()
    html = _text(
        client.post(
            f"/controls/actions/{action.id}/due-date",
            data={"due_date": new_date, "version": str(action.version)},
        )
    )
    assert "Ange skäl." in html
    html = _text(
        client.post(
            f"/controls/actions/{action.id}/due-date",
            data={"due_date": "2020-01-01", "reason": "x", "version": str(action.version)},
        )
    )
    assert "kan inte ligga i det förflutna" in html
    response = client.post(
        f"/controls/actions/{action.id}/due-date",
        data={
            "due_date": new_date,
            "reason": "Lönesystemet byts i höst.",
            "version": str(action.version),
        },
    )
    assert response.status_code == 302
    html = _text(client.get(response.location))
    assert "Sista dag är ändrad." in html
    history = html[html.index('data-testid="due-date-history"') :]
    assert "Lönesystemet byts i höst." in history and new_date in history
    with app.app_context():
        assert db.session.get(Action, action.id).due_date.isoformat() == new_date
    # The unit's approver answers but does not move the date.
    assert (
        _as(app, demo, "chef")
        .post(
            f"/controls/actions/{action.id}/due-date",
            data={"due_date": new_date, "reason": "x", "version": "1"},
        )
        .status_code
        == 403
    )


def test_actions_list_filters(app: Flask, demo: dict[str, str]) -> None:
    client = _as(app, demo, "granskare")
    html = _text(client.get("/controls/actions/"))
    assert html.count('data-testid="action-row"') == 2
    html = _text(client.get("/controls/actions/?overdue=1"))
    assert html.count('data-testid="action-row"') == 1 and "Rätta lönen" in html
    assert (
        _text(client.get("/controls/actions/?status=verified")).count('data-testid="action-row"')
        == 0
    )
    assert (
        _text(client.get("/controls/actions/?status=open")).count('data-testid="action-row"') == 2
    )
    # The approver (HSF, above CHR) sees them; Smittskydd's member and the other controller not.
    assert (
        _text(_as(app, demo, "chef").get("/controls/actions/")).count('data-testid="action-row"')
        == 2
    )
    for username in ("smittskydd", "granskare2"):
        assert (
            _text(_as(app, demo, username).get("/controls/actions/")).count(
                'data-testid="action-row"'
            )
            == 0
        )


def test_steps_need_the_csrf_token_when_it_is_on(app: Flask, demo: dict[str, str]) -> None:
    """The suite runs with CSRF off; here it is on, as in production."""
    from tests.conftest import csrf_token_from

    control_id = _control(app, CheckType.PAYMENTS).id
    client = _as(app, demo, "granskare")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        html = _text(client.get(f"/controls/{control_id}"))
        version = str(_reload(app, control_id).version)
        refused = client.post(f"/controls/{control_id}/start", data={"version": version})
        assert refused.status_code == 400
        assert _reload(app, control_id).status == ControlStatus.PLANNED
        response = client.post(
            f"/controls/{control_id}/start",
            data={"version": version, "csrf_token": csrf_token_from(html)},
        )
        assert response.status_code == 302
        assert _reload(app, control_id).status == ControlStatus.IN_PROGRESS
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
