"""Double clicks and concurrent submissions on one control's sample (issue 16, part 2).

On PostgreSQL 20 requests really run at once (each on its own connection); on SQLite the
database lets one writer in at a time, so the same tests check the idempotency rules only.
Before the fix, two concurrent "Dra urval" left two current draws, and concurrent "Utöka"
added the same items twice (12 items on a sample of size 11).
"""

from __future__ import annotations

import io

from flask import Flask
from sqlalchemy import func, select

from riskreg.extensions import db
from riskreg.sampling import drawing
from riskreg.sampling.models import Population, SampleDraw, SampleItem, SamplePlan
from tests.races import (
    PARALLEL,
    at_once,
    one_won_the_rest_were_told,
    signed_in_clients,
    statuses,
)
from tests.sampling.conftest import World
from tests.sampling.test_draw import _attribute_plan, _draw, _payments
from tests.sampling.test_views import HEADER, ROWS, csv_bytes

ALREADY_DRAWN = "Urvalet har redan dragits sedan sidan visades"
ALREADY_EXTENDED = "Det utökades inte en gång till"


def _ready_to_draw(app: Flask, world: World) -> int:
    with app.app_context():
        _payments(world)
        _attribute_plan(world)
        db.session.commit()
    return world.controls["payments"]


def _current_draws(app: Flask, control_id: int) -> list[SampleDraw]:
    with app.app_context():
        draws = db.session.scalars(
            select(SampleDraw).where(
                SampleDraw.control_id == control_id, SampleDraw.superseded.is_(False)
            )
        ).all()
        for draw in draws:
            assert drawing.verify_draw(db.session, draw).ok
        db.session.expunge_all()
        return list(draws)


def test_twenty_parallel_first_draws_draw_once(app: Flask, world: World) -> None:
    control_id = _ready_to_draw(app, world)
    clients = signed_in_clients(app, "granskare")
    url = f"/sampling/controls/{control_id}/draw"
    assert 'name="based_on" type="hidden" value="0"' in clients[0].get(url).get_data(as_text=True)
    responses = at_once(
        clients,
        lambda c: c.post(url, data={"selection_method": "simple_random", "based_on": "0"}),
    )
    one_won_the_rest_were_told(app, responses, ALREADY_DRAWN)
    assert len(_current_draws(app, control_id)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(SampleDraw.id))) == 1


def test_twenty_parallel_redraws_with_a_reason_leave_one_current_draw(
    app: Flask, world: World
) -> None:
    """A redraw (with its reason) from a page without the idempotency field, e.g. a script:
    the row lock makes the redraws run one after the other, never two current draws."""
    control_id = _ready_to_draw(app, world)
    with app.app_context():
        _draw(world)
        db.session.commit()
    clients = signed_in_clients(app, "granskare")
    responses = at_once(
        clients,
        lambda c: c.post(
            f"/sampling/controls/{control_id}/draw",
            data={"selection_method": "simple_random", "reason": "Fel population."},
        ),
    )
    assert statuses(responses) == [302] * PARALLEL
    assert len(_current_draws(app, control_id)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(SampleDraw.id))) == PARALLEL + 1


def test_twenty_parallel_extensions_extend_once(app: Flask, world: World) -> None:
    control_id = _ready_to_draw(app, world)
    with app.app_context():
        size = _draw(world).sample_size
        db.session.commit()
    clients = signed_in_clients(app, "granskare")
    page = clients[0].get(f"/sampling/controls/{control_id}/draw").get_data(as_text=True)
    assert f'name="based_on" type="hidden" value="{size}"' in page
    responses = at_once(
        clients,
        lambda c: c.post(
            f"/sampling/controls/{control_id}/extend",
            data={"additional": "3", "reason": "Två avvikelser.", "based_on": str(size)},
            follow_redirects=True,
        ),
    )
    assert statuses(responses) == [200] * PARALLEL
    pages = [r.get_data(as_text=True) for r in responses]
    assert sum(ALREADY_EXTENDED in p for p in pages) == PARALLEL - 1
    (draw,) = _current_draws(app, control_id)
    assert draw.sample_size == size + 3
    with app.app_context():
        items = db.session.scalar(select(func.count(SampleItem.id)))
        assert items == size + 3


def test_twenty_parallel_extensions_without_the_field_stay_consistent(
    app: Flask, world: World
) -> None:
    """Without the field every request extends, but one after the other: the stored items
    always match the size and the seed (before: 12 items on a sample of size 11)."""
    control_id = _ready_to_draw(app, world)
    with app.app_context():
        size = _draw(world).sample_size
        db.session.commit()
    clients = signed_in_clients(app, "granskare")
    at_once(
        clients,
        lambda c: c.post(
            f"/sampling/controls/{control_id}/extend",
            data={"additional": "1", "reason": "En till."},
        ),
    )
    (draw,) = _current_draws(app, control_id)  # verify_draw passes
    with app.app_context():
        items = db.session.scalar(select(func.count(SampleItem.id)))
    assert draw.sample_size == items == size + PARALLEL


def test_twenty_parallel_imports_and_plans_act_once(app: Flask, world: World) -> None:
    control_id = world.controls["payments"]
    clients = signed_in_clients(app, "granskare")
    data = csv_bytes(HEADER, ROWS)
    responses = at_once(
        clients,
        lambda c: c.post(
            f"/sampling/controls/{control_id}/population",
            data={"file": (io.BytesIO(data), "p.csv"), "source": "Ekonomisystemet",
                  "based_on": "0"},
            content_type="multipart/form-data",
        ),
    )
    one_won_the_rest_were_told(app, responses, "Populationen har redan importerats")
    with app.app_context():
        assert db.session.scalar(select(func.count(Population.id))) == 1
    responses = at_once(
        clients,
        lambda c: c.post(
            f"/sampling/controls/{control_id}/plan",
            data={"method": "mus", "confidence": "0.95", "tolerable_misstatement": "1 500 000",
                  "expected_misstatement": "100 000", "based_on": "0"},
        ),
    )
    one_won_the_rest_were_told(app, responses, "Urvalsplanen har redan ändrats")
    with app.app_context():
        assert db.session.scalar(select(func.count(SamplePlan.id))) == 1
