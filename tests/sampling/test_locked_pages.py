"""A control that is not in progress shows read-only sample pages, not forms that refuse after
submit: before the start (the deviation definition is not locked yet, ISA 530) nothing can be
imported, drawn or recorded; once submitted or approved, everything can only be read."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from riskreg.controls.models import CheckType, Control, ControlStatus
from riskreg.extensions import db
from riskreg.sampling.models import Population, SampleDraw, SampleItem
from tests.conftest import login


def _client(app: Flask, demo: dict[str, str], username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, demo[username]).status_code == 302
    return client


def _planned_control_of_granskare(app: Flask) -> int:
    with app.app_context():
        for control in db.session.scalars(
            select(Control)
            .where(
                Control.status == ControlStatus.PLANNED.value,
                Control.check_type != CheckType.HYGIENE.value,
            )
            .order_by(Control.id)
        ):
            if any(u.username == "granskare" for u in control.controllers):
                return control.id
    raise AssertionError("the demo has no planned control of granskare")


def test_planned_control_offers_no_import_draw_or_results(
    app: Flask, demo: dict[str, str]
) -> None:
    control_id = _planned_control_of_granskare(app)
    client = _client(app, demo, "granskare")
    for page in ("population", "plan", "draw"):
        response = client.get(f"/sampling/controls/{control_id}/{page}")
        assert response.status_code == 302, page
        assert response.location.endswith(f"/sampling/controls/{control_id}"), page
    landing = client.get(f"/sampling/controls/{control_id}").get_data(as_text=True)
    assert "Granskningen är inte påbörjad. Påbörja den först" in landing
    control_page = client.get(f"/controls/{control_id}").get_data(as_text=True)
    assert 'data-testid="sampling-locked"' in control_page
    assert f"/sampling/controls/{control_id}/population" not in control_page
    assert f"/sampling/controls/{control_id}/draw" not in control_page
    # A forged POST changes nothing either.
    client.post(
        f"/sampling/controls/{control_id}/population",
        data={"source": "x"},
        content_type="multipart/form-data",
    )
    with app.app_context():
        found = select(Population).where(Population.control_id == control_id)
        assert db.session.scalar(found) is None


def test_approved_control_shows_its_items_read_only(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        control = db.session.scalar(
            select(Control)
            .where(Control.check_type == CheckType.PAYMENTS.value)
            .order_by(Control.id)
        )
        assert control is not None and control.status in (
            ControlStatus.APPROVED.value,
            ControlStatus.READY_FOR_REVIEW.value,
        )
        control_id = control.id
        item_id = db.session.scalar(
            select(SampleItem.id)
            .join(SampleDraw, SampleItem.draw_id == SampleDraw.id)
            .where(SampleDraw.control_id == control_id)
            .order_by(SampleItem.id)
        )
    client = _client(app, demo, "granskare")
    page = client.get(f"/sampling/items/{item_id}").get_data(as_text=True)
    assert "<fieldset disabled>" in page
    assert f"/sampling/items/{item_id}/evidence" not in page
    assert f"/sampling/items/{item_id}/action" not in page
    response = client.get(f"/sampling/controls/{control_id}/draw")
    assert response.status_code == 302
    landing = client.get(response.location).get_data(as_text=True)
    assert "stickprovet kan bara läsas" in landing
