"""A controller records 60 all-OK items on the worksheet, counting every key press and click:
once with the keyboard (JavaScript on), once as a plain form (JavaScript off)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.controls.models import Control
from riskreg.controls.services import change_status, create_control
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.risks.models import Risk
from riskreg.sampling import drawing, importing, item_results, lookups, planning
from riskreg.sampling.models import SampleDraw, SampleItem

pytestmark = pytest.mark.browser

TITLE = "Remisser hösten 2025 (arbetsblad)"
ITEMS = 60
BUDGET = 70  # the issue: 60 all-OK items in at most about 70 key presses or clicks


def _sample(app: Flask) -> int:
    """An in-progress referral check of granskare with 60 drawn, unassessed items."""
    with app.app_context():
        risk = db.session.scalar(select(Risk).order_by(Risk.id).limit(1))
        granskare = db.session.scalar(select(User).where(User.username == "granskare"))
        now = now_utc()
        control = create_control(
            db.session, risk, title=TITLE, check_type="referrals",
            responsible_unit=risk.responsible_unit, controllers=[granskare],
            deviation_definition="Remiss som inte hanteras enligt rutinen.",
            actor=granskare, now=now,
        )
        change_status(db.session, control, "in_progress", actor=granskare, now=now)
        lines = ["Remiss-id;Avsändare;Mottagare;Mottagen;Prioritet"]
        lines += [f"R-{n:04d};VC Norr;Ortopedi;2025-09-{1 + n % 28:02d};Normal"
                  for n in range(300)]
        importing.import_population(
            db.session, control, io.BytesIO(("\r\n".join(lines) + "\r\n").encode("cp1252")),
            "remisser.csv", actor=granskare, now=now,
        )
        planning.plan_sample(db.session, control, method="non_statistical", actor=granskare,
                             now=now, sample_size=ITEMS, justification="Bedömningsurval.")
        drawing.draw_sample(db.session, control, selection_method="simple_random",
                             seed="arbetsblad", actor=granskare, now=now)
        db.session.commit()
        return control.id


def _results(app: Flask, control_id: int) -> list[tuple[str | None, set[str], str | None]]:
    with app.app_context():
        items = db.session.scalars(
            select(SampleItem).join(SampleDraw).where(SampleDraw.control_id == control_id)
        ).all()
        return [
            (i.result, {r.result for r in i.attribute_results},
             i.assessed_by.username if i.assessed_by else None)
            for i in items
        ]


def _login(page: Page, live_server: str, password: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill("granskare")
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(lambda url: "/login" not in url)


class Counted:
    """Key presses and clicks, counted as the user would make them."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.used = 0

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.used += 1

    def click(self, locator: object) -> None:
        locator.click()  # type: ignore[attr-defined]
        self.used += 1


@pytest.fixture()
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="sv-SE", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_sixty_items_with_the_keyboard(
    app: Flask, live_server: str, page: Page, demo: dict[str, str]
) -> None:
    control_id = _sample(app)
    _login(page, live_server, demo["granskare"])
    page.goto(f"{live_server}/sampling/controls/{control_id}")
    page.get_by_role("link", name="Arbetsblad", exact=True).click()
    table = page.get_by_test_id("worksheet-table")
    expect(table.locator("tbody tr")).to_have_count(ITEMS)
    expect(table.locator("thead")).to_contain_text("Remiss-id")
    expect(table.locator("thead")).to_contain_text("Vårdgarantins tider hållna")

    user = Counted(page)
    user.click(page.get_by_label("Välj post 1", exact=True))  # the first row, into the sheet
    for _ in range(ITEMS):
        user.press("o")  # every attribute of the row OK, on to the next row
    user.press("Control+Enter")
    expect(page.get_by_role("alert")).to_contain_text(f"{ITEMS} poster sparade.")
    expect(page.get_by_test_id("worksheet-progress")).to_have_text(
        f"{ITEMS} av {ITEMS} bedömda"
    )
    assert user.used <= BUDGET, user.used
    assert _results(app, control_id) == [("ok", {"ok"}, "granskare")] * ITEMS


