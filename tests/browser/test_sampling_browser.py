"""A controller runs a payments check in the browser: import, plan MUS, draw, record, act,
evaluate."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.controls.services import change_status, create_control
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.plans.models import Risk

pytestmark = pytest.mark.browser

TITLE = "Utbetalningar juni 2025 (webbtest)"


def _population() -> bytes:
    lines = ["Utbetalnings-id;Vårdgivare;Avtal;Period;Belopp;Betalningsdatum"]
    for n in range(1, 41):
        amount = f"{10 + (n * 37) % 90} {(n * 113) % 1000:03d},{n % 100:02d}"
        lines.append(f"UTB-6{n:03d};Vårdcentralen Kungsgärdet AB;VV-2023-011;2025-06;"
                     f"{amount};2025-06-{1 + n % 28:02d}")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _new_control(app: Flask) -> None:
    with app.app_context():
        risk = db.session.scalar(select(Risk).where(Risk.title.contains("privata vårdgivare")))
        granskare = db.session.scalar(select(User).where(User.username == "granskare"))
        control = create_control(
            db.session, risk, title=TITLE, check_type="payments",
            responsible_unit=risk.responsible_unit, controllers=[granskare],
            deviation_definition="Utbetalning som inte följer avtalets prislista.",
            actor=granskare, now=now_utc(),
        )
        # Started ("Påbörja"): the deviation definition is locked before any import.
        change_status(db.session, control, "in_progress", actor=granskare, now=now_utc())
        db.session.commit()


def _choose(page: Page, group: str, label: str) -> None:
    page.get_by_test_id(group).locator("label", has_text=re.compile(f"^{label}$")).click()


def test_controller_runs_a_mus_check(
    app: Flask, live_server: str, page: Page, demo: dict[str, str]
) -> None:
    _new_control(app)
    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill("granskare")
    page.get_by_label("Lösenord").fill(demo["granskare"])
    page.get_by_role("button", name="Logga in").click()

    page.get_by_role("link", name="Stickprov").first.click()
    page.get_by_role("link", name=TITLE).click()
    page.get_by_role("link", name="Importera population").click()
    page.get_by_label("Fil (CSV eller XLSX)").set_input_files(
        {"name": "utbetalningar-juni.csv", "mimeType": "text/csv", "buffer": _population()}
    )
    page.get_by_label("Period från").fill("2025-06-01")
    page.get_by_label("Period till").fill("2025-06-30")
    page.get_by_role("button", name="Importera").click()
    expect(page.get_by_role("alert")).to_contain_text("Populationen är importerad: 40 poster.")

    page.get_by_role("link", name="Planera urval").click()
    page.get_by_label("Urvalsmetod").select_option("mus")
    expect(page.get_by_label("Tolerabel avvikelsefrekvens (%)")).to_be_hidden()
    page.get_by_label("Tolerabel felsumma (kr)").fill("800 000")
    page.get_by_role("button", name="Beräkna och spara plan").click()
    expect(page.get_by_test_id("plan-result")).to_contain_text("urvalsintervall")

    page.get_by_role("link", name="Till dragningen").click()
    page.get_by_label("Urvalsteknik").select_option("mus_fixed_interval")
    page.get_by_role("button", name="Dra urval").click()
    expect(page.get_by_role("alert")).to_contain_text("Urvalet är draget")
    rows = page.get_by_test_id("items-table").locator("tbody tr")
    count = rows.count()
    assert count >= 3

    rows.first.get_by_role("link").click()
    for index in range(4):
        _choose(page, f"attr-{index}", "Avvikelse" if index == 1 else "OK")
    _choose(page, "overall", "Avvikelse")
    page.get_by_label("Granskat (korrekt) belopp, kr").fill("1 000,00")
    page.get_by_label("Beskrivning av avvikelsen").fill("Fel prislista användes.")
    page.get_by_label("Återkrav (kr, valfritt)").fill("500,00")
    page.get_by_role("button", name="Spara", exact=True).click()
    expect(page.get_by_test_id("deviation")).to_contain_text("Fel prislista användes.")

    page.get_by_label("Åtgärd", exact=True).fill("Återkräv beloppet och rätta prislistan.")
    page.get_by_label("Ansvarig enhet").select_option(label="CE – Centrum för ekonomi")
    page.get_by_label("Sista dag").fill("2099-01-31")
    page.get_by_role("button", name="Registrera åtgärd").click()
    expect(page.get_by_test_id("actions")).to_contain_text("Återkräv beloppet")

    page.get_by_role("link", name="Alla poster").click()
    rows.nth(1).get_by_role("link").click()
    for _ in range(count - 1):
        for index in range(4):
            _choose(page, f"attr-{index}", "OK")
        _choose(page, "overall", "OK")
        page.get_by_role("button", name="Spara och nästa").click()
    expect(page.get_by_test_id("items-progress")).to_have_text(f"{count} av {count} bedömda")

    page.get_by_role("link", name="Utvärdering").first.click()
    expect(page.get_by_test_id("deviation-count")).to_have_text("1")
    expect(page.get_by_test_id("upper-misstatement")).to_contain_text("kr")
    expect(page.get_by_test_id("evaluation-explanation")).to_contain_text("Övre felgräns")
    expect(page.get_by_test_id("verdict")).to_contain_text("tolerabel felsumma")
