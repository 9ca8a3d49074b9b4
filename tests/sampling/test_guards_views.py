"""Workflow guards on the sample pages (issue 14.5), through HTTP: the planning form keeps
the saved plan, a file chosen under "Underlag" is stored by "Spara och nästa" or clearly
refused, the overall judgement follows from the attributes, extra population columns are kept
and shown, and every list of sampled items shows the item's place in its population."""

from __future__ import annotations

import io
import json

from flask import Flask
from sqlalchemy import select

from riskreg.controls.models import Action
from riskreg.extensions import db
from riskreg.sampling.models import Evidence, Population, PopulationItem, SampleItem
from tests.sampling.conftest import World, csv_bytes
from tests.sampling.test_views import ATTRIBUTES, HEADER, ROWS, _client, _draw_mus, _upload

EXTRA_HEADER = [*HEADER, "Attesterad av"]
EXTRA_ROWS = [[*row, f"Attestant {n % 3}"] for n, row in enumerate(ROWS, start=1)]


def _first_item(app: Flask) -> tuple[int, int]:
    with app.app_context():
        item = db.session.scalar(select(SampleItem).order_by(SampleItem.position))
        assert item is not None
        return item.id, item.version


def _attributes_ok() -> dict[str, str]:
    return {f"attr_{i}": "ok" for i in range(len(ATTRIBUTES))}


def test_the_plan_form_shows_the_saved_method_and_parameters(app: Flask, world: World) -> None:
    client = _client(app)
    url = f"/sampling/controls/{world.controls['referrals']}/plan"
    saved = client.post(
        url,
        data={"method": "attribute", "confidence": "0.90", "tolerable_rate": "7",
              "expected_rate": "2,5"},
    )
    assert saved.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert '<option selected value="attribute">' in page
    assert '<option selected value="0.90">' in page
    assert 'name="tolerable_rate" type="text" value="7"' in page
    assert 'name="expected_rate" type="text" value="2,5"' in page


def test_the_plan_form_keeps_a_non_statistical_plan(app: Flask, world: World) -> None:
    client = _client(app)
    url = f"/sampling/controls/{world.controls['referrals']}/plan"
    saved = client.post(
        url,
        data={"method": "non_statistical", "confidence": "0.95", "sample_size": "25",
              "justification": "Liten population; alla kända riskfall."},
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert '<option selected value="non_statistical">' in page
    assert 'name="sample_size" type="number" value="25"' in page
    assert "Liten population; alla kända riskfall." in page


def test_save_and_next_stores_the_chosen_file_with_the_result(app: Flask, world: World) -> None:
    client = _draw_mus(app, world)
    item_id, version = _first_item(app)
    page = client.get(f"/sampling/items/{item_id}").get_data(as_text=True)
    # The evidence input belongs to the item form, so its buttons send the file too.
    assert 'name="file" form="item-form"' in page
    response = client.post(
        f"/sampling/items/{item_id}",
        data={**_attributes_ok(), "next": "1", "version": str(version),
              "file": (io.BytesIO(b"Avtal 2025, bilaga 2.\n"), "avtal.txt")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Resultatet för post 1 och underlaget ”avtal.txt” är sparade." in response.get_data(
        as_text=True
    )
    with app.app_context():
        item = db.session.get(SampleItem, item_id)
        assert item is not None
        assert [e.file_name for e in item.evidence] == ["avtal.txt"]
        # No overall judgement given: all attributes OK make the item OK.
        assert item.result == "ok"


def test_a_refused_file_refuses_the_save_and_says_so(app: Flask, world: World) -> None:
    client = _draw_mus(app, world)
    item_id, version = _first_item(app)
    response = client.post(
        f"/sampling/items/{item_id}",
        data={**_attributes_ok(), "next": "1", "version": str(version),
              "file": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200), "faktura.pdf")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "alert-danger" in page and "faktura.pdf" in page
    with app.app_context():
        item = db.session.get(SampleItem, item_id)
        assert item is not None and item.result is None
        assert db.session.scalar(select(Evidence.id)) is None


def test_a_deviating_attribute_still_needs_a_judgement_or_follows(
    app: Flask, world: World
) -> None:
    client = _draw_mus(app, world)
    item_id, version = _first_item(app)
    response = client.post(
        f"/sampling/items/{item_id}",
        data={**_attributes_ok(), "attr_1": "deviation", "version": str(version),
              "audited_amount": "1,00", "deviation_description": "Fel prislista."},
    )
    assert response.status_code == 302
    with app.app_context():
        item = db.session.get(SampleItem, item_id)
        assert item is not None and item.result == "deviation"


def test_extra_columns_of_a_population_are_kept_and_shown(app: Flask, world: World) -> None:
    client = _client(app)
    control_id = world.controls["payments"]
    assert _upload(client, control_id, csv_bytes(EXTRA_HEADER, EXTRA_ROWS)).status_code == 302
    with app.app_context():
        population = db.session.scalar(select(Population))
        assert population is not None
        labels = [label for _key, label, _kind in json.loads(population.columns_json)]
        assert labels[-1] == "Attesterad av"
        first = db.session.scalar(select(PopulationItem).order_by(PopulationItem.line))
        assert first is not None and "Attestant 1" in json.loads(first.data_json).values()
    client.post(
        f"/sampling/controls/{control_id}/plan",
        data={"method": "mus", "confidence": "0.95", "tolerable_misstatement": "1 500 000",
              "expected_misstatement": "100 000"},
    )
    client.post(
        f"/sampling/controls/{control_id}/draw", data={"selection_method": "mus_fixed_interval"}
    )
    item_id, _ = _first_item(app)
    page = client.get(f"/sampling/items/{item_id}").get_data(as_text=True)
    assert "Attesterad av" in page and "Attestant " in page


def test_lists_of_sampled_items_show_their_population_context(app: Flask, world: World) -> None:
    client = _draw_mus(app, world)
    control_id = world.controls["payments"]
    item_id, version = _first_item(app)
    with app.app_context():
        item = db.session.get(SampleItem, item_id)
        assert item is not None
        key, line = item.population_item.record_key, item.population_item.line
    items = client.get(f"/sampling/controls/{control_id}/items").get_data(as_text=True)
    assert f"Rad {line} av 300" in items
    # A deviation with an action: the control page, the actions list and the action page
    # name the item with its place in the sample and the population.
    client.post(
        f"/sampling/items/{item_id}",
        data={**_attributes_ok(), "attr_1": "deviation", "overall": "deviation",
              "version": str(version), "audited_amount": "1,00",
              "deviation_description": "Fel prislista."},
    )
    client.post(
        f"/sampling/items/{item_id}/action",
        data={"description": "Återkräv beloppet.", "owner_unit": str(world.units["CE"]),
              "due_date": "2030-01-31"},
    )
    with app.app_context():
        action_id = db.session.scalar(select(Action.id))
    for url in (f"/controls/{control_id}", "/controls/actions/", f"/controls/actions/{action_id}"):
        page = client.get(url).get_data(as_text=True)
        assert 'data-testid="sample-item-context"' in page, url
        assert key in page and f"rad {line} av 300 i p.csv" in page, url
        assert "Post 1 av " in page, url
