from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_admin_sees_plan_opens_heatmap_cell_and_logs_out(
    live_server: str, page: Page, demo: dict[str, str]
) -> None:
    page.goto(live_server + "/")
    expect(page).to_have_url(live_server + "/login?next=%2F")
    page.get_by_label("Användarnamn").fill("admin")
    page.get_by_label("Lösenord").fill(demo["admin"])
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_test_id("current-user")).to_have_text("Ingrid Samordnare")

    page.get_by_role("link", name="Internkontrollplaner").first.click()
    page.get_by_role("link", name="2025").click()
    rows = page.get_by_test_id("risk-row")
    expect(rows).to_have_count(7)
    region = page.get_by_test_id("section-region")
    first = region.get_by_test_id("risk-row").first
    expect(first.locator("[data-col=s]")).to_have_text("4")
    expect(first.locator("[data-col=k]")).to_have_text("3")
    expect(first.locator("[data-col=risktal]")).to_have_text("12")
    expect(page.get_by_test_id("section-administration").get_by_test_id("risk-row")).to_have_count(
        2
    )
    values = [row.locator("[data-col=risktal]").inner_text() for row in rows.all()]
    assert values == ["12", "12", "9", "12", "12", "12", "9"]

    page.get_by_role("link", name="Riskkarta").first.click()
    cell = page.locator("td[data-s='4'][data-k='3']")
    expect(cell).to_have_text("3")
    # The colour comes from the matrix stylesheet (no inline styles under the CSP): red for Hög.
    assert cell.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(244, 67, 54)"
    cell.get_by_role("link").click()
    expect(page.get_by_test_id("cell-filter")).to_contain_text("S=4, K=3")
    expect(page.get_by_test_id("risk-row")).to_have_count(3)
    expect(page.get_by_test_id("risk-table")).to_contain_text(
        "Risk för felaktig utbetalning till privata vårdgivare"
    )

    page.get_by_role("button", name="Logga ut").click()
    expect(page).to_have_url(live_server + "/login")
    page.goto(live_server + "/risks/")
    expect(page).to_have_url(live_server + "/login?next=%2Frisks%2F")


def test_plan_is_readable_on_a_phone(live_server: str, browser, demo: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="sv-SE")
    page = context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill("revisor")
    page.get_by_label("Lösenord").fill(demo["revisor"])
    page.get_by_role("button", name="Logga in").click()
    # The navigation collapses behind the menu button on a narrow screen.
    menu = page.get_by_role("button", name="Meny")
    expect(menu).to_be_visible()
    menu.click()
    page.get_by_role("link", name="Riskregister").click()
    expect(page.get_by_test_id("risk-row")).to_have_count(7)
    # The rows can be in the DOM before the page's stylesheets have arrived; measure the page
    # as it is shown.
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "the page scrolls sideways on a phone"
    context.close()
