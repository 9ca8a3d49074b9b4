from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import load_demo_data

pytestmark = pytest.mark.browser

PAYMENTS = "Utbetalningar till privata vårdgivare januari–maj 2025"



@pytest.fixture()
def demo(app):  # type: ignore[no-untyped-def]
    """The demo up to the controls step (later steps move the payments control on)."""
    return load_demo_data(app, ("riskreg.controls.demo",))

def _login(page: Page, live_server: str, username: str, password: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    # Present (if folded behind the menu button on a phone) once signed in.
    expect(page.get_by_test_id("current-user")).to_have_count(1)


def test_controller_runs_a_control_and_the_approver_approves_it(
    live_server: str, page: Page, demo: dict[str, str]
) -> None:
    _login(page, live_server, "granskare", demo["granskare"])
    page.get_by_role("link", name="Granskningar").first.click()
    expect(page.get_by_test_id("control-row")).to_have_count(3)
    page.get_by_role("link", name=PAYMENTS).click()
    expect(page.get_by_test_id("control-title")).to_have_text(PAYMENTS)
    expect(page.get_by_test_id("control-status")).to_have_text("Planerad")
    expect(page.get_by_test_id("deviation-definition")).to_contain_text("prislista")

    page.get_by_role("button", name="Påbörja").click()
    expect(page.get_by_role("alert")).to_contain_text("Granskningen är påbörjad.")
    expect(page.get_by_test_id("control-status")).to_have_text("Pågår")

    # The conclusion is written in one place: beside the evaluation.
    control_url = page.url
    expect(page.get_by_test_id("conclusion-form")).to_have_count(0)
    page.get_by_test_id("conclusion-link").click()
    page.get_by_label("Slutsats").fill("Inga väsentliga fel i de 60 utbetalningarna.")
    page.get_by_role("button", name="Spara slutsats").click()
    expect(page.get_by_role("alert")).to_contain_text("Slutsatsen är sparad.")
    page.goto(control_url)
    expect(page.get_by_test_id("conclusion")).to_have_text(
        "Inga väsentliga fel i de 60 utbetalningarna."
    )
    page.get_by_role("button", name="Lämna för godkännande").click()
    expect(page.get_by_role("alert")).to_contain_text("lämnad för godkännande")
    expect(page.get_by_test_id("control-status")).to_have_text(
        "Klar för granskning – väntar på godkännare"
    )
    expect(page.get_by_test_id("conclusion")).to_have_text(
        "Inga väsentliga fel i de 60 utbetalningarna."
    )
    # The controller has no approve button: segregation of duties.
    expect(page.get_by_role("button", name="Godkänn")).to_have_count(0)
    page.get_by_role("button", name="Logga ut").click()

    _login(page, live_server, "chef", demo["chef"])
    page.goto(control_url)
    page.get_by_label("Kommentar (frivillig)").fill("Godkänd utan anmärkning.")
    page.get_by_role("button", name="Godkänn").click()
    expect(page.get_by_role("alert")).to_contain_text("Granskningen är godkänd.")
    expect(page.get_by_test_id("control-status")).to_have_text("Godkänd")
    expect(page.get_by_test_id("approved-by")).to_contain_text("Göran Förvaltningschef")

    rows = page.get_by_test_id("history-row")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("Planerad")
    expect(rows.nth(1)).to_contain_text("Karin Åström")
    expect(rows.nth(1)).to_contain_text("Pågår")
    expect(rows.nth(2)).to_contain_text("Klar för granskning")
    expect(rows.nth(3)).to_contain_text("Göran Förvaltningschef")
    expect(rows.nth(3)).to_contain_text("Godkänd utan anmärkning.")


def test_control_page_fits_a_phone(live_server: str, browser, demo: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="sv-SE")
    page = context.new_page()
    _login(page, live_server, "granskare", demo["granskare"])
    for path in ("/controls/", "/controls/actions/"):
        page.goto(live_server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{path} scrolls sideways on a phone"
    page.goto(live_server + "/controls/")
    page.get_by_role("link", name="Ny lön vid byte").click()
    expect(page.get_by_test_id("control-status")).to_have_text("Pågår")
    page.wait_for_load_state("load")  # measured with the stylesheets applied
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    context.close()