def test_sixty_items_without_javascript(
    app: Flask, live_server: str, no_js_page: Page, demo: dict[str, str]
) -> None:
    page = no_js_page
    control_id = _sample(app)
    _login(page, live_server, demo["granskare"])
    page.goto(f"{live_server}/sampling/controls/{control_id}/worksheet")
    expect(page.get_by_label("Välj alla poster")).to_be_hidden()  # a JavaScript convenience

    user = Counted(page)
    for position in range(1, ITEMS + 1):
        user.click(page.get_by_label(f"Välj post {position}", exact=True))
    user.click(page.get_by_role("button", name="Alla attribut OK för valda").first)
    expect(page.get_by_role("alert")).to_contain_text(f"{ITEMS} poster sparade.")
    expect(page.get_by_test_id("worksheet-progress")).to_have_text(
        f"{ITEMS} av {ITEMS} bedömda"
    )
    assert user.used <= BUDGET, user.used
    assert _results(app, control_id) == [("ok", {"ok"}, "granskare")] * ITEMS


def test_a_conflict_in_the_browser_keeps_the_typed_rows(
    app: Flask, live_server: str, page: Page, demo: dict[str, str]
) -> None:
    control_id = _sample(app)
    _login(page, live_server, demo["granskare"])
    page.goto(f"{live_server}/sampling/controls/{control_id}/worksheet")
    page.get_by_label("Registrerad i tid, post 1", exact=True).focus()
    page.keyboard.press("o")
    page.keyboard.press("o")
    with app.app_context():  # row 2 is saved elsewhere meanwhile
        control = db.session.get(Control, control_id)
        item = lookups.current_draw(db.session, control).items[1]
        item_results.record_result(
            db.session, item,
            attribute_results=dict.fromkeys(_attributes(control), "not_assessable"),
            overall="not_assessable",
            actor=db.session.scalar(select(User).where(User.username == "granskare")),
            now=now_utc(),
        )
        db.session.commit()
    page.keyboard.press("Control+Enter")
    problems = page.get_by_test_id("worksheet-problems")
    expect(problems).to_contain_text("Post 2")
    expect(problems).to_contain_text("konflikt")
    expect(page.get_by_label("Registrerad i tid, post 1", exact=True)).to_have_value("ok")
    expect(page.get_by_label("Registrerad i tid, post 2", exact=True)).to_have_value(
        "not_assessable"
    )
    assert [r for r, _, _ in _results(app, control_id)].count("ok") == 0


def _attributes(control: Control) -> tuple[str, ...]:
    from riskreg.sampling.checktypes import attributes_for

    return attributes_for(control)


def test_working_paper_download_and_upload(
    app: Flask, live_server: str, page: Page, demo: dict[str, str]
) -> None:
    import openpyxl

    control_id = _sample(app)
    _login(page, live_server, demo["granskare"])
    page.goto(f"{live_server}/sampling/controls/{control_id}/worksheet")
    with page.expect_download() as download:
        page.get_by_role("link", name="Arbetspapper (XLSX)").click()
    assert download.value.suggested_filename == f"arbetspapper-{control_id}.xlsx"
    with open(download.value.path(), "rb") as downloaded:
        book = openpyxl.load_workbook(io.BytesIO(downloaded.read()))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    first = header.index("Registrerad i tid") + 1
    for row in range(2, sheet.max_row + 1):
        for col in range(first, first + 6):
            sheet.cell(row, col, "OK")
    sheet.cell(2, first + 1, "Avvikelse")  # a new deviation: refused, nothing saved
    data = io.BytesIO()
    book.save(data)
    upload = {"name": "arbetspapper.xlsx", "buffer": data.getvalue(),
              "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    page.get_by_label("Ifyllt arbetspapper (XLSX)").set_input_files(upload)
    page.get_by_role("button", name="Läs in arbetspapperet").click()
    expect(page.get_by_test_id("form-errors")).to_contain_text("Rad 2 (post 1")
    assert [r for r, _, _ in _results(app, control_id)] == [None] * ITEMS

    sheet.cell(2, first + 1, "OK")
    data = io.BytesIO()
    book.save(data)
    page.get_by_label("Ifyllt arbetspapper (XLSX)").set_input_files(
        upload | {"buffer": data.getvalue()})
    page.get_by_role("button", name="Läs in arbetspapperet").click()
    expect(page.get_by_role("alert")).to_contain_text(f"{ITEMS} poster sparade.")
    expect(page.get_by_test_id("worksheet-progress")).to_have_text(
        f"{ITEMS} av {ITEMS} bedömda"
    )
