"""The sample-check pages end to end through HTTP: import, plan, draw, record, act, evaluate."""

from __future__ import annotations

import io
import json
import re
from fractions import Fraction

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from riskreg.controls.models import Action, Control, Deviation
from riskreg.extensions import db
from riskreg.sampling import stats
from riskreg.sampling._exact import format_sek
from riskreg.sampling.models import (
    HygieneObservation,
    Population,
    PopulationItem,
    SampleDraw,
    SampleItem,
)
from tests.conftest import login
from tests.sampling.conftest import World, csv_bytes

HEADER = ["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp", "Betalningsdatum"]
ROWS = [
    [f"UTB-{n:04d}", f"Vårdcentral {n % 7}", "VV-2025-1", f"2025-0{1 + n % 5}",
     f"{(n * 7919) % 90 + 5} {(n * 31) % 1000:03d},{n % 100:02d}", f"2025-0{1 + n % 5}-15"]
    for n in range(1, 301)
]
ATTRIBUTES = (
    "Giltigt avtal för perioden",
    "Beloppet stämmer med avtalets prislista",
    "Ingen dubbelutbetalning",
    "Attesterad av behörig person",
)


def _client(app: Flask, username: str = "granskare") -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _upload(client: FlaskClient, control_id: int, data: bytes, name: str = "p.csv"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/sampling/controls/{control_id}/population",
        data={"file": (io.BytesIO(data), name), "source": "Ekonomisystemet",
              "period_start": "2025-01-01", "period_end": "2025-05-31"},
        content_type="multipart/form-data",
    )


def _draw_mus(app: Flask, world: World) -> FlaskClient:
    client = _client(app)
    control_id = world.controls["payments"]
    assert _upload(client, control_id, csv_bytes(HEADER, ROWS)).status_code == 302
    response = client.post(
        f"/sampling/controls/{control_id}/plan",
        data={"method": "mus", "confidence": "0.95", "tolerable_misstatement": "1 500 000",
              "expected_misstatement": "100 000"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response = client.post(
        f"/sampling/controls/{control_id}/draw", data={"selection_method": "mus_fixed_interval"}
    )
    assert response.status_code == 302
    return client


def _result_form(overall: str = "ok", **extra: str) -> dict[str, str]:
    data = {f"attr_{i}": "ok" for i in range(len(ATTRIBUTES))}
    # A fresh item has version 1; a form without its version is a conflict.
    data.update(overall=overall, next="1", version="1")
    data.update(extra)
    return data


def test_import_page_lists_every_bad_row_and_saves_nothing(app: Flask, world: World) -> None:
    client = _client(app)
    bad = [*ROWS[:3], ["UTB-0001", "X", "VV", "2025-01", "10,99", "2025-01-02"],
           ["UTB-0005", "X", "VV", "2025-01", "10,999", "2025-01-02"]]
    response = _upload(client, world.controls["payments"], csv_bytes(HEADER, bad))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Inget har sparats." in page
    assert "Rad 6: Belopp: ”10,999” är tvetydigt" in page
    assert "Rad 5: Utbetalnings-id ”UTB-0001” förekommer redan på rad 2" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Population.id))) == 0
        assert db.session.scalar(select(func.count(PopulationItem.id))) == 0


