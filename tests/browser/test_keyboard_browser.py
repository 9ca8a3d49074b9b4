"""A whole workflow with the keyboard alone: the controller records a sampled item's result
with a deviation and raises an action; the unit answers it. Only key presses act on the pages
(Tab, arrow keys, Space, Enter, typing); the browser's address bar is used to open the pages a
user would open from a bookmark or a link in an e-mail. Every control reached by Tab must show
a visible focus indicator."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.controls.models import CheckType, Control, ControlStatus
from riskreg.controls.services import change_status
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.sampling import drawing, importing, planning
from riskreg.sampling.models import SamplingMethod, SelectionMethod
from tests.conftest import load_demo_data

pytestmark = pytest.mark.browser

#: Whether the focused element (or, for Bootstrap's hidden radio buttons, its label) shows a
#: focus ring: an outline or a box shadow.
FOCUS_VISIBLE = """e => {
  const shown = e.classList.contains('btn-check')
    ? document.querySelector(`label[for="${e.id}"]`) : e;
  const style = getComputedStyle(shown);
  return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== 'none';
}"""


@pytest.fixture()
def drawn_item(app: Flask) -> dict[str, object]:
    """The demo up to the controls step, and the passcards control with a drawn sample."""
    passwords = load_demo_data(app, ("riskreg.controls.demo",))
    with app.app_context():
        control = db.session.scalar(
            select(Control).where(Control.check_type == CheckType.PASSCARDS.value)
        )
        actor = control.controllers[0]
        now = now_utc()
        change_status(db.session, control, ControlStatus.IN_PROGRESS, actor=actor, now=now)
        rows = ["Kortnummer;Innehavare;Enhet;Behörighetszoner;Giltig till;Anställning upphör"]
        rows += [f"K{n:04d};Person {n};CE;A;2026-12-31;" for n in range(1, 31)]
        importing.import_population(
            db.session, control, io.BytesIO("\r\n".join(rows).encode()), "kort.csv",
            actor=actor, now=now, source="Passersystemet (test)",
            period_start=date(2025, 1, 1), period_end=date(2025, 6, 30),
        )
        planning.plan_sample(
            db.session, control, method=SamplingMethod.ATTRIBUTE, actor=actor, now=now,
            confidence=Decimal("0.90"), tolerable_rate=Decimal("0.20"),
            expected_rate=Decimal("0"),
        )
        draw = drawing.draw_sample(
            db.session, control, selection_method=SelectionMethod.SIMPLE_RANDOM,
            seed="keyboard", actor=actor, now=now,
        )
        db.session.commit()
        unit_member = db.session.scalar(
            select(User).where(User.units.any(id=control.responsible_unit_id))
            .where(User.role == "unit_member")
        )
        return {
            "item": draw.items[0].id,
            "controller": actor.username,
            "unit_member": unit_member.username,
            "unit_code": control.responsible_unit.code,
            "passwords": passwords,
        }


def _tab_to(page: Page, target: Locator, limit: int = 250) -> None:
    """Press Tab until the target has the focus, checking that each stop shows its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            assert target.evaluate(FOCUS_VISIBLE), "no visible focus on the focused control"
            return
    raise AssertionError(f"Tab never reached {target}")


def _type_date(page: Page, field: Locator, iso: str) -> None:
    """Type a date into a date field: its segments follow the browser's language (month
    first in en-US, year first in sv-SE), so try the orders until the field holds the date."""
    year, month, day = iso.split("-")
    for parts in ((month, day, year), (year, month, day), (day, month, year)):
        for _ in range(3):
            page.keyboard.press("ArrowLeft")  # to the first segment
        for part in parts:
            page.keyboard.type(part)
            if part is year and parts[-1] is not year:
                page.keyboard.press("ArrowRight")  # a year segment takes up to 6 digits
        if field.input_value() == iso:
            return
    raise AssertionError(f"could not type {iso} into the date field")


def _login(page: Page, live_server: str, username: str, password: str) -> None:
    page.goto(live_server + "/login")
    _tab_to(page, page.get_by_label("Användarnamn"))
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("current-user")).to_have_count(1)


def test_record_a_result_raise_an_action_and_answer_it_with_the_keyboard_alone(
    live_server: str, page: Page, drawn_item: dict[str, object]
) -> None:
    passwords: dict[str, str] = drawn_item["passwords"]  # type: ignore[assignment]
    controller = str(drawn_item["controller"])
    page.goto(live_server + "/login")
    # The first Tab on a page reaches the skip link, and it jumps over the menu.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Till huvudinnehållet")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    _login(page, live_server, controller, passwords[controller])

    page.goto(f"{live_server}/sampling/items/{drawn_item['item']}")
    groups = page.locator("[data-testid^='attr-']")
    count = groups.count()
    assert count >= 2
    for index in range(count):
        group = page.get_by_test_id(f"attr-{index}")
        _tab_to(page, group.locator("input").first)
        page.keyboard.press("Space")
        if index == 0:  # the first attribute deviates: the next button in the group
            page.keyboard.press("ArrowRight")
            expect(group.get_by_label("Avvikelse")).to_be_checked()
        else:
            expect(group.get_by_label("OK")).to_be_checked()
    overall = page.get_by_test_id("overall")
    _tab_to(page, overall.locator("input").first)
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    expect(overall.get_by_label("Avvikelse")).to_be_checked()
    _tab_to(page, page.get_by_label("Beskrivning av avvikelsen"))
    page.keyboard.type("Kortet var aktivt efter att anställningen upphörde.")
    _tab_to(page, page.get_by_role("button", name="Spara", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("deviation")).to_contain_text("Kortet var aktivt")

    _tab_to(page, page.get_by_label("Åtgärd", exact=True))
    page.keyboard.type("Spärra kortet och stäm av mot HR varje månad.")
    unit = page.get_by_label("Ansvarig enhet")
    _tab_to(page, unit)
    code = str(drawn_item["unit_code"])
    for _ in range(20):
        if unit.evaluate("e => e.options[e.selectedIndex].text").startswith(code):
            break
        page.keyboard.press("ArrowDown")
    expect(unit).to_have_value(re.compile(r"\d+"))
    due = page.get_by_label("Sista dag")
    _tab_to(page, due)
    _type_date(page, due, "2099-01-31")
    _tab_to(page, page.get_by_role("button", name="Registrera åtgärd"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("actions")).to_contain_text("Spärra kortet")

    _tab_to(page, page.get_by_role("button", name="Logga ut"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("current-user")).to_have_count(0)

    member = str(drawn_item["unit_member"])
    _login(page, live_server, member, passwords[member])
    _tab_to(page, page.get_by_role("link", name="Åtgärder", exact=True))
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_role("link", name=re.compile("Spärra kortet")))
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_label("Svar"))
    page.keyboard.type("Kortet är spärrat; avstämning mot HR införd från juli.")
    _tab_to(page, page.get_by_role("button", name="Besvara"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("answer")).to_have_text(
        "Kortet är spärrat; avstämning mot HR införd från juli."
    )
