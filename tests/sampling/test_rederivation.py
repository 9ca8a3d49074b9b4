"""The re-derivation zip: an auditor downloads it and re-draws the stored sample from it alone.

The zip is read the way an outsider would (csv and json from the standard library) and the
sample is re-derived with tests/sampling/rederive_reference.py, the independent
implementation of docs/sampling.md, never with riskreg's selection code.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from riskreg.controls.models import Control
from riskreg.extensions import db
from riskreg.sampling import drawing, importing, lookups, planning, rederive
from riskreg.sampling.models import PopulationItem, SampleDraw, SampleItem
from tests.conftest import login
from tests.sampling import rederive_reference as ref
from tests.sampling.conftest import NOW, World, csv_bytes

ROOT = Path(__file__).resolve().parents[2]
SEED = "c0ffee00c0ffee00c0ffee00c0ffee00"
PAYMENT_HEADER = ["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp"]
# Keys as a Mac export writes them: decomposed å/ö, stray spaces and a no-break space.
ODD_KEYS = ["A\u030a-17", " O\u0308-2", "UTB,9 ", "Ä\u00a0", "収-5", "😀-6", '"citat"']


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _zip(client: FlaskClient, control_id: int) -> zipfile.ZipFile:
    response = client.get(f"/sampling/controls/{control_id}/rederive.zip")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(response.data))


def _read(archive: zipfile.ZipFile) -> tuple[list[dict[str, str]], dict[str, Any], list[str]]:
    with archive.open("population.csv") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
    description = json.loads(archive.read("urval.json").decode("utf-8"))
    with archive.open("forvantat-urval.csv") as raw:
        expected = [r["key"] for r in csv.DictReader(
            io.TextIOWrapper(raw, encoding="utf-8", newline=""))]
    return rows, description, expected


def _rederive(rows: list[dict[str, str]], description: dict[str, Any]) -> list[str]:
    """Follow docs/sampling.md with what the zip holds, and nothing else."""
    rule, seed, params = description["rule"], description["seed"], description["parameters"]
    keys = [r["key"] for r in rows]
    amounts = [(r["key"], int(r["amount_ore"]) if r["amount_ore"] else None) for r in rows]
    if rule == "simple_random":
        return ref.simple_random(keys, params["n"], seed)
    if rule == "systematic":
        return ref.systematic(keys, params["n"], seed)[0]
    if rule == "stratified":
        picked = ref.stratified([(r["key"], r["stratum"]) for r in rows], params["strata"], seed)
        return [key for key, _ in picked]
    if rule == "mus_fixed_interval":
        return ref.mus_fixed(amounts, params["interval_ore"], seed).keys
    assert rule == "mus_cell"
    return ref.mus_cell(amounts, params["interval_ore"], seed).keys


def _stored(app: Flask, control_id: int) -> list[str]:
    with app.app_context():
        draw = lookups.current_draw(db.session, db.session.get_one(Control, control_id))
        assert draw is not None
        return list(db.session.scalars(
            select(PopulationItem.record_key)
            .join(SampleItem, SampleItem.population_item_id == PopulationItem.id)
            .where(SampleItem.draw_id == draw.id)
            .order_by(SampleItem.position)
        ))


def _check(rows: list[dict[str, str]], description: dict[str, Any], expected: list[str],
           stored: list[str]) -> None:
    lines = [(int(r["line"]), r["key"], int(r["amount_ore"]) if r["amount_ore"] else None,
              r["stratum"] or None) for r in rows]
    assert ref.population_digest(lines) == description["population"]["digest"]
    assert description["expected_keys"] == expected == stored
    assert _rederive(rows, description) == stored


def test_auditor_rederives_an_extended_simple_random_sample(app: Flask, world: World) -> None:
    control_id = world.controls["payments"]
    worker = _client(app, "granskare")
    rows = [[key, "VG", "VV-1", "2025-01", f"{100 + n},50"] for n, key in enumerate(ODD_KEYS)]
    rows += [[f"UTB-{n:03d}", "Vårdcentral Åby", "VV-1", "2025-02",
              f"{n * 37 % 900 + 1} {n:03d},00"] for n in range(1, 94)]
    response = worker.post(
        f"/sampling/controls/{control_id}/population",
        data={"file": (io.BytesIO(csv_bytes(PAYMENT_HEADER, rows, encoding="utf-8")), "u.csv"),
              "source": "Ekonomisystemet", "period_start": "2025-01-01",
              "period_end": "2025-05-31"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response = worker.post(f"/sampling/controls/{control_id}/plan", data={
        "method": "attribute", "confidence": "0.90", "tolerable_rate": "10", "expected_rate": "0"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert worker.post(f"/sampling/controls/{control_id}/draw",
                       data={"selection_method": "simple_random"}).status_code == 302
    assert worker.post(f"/sampling/controls/{control_id}/extend",
                       data={"additional": "60", "reason": "Avvikelser hittades"}
                       ).status_code == 302

    auditor = _client(app, "revisor")
    page = auditor.get(f"/sampling/controls/{control_id}/items").get_data(as_text=True)
    assert f'href="/sampling/controls/{control_id}/rederive.zip"' in page
    overview = auditor.get(f"/sampling/controls/{control_id}").get_data(as_text=True)
    assert f'href="/sampling/controls/{control_id}/rederive.zip"' in overview
    archive = _zip(auditor, control_id)
    assert set(archive.namelist()) == {"LASMIG.txt", "urval.json", "forvantat-urval.csv",
                                       "population.csv", "sampling.md"}
    population, description, expected = _read(archive)
    stored = _stored(app, control_id)
    assert description["rule"] == "simple_random"
    assert description["rule_section"] == "extension"
    assert len(stored) == description["parameters"]["n"] > 22
    _check(population, description, expected, stored)
    # the keys as imported: NFC and trimmed, exactly as the spec says the import does
    keys = [r["key"] for r in population]
    assert keys[:7] == ["Å-17", "Ö-2", "UTB,9", "Ä", "収-5", "😀-6", '"citat"']
    assert population[0]["Belopp (öre)"] == "10050"
    assert archive.read("sampling.md") == (ROOT / "docs" / "sampling.md").read_bytes()
    readme = archive.read("LASMIG.txt").decode("utf-8")
    assert description["seed"] in readme and "sampling.md" in readme


def _import_and_draw(app: Flask, world: World, check_type: str, data: bytes, plan: dict[str, Any],
                     method: str, **draw: Any) -> None:
    with app.app_context():
        control = world.control(check_type)
        importing.import_population(
            db.session, control, io.BytesIO(data), "p.csv", actor=world.user("granskare"),
            now=NOW, period_start=date(2025, 1, 1), period_end=date(2025, 6, 30),
        )
        planning.plan_sample(db.session, control, actor=world.user("granskare"), now=NOW,
                             **plan)
        drawing.draw_sample(db.session, control, selection_method=method, seed=SEED,
                             actor=world.user("granskare"), now=NOW, **draw)
        db.session.commit()


def test_auditor_rederives_mus_and_stratified_samples(app: Flask, world: World) -> None:
    amounts = [f"{(n * 7919) % 40000 + 10},{n % 100:02d}" for n in range(1, 120)]
    amounts[5], amounts[9], amounts[13] = "0,00", "-250,00", "950 000,00"  # excluded and top
    payments = csv_bytes(PAYMENT_HEADER, [[f"U-{n:03d}", "VG", "VV", "2025-01", a]
                                          for n, a in enumerate(amounts, 1)])
    _import_and_draw(app, world, "payments", payments,
                     {"method": "mus", "confidence": Decimal("0.95"),
                      "tolerable_misstatement_ore": 30_000_000}, "mus_cell")
    header = ["Kortnummer", "Innehavare", "Enhet", "Zoner", "Giltig till", "Anställning upphör"]
    cards = [[f"K{n:03d}", "N N", "Avd", "Entré", "2026-01-01",
              "2025-03-01" if n % 4 == 0 else ""] for n in range(1, 81)]
    _import_and_draw(app, world, "passcards", csv_bytes(header, cards),
                     {"method": "attribute", "confidence": Decimal("0.90"),
                      "tolerable_rate": Decimal("0.10"), "population_size": 80},
                     "stratified", strata_sizes={"avslutade": 12, "övriga": 15})
    auditor = _client(app, "revisor")
    for check_type, rule in (("payments", "mus_cell"), ("passcards", "stratified")):
        control_id = world.controls[check_type]
        population, description, expected = _read(_zip(auditor, control_id))
        assert description["rule"] == rule and description["seed"] == SEED
        stored = _stored(app, control_id)
        assert stored
        _check(population, description, expected, stored)
    mus = _read(_zip(auditor, world.controls["payments"]))[1]["parameters"]
    assert mus["top_stratum_count"] == 1 and mus["excluded_count"] == 2


def test_other_units_and_unassigned_controllers_get_404(app: Flask, world: World) -> None:
    data = csv_bytes(PAYMENT_HEADER, [[f"U-{n}", "VG", "VV", "2025-01", "10,00"]
                                      for n in range(1, 31)])
    _import_and_draw(app, world, "payments", data,
                     {"method": "attribute", "confidence": Decimal("0.90"),
                      "tolerable_rate": Decimal("0.10")}, "systematic")
    url = f"/sampling/controls/{world.controls['payments']}/rederive.zip"
    for username in ("smittskydd", "granskare2"):
        client = _client(app, username)
        assert client.get(url).status_code == 404, username
        page = client.get(f"/sampling/controls/{world.controls['payments']}/items")
        assert page.status_code == 404
    for username in ("ce", "chef", "admin", "granskare"):
        population, description, expected = _read(_zip(_client(app, username),
                                                        world.controls["payments"]))
        assert _rederive(population, description) == expected
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_no_package_before_a_draw(app: Flask, world: World) -> None:
    client = _client(app, "revisor")
    assert client.get(
        f"/sampling/controls/{world.controls['referrals']}/rederive.zip").status_code == 404
    page = client.get(f"/sampling/controls/{world.controls['referrals']}/items")
    assert "rederive.zip" not in page.get_data(as_text=True)


def test_a_large_package_is_streamed_from_a_temporary_file(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rederive, "_SPOOL_BYTES", 512)  # every package counts as large here
    rows = [[f"U-{n:04d}", "VG", "VV", "2025-01", f"{n},00"] for n in range(1, 400)]
    _import_and_draw(app, world, "payments", csv_bytes(PAYMENT_HEADER, rows),
                     {"method": "attribute", "confidence": Decimal("0.95"),
                      "tolerable_rate": Decimal("0.05")}, "simple_random")
    client = _client(app, "revisor")
    with client.get(f"/sampling/controls/{world.controls['payments']}/rederive.zip") as response:
        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        population, description, expected = _read(archive)
    assert len(population) == 399
    _check(population, description, expected, _stored(app, world.controls["payments"]))


def test_the_demo_samples_rederive_from_their_packages(app: Flask, demo: dict[str, str]) -> None:
    """The demo's MUS and stratified draws, downloaded by the demo auditor."""
    with app.app_context():
        controls = list(db.session.scalars(
            select(SampleDraw.control_id).where(SampleDraw.superseded.is_(False))
        ))
    assert len(controls) >= 2
    auditor = app.test_client()
    assert login(auditor, "revisor", demo["revisor"]).status_code == 302
    rules = set()
    for control_id in controls:
        population, description, expected = _read(_zip(auditor, control_id))
        rules.add(description["rule"])
        _check(population, description, expected, _stored(app, control_id))
    assert "stratified" in rules and any(r.startswith("mus_") for r in rules)


def test_the_draw_page_offers_the_package_to_the_controller(app: Flask, world: World) -> None:
    data = csv_bytes(PAYMENT_HEADER, [[f"U-{n}", "VG", "VV", "2025-01", "10,00"]
                                      for n in range(1, 31)])
    _import_and_draw(app, world, "payments", data,
                     {"method": "attribute", "confidence": Decimal("0.90"),
                      "tolerable_rate": Decimal("0.10")}, "simple_random")
    control_id = world.controls["payments"]
    page = _client(app, "granskare").get(f"/sampling/controls/{control_id}/draw")
    assert f'href="/sampling/controls/{control_id}/rederive.zip"' in page.get_data(as_text=True)
