"""20 identical state changes carrying the same version, at once (issue 16, part 6).

Before: HTTP 500 (StaleDataError at flush) for approve 7/20 on PostgreSQL, conclusion 6/20,
answer and verify 2-3/20, and 20 "new action" posts made 20 actions. Now one request wins,
every other one gets the conflict message (or, for a repeated "new action" form, is sent to
the action the first one made), and nothing is saved twice.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from riskreg.controls.models import Action, CheckType, ControlEvent, ControlStatus
from riskreg.db import now_utc
from riskreg.extensions import db
from tests.controls.test_views import _as, _control, _raise, _reload, _step
from tests.races import PARALLEL, at_once, signed_in_clients

CONFLICTS = (
    "Någon annan sparade samma sak samtidigt",  # the 409 page: lost at flush or commit
    "Någon annan har sparat granskningen",  # the version checks in the services
    "Någon annan har ändrat åtgärden",
    "har ändrats av någon annan",
)


def _outcomes(responses: list, won: str) -> tuple[int, int]:  # type: ignore[type-arg]
    """(winners, conflicts); fails on anything else, a 500 above all."""
    winners = conflicts = 0
    for response in responses:
        page = response.get_data(as_text=True)
        assert response.status_code in (200, 409), response.status_code
        if f'<div class="alert alert-success" role="alert">{won}' in page:
            winners += 1
        else:
            assert any(c in page for c in CONFLICTS), page
            conflicts += 1
    return winners, conflicts


def test_twenty_parallel_approvals_approve_once(app: Flask, demo: dict[str, str]) -> None:
    control_id = _control(app, CheckType.PAYMENTS).id
    controller = _as(app, demo, "granskare")
    _step(controller, app, control_id, "start")
    version = _reload(app, control_id).version
    controller.post(
        f"/sampling/controls/{control_id}/evaluate",
        data={"conclusion": "Inga väsentliga fel.", "version": str(version)},
    )
    _step(controller, app, control_id, "submit")
    version = _reload(app, control_id).version
    chefs = signed_in_clients(app, "chef", password=demo["chef"])
    responses = at_once(
        chefs,
        lambda c: c.post(
            f"/controls/{control_id}/approve",
            data={"version": str(version), "note": "Bra."},
            follow_redirects=True,
        ),
    )
    assert _outcomes(responses, "Granskningen är godkänd.") == (1, PARALLEL - 1)
    assert _reload(app, control_id).status == ControlStatus.APPROVED
    with app.app_context():
        approvals = db.session.scalar(
            select(func.count(ControlEvent.id)).where(
                ControlEvent.control_id == control_id,
                ControlEvent.to_status == ControlStatus.APPROVED.value,
            )
        )
    assert approvals == 1


def test_twenty_parallel_conclusions_save_one(app: Flask, demo: dict[str, str]) -> None:
    control_id = _control(app, CheckType.PAYMENTS).id
    _step(_as(app, demo, "granskare"), app, control_id, "start")
    version = _reload(app, control_id).version
    clients = signed_in_clients(app, "granskare", password=demo["granskare"])
    texts = iter(range(PARALLEL))
    responses = at_once(
        clients,
        lambda c: c.post(
            f"/sampling/controls/{control_id}/evaluate",
            data={"conclusion": f"Slutsats {next(texts)}", "version": str(version)},
            follow_redirects=True,
        ),
    )
    assert _outcomes(responses, "Slutsatsen är sparad.") == (1, PARALLEL - 1)
    assert _reload(app, control_id).version == version + 1


def test_twenty_parallel_answers_and_verifications_count_once(
    app: Flask, demo: dict[str, str]
) -> None:
    hygiene = _control(app, CheckType.HYGIENE)
    location = _raise(
        _as(app, demo, "granskare2"),
        hygiene.id,
        description="Sätt upp affischer om handdesinfektion",
        owner_unit_id=hygiene.responsible_unit_id,
        due_date=(now_utc().date() + timedelta(days=20)).isoformat(),
    )
    action_id = int(location.rstrip("/").rsplit("/", 1)[1])
    members = signed_in_clients(app, "smittskydd", password=demo["smittskydd"])
    responses = at_once(
        members,
        lambda c: c.post(
            f"/controls/actions/{action_id}/answer",
            data={"answer": "Affischer uppsatta.", "version": "1"},
            follow_redirects=True,
        ),
    )
    assert _outcomes(responses, "Svaret är sparat.") == (1, PARALLEL - 1)
    with app.app_context():
        version = db.session.get(Action, action_id).version
    controllers = signed_in_clients(app, "granskare2", password=demo["granskare2"])
    responses = at_once(
        controllers,
        lambda c: c.post(
            f"/controls/actions/{action_id}/verify",
            data={"accept": "y", "note": "Sett på plats.", "version": str(version)},
            follow_redirects=True,
        ),
    )
    assert _outcomes(responses, "Åtgärden är verifierad.") == (1, PARALLEL - 1)
    with app.app_context():
        assert db.session.get(Action, action_id).version == version + 1


def test_twenty_parallel_new_action_forms_make_one_action(
    app: Flask, demo: dict[str, str]
) -> None:
    hygiene = _control(app, CheckType.HYGIENE)
    clients = signed_in_clients(app, "granskare2", password=demo["granskare2"])
    page = clients[0].get(f"/controls/{hygiene.id}/actions/new").get_data(as_text=True)
    token = page.split('name="token" type="hidden" value="', 1)[1].split('"', 1)[0]
    assert len(token) >= 20
    with app.app_context():
        before = db.session.scalar(select(func.count(Action.id)))
    data = {
        "description": "Utbilda i basala hygienrutiner",
        "owner_unit_id": hygiene.responsible_unit_id,
        "due_date": (now_utc().date() + timedelta(days=20)).isoformat(),
        "token": token,
    }
    responses = at_once(
        clients, lambda c: c.post(f"/controls/{hygiene.id}/actions/new", data=data)
    )
    assert [r.status_code for r in responses] == [302] * PARALLEL
    assert len({r.location for r in responses}) == 1  # all sent to the one action
    with app.app_context():
        assert db.session.scalar(select(func.count(Action.id))) == before + 1
    # The next form of the page is a new one: it makes a second action.
    page = clients[0].get(f"/controls/{hygiene.id}/actions/new").get_data(as_text=True)
    fresh = page.split('name="token" type="hidden" value="', 1)[1].split('"', 1)[0]
    assert fresh != token
    assert clients[0].post(
        f"/controls/{hygiene.id}/actions/new", data={**data, "token": fresh}
    ).status_code == 302
    repeated = clients[0].post(
        f"/controls/{hygiene.id}/actions/new", data=data, follow_redirects=True
    ).get_data(as_text=True)
    assert "Åtgärden var redan registrerad" in repeated
    with app.app_context():
        assert db.session.scalar(select(func.count(Action.id))) == before + 2