def test_plan_page_accepts_swedish_percentages(app: Flask, world: World) -> None:
    client = _client(app)
    response = client.post(
        f"/sampling/controls/{world.controls['referrals']}/plan",
        data={"method": "attribute", "confidence": "0.90", "tolerable_rate": "7",
              "expected_rate": "2,5"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    # AICPA table A-2: 90 %, tolerable 7 %, expected 2.5 % -> 75 (2)
    assert "n = 75" in page and "tillåtna avvikelser 2" in page
    assert "förväntad 2,5 %" in page
    bad = client.post(
        f"/sampling/controls/{world.controls['referrals']}/plan",
        data={"method": "attribute", "confidence": "0.90", "tolerable_rate": "fem"},
    )
    assert "är inte en procentsats" in bad.get_data(as_text=True)


def test_mus_check_end_to_end_with_the_evaluation_numbers(app: Flask, world: World) -> None:
    client = _draw_mus(app, world)
    control_id = world.controls["payments"]
    with app.app_context():
        draw = db.session.scalar(select(SampleDraw))
        items = [(i.id, i.population_item.amount_ore, i.population_item.record_key, i.version)
                 for i in draw.items]
        interval = json.loads(draw.parameters_json)["interval_ore"]
        plan = draw.plan
        tolerable = plan.tolerable_misstatement_ore
    assert len(items) >= 10
    deviating_id, book, key, version = items[1]
    audited = book - book // 4  # 25 % tainting
    for item_id, _, _, item_version in items:
        if item_id == deviating_id:
            continue
        response = client.post(
            f"/sampling/items/{item_id}", data={**_result_form(), "version": str(item_version)}
        )
        assert response.status_code == 302
    response = client.post(
        f"/sampling/items/{deviating_id}",
        data={
            **_result_form("deviation"),
            "attr_1": "deviation",
            "version": str(version),
            "audited_amount": format_sek(audited).removesuffix("\u00a0kr"),
            "deviation_description": "Fel prislista.",
            "recovery_claim": format_sek(book - audited).removesuffix("\u00a0kr"),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        deviation = db.session.scalar(select(Deviation))
        assert deviation.sample_item_id == deviating_id
        assert deviation.recovery_claim_ore == book - audited
    page = client.get(f"/sampling/controls/{control_id}/evaluate").get_data(as_text=True)
    expected = stats.evaluate_mus(
        [stats.MusFinding(key, book, audited)], interval, "0.95", tolerable
    )
    projected = Fraction(book - audited, book) * interval
    assert expected.projected_misstatement == projected
    assert f'data-testid="projected">{format_sek(projected)}' in page
    upper = format_sek(expected.upper_misstatement_limit_ore)
    assert f'data-testid="upper-misstatement">{upper}' in page
    assert f'data-testid="basic-precision">{format_sek(Fraction(expected.basic_precision))}' in page
    verdict = "Inom tolerabel felsumma" if expected.within_tolerable else "Överstiger"
    assert verdict in page
    assert expected.explanation in page
    assert "Avvikelsefrekvens i urvalet" in page
    assert "preliminär" not in page
    # the controller raises an action on the deviation
    response = client.post(
        f"/sampling/items/{deviating_id}/action",
        data={"description": "Återkräv beloppet.", "owner_unit": str(world.units["CE"]),
              "due_date": "2099-01-31"},
    )
    assert response.status_code == 302
    with app.app_context():
        action = db.session.scalar(select(Action))
        assert action.deviation.sample_item_id == deviating_id
        assert action.owner_unit.code == "CE"
    item_page = client.get(f"/sampling/items/{deviating_id}").get_data(as_text=True)
    assert "Återkräv beloppet." in item_page
    # the conclusion, written from the evaluation page with the version it was loaded with
    with app.app_context():
        version = db.session.get(Control, control_id).version
    response = client.post(
        f"/sampling/controls/{control_id}/evaluate",
        data={"conclusion": "Kontrollen fungerar.", "version": str(version)},
    )
    assert response.status_code == 302
    assert "Kontrollen fungerar." in client.get(
        f"/sampling/controls/{control_id}/evaluate"
    ).get_data(as_text=True)


def test_stale_conclusion_keeps_both_texts_visible(app: Flask, world: World) -> None:
    """Two controllers write the conclusion from the evaluation page: the second one's save is
    refused, showing the saved text above the form and keeping the second one's own text."""
    client = _draw_mus(app, world)
    with app.app_context():
        control_id = world.controls["payments"]
        version = db.session.get(Control, control_id).version
    url = f"/sampling/controls/{control_id}/evaluate"
    first = client.post(url, data={"conclusion": "Första slutsatsen.", "version": str(version)})
    assert first.status_code == 302
    second = client.post(url, data={"conclusion": "Andra slutsatsen.", "version": str(version)})
    page = second.get_data(as_text=True)
    assert second.status_code == 200
    assert 'data-testid="conflict"' in page and "Första slutsatsen." in page
    assert "Andra slutsatsen.</textarea>" in page
    with app.app_context():
        assert db.session.get(Control, control_id).conclusion == "Första slutsatsen."
    # saving again from the refreshed form (it now carries the current version) goes through
    match = re.search(r'name="version" type="hidden" value="(\d+)"', page) or re.search(
        r'type="hidden" name="version" value="(\d+)"', page
    )
    assert match is not None
    third = client.post(url, data={"conclusion": "Andra slutsatsen.", "version": match[1]})
    assert third.status_code == 302
    with app.app_context():
        assert db.session.get(Control, control_id).conclusion == "Andra slutsatsen."


def test_stale_item_form_is_refused(app: Flask, world: World) -> None:
    client = _draw_mus(app, world)
    with app.app_context():
        item = db.session.scalar(select(SampleItem).order_by(SampleItem.position))
        item_id, version = item.id, item.version
    first = client.post(f"/sampling/items/{item_id}",
                        data={**_result_form(), "version": str(version)})
    assert first.status_code == 302
    second = client.post(f"/sampling/items/{item_id}",
                         data={**_result_form(), "version": str(version)})
    assert "ändrats av någon annan" in second.get_data(as_text=True)


def test_deviation_needs_a_description_and_ok_cannot_hide_one(app: Flask, world: World) -> None:
    client = _draw_mus(app, world)
    with app.app_context():
        item = db.session.scalar(select(SampleItem).order_by(SampleItem.position))
        item_id = item.id
    page = client.post(
        f"/sampling/items/{item_id}", data={**_result_form("ok"), "attr_0": "deviation"}
    ).get_data(as_text=True)
    assert "helhetsbedömningen kan inte vara OK" in page
    page = client.post(
        f"/sampling/items/{item_id}", data={**_result_form("deviation"), "audited_amount": "1,00"}
    ).get_data(as_text=True)
    assert "Beskriv avvikelsen." in page


def test_other_roles_cannot_record_or_import(app: Flask, world: World) -> None:
    _draw_mus(app, world)
    with app.app_context():
        item_id = db.session.scalar(select(SampleItem.id))
    ce = _client(app, "ce")  # unit member of CE: may read, not work
    assert ce.get(f"/sampling/items/{item_id}").status_code == 200
    assert ce.post(f"/sampling/items/{item_id}", data=_result_form()).status_code == 403
    other = _client(app, "granskare2")  # a controller not assigned to the control
    assert other.get(f"/sampling/items/{item_id}").status_code == 404
    assert _upload(other, world.controls["payments"], b"x").status_code == 404


def test_hygiene_fast_entry_and_bulk_import(app: Flask, world: World) -> None:
    client = _client(app)
    control_id = world.controls["hygiene"]
    steps = {f"step{i}": "J" for i in range(1, 9)}
    response = client.post(
        f"/sampling/controls/{control_id}/hygiene",
        data={"unit_name": "Avd 21", "profession": "Läkare", "observed_on": "2025-03-04",
              "kind": "observation", **steps, "step3": "EA", "step6": "N"},
    )
    assert response.status_code == 302
    # "spara och nästa" keeps unit, profession and date for the next observation
    assert "unit=Avd+21" in response.location and "date=2025-03-04" in response.location
    next_page = client.get(response.location).get_data(as_text=True)
    assert 'value="Avd 21"' in next_page and "1 observationer registrerade" in next_page
    missing = client.post(
        f"/sampling/controls/{control_id}/hygiene",
        data={"unit_name": "Avd 21", "profession": "Läkare", "observed_on": "2025-03-04",
              "kind": "observation", "step1": "J"},
    )
    assert "Ange J, N eller EA" in missing.get_data(as_text=True)
    header = ["Enhet", "Yrke", "Datum", *(f"Steg {i}" for i in range(1, 9))]
    rows = [["Avd 21", "Sjuksköterska", "2025-03-05", *(["J"] * 8)] for _ in range(34)]
    rows += [["Akuten", "Undersköterska", "2025-03-05", *(["J"] * 7), "N"] for _ in range(5)]
    response = client.post(
        f"/sampling/controls/{control_id}/hygiene/import",
        data={"file": (io.BytesIO(csv_bytes(header, rows)), "ppm.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(HygieneObservation.id))) == 40
    page = client.get(f"/sampling/controls/{control_id}/evaluate").get_data(as_text=True)
    table = page[page.index('data-testid="hygiene-table"'):]
    # overall 40 observations: all hygiene steps correct 40/40; dress 34/40 (1 + 5 with an N)
    assert re.search(r"Totalt</th><td[^>]*>40</td>", table)
    assert "100,0 %" in table and "85,0 %" in table
    assert "Färre än 30 observationer" in table  # Akuten (5) and Läkare (1)
    bad = client.post(
        f"/sampling/controls/{control_id}/hygiene/import",
        data={"file": (io.BytesIO(csv_bytes(header, [["A", "B", "2025-03-05", *(["X"] * 8)]])),
                       "ppm.csv")},
        content_type="multipart/form-data",
    )
    assert "Rad 2: Steg 1: ”X” är inte J, N eller EA." in bad.get_data(as_text=True)


def test_panel_on_the_sampling_overview(app: Flask, world: World) -> None:
    client = _draw_mus(app, world)
    page = client.get(f"/sampling/controls/{world.controls['payments']}").get_data(as_text=True)
    assert 'data-testid="sampling-panel"' in page
    assert "p.csv: 300 poster" in page
    assert "0 av " in page and "bedömda" in page
    index = client.get("/sampling/").get_data(as_text=True)
    assert "Granskning payments" in index


def test_an_item_result_without_its_version_is_a_conflict(app: Flask, world: World) -> None:
    """A POST with the hidden version removed used to overwrite a newer save silently."""
    client = _draw_mus(app, world)
    with app.app_context():
        item = db.session.scalar(select(SampleItem).order_by(SampleItem.position))
        item_id = item.id
    saved = client.post(f"/sampling/items/{item_id}", data=_result_form("ok", comment="Först."))
    assert saved.status_code == 302
    form = _result_form("ok", comment="Skriver över.")
    del form["version"]
    page = client.post(f"/sampling/items/{item_id}", data=form).get_data(as_text=True)
    assert "Posten har ändrats av någon annan" in page
    with app.app_context():
        assert db.session.get(SampleItem, item_id).comment == "Först."
