"""Mitt arbete as a task list, and the overview's year selector, in a real browser."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.test_accessibility_browser import AXE, _axe_violations, _describe

pytestmark = pytest.mark.browser

PASSCARDS = "Behörighet för passerkort och nycklar 2025"


def _no_axe_violations(page: Page) -> None:
    """WCAG 2.1 A/AA on the page as shown now (the walk in test_accessibility_browser meets
    the task list, but not the year selector: the demo has one plan). After a click the
    elements can be in the DOM before the stylesheets have arrived: wait for the page."""
    page.wait_for_load_state("load")
    violations = [_describe(v) for v in _axe_violations(page)]
    assert not violations, "\n".join(violations)


def _login(page: Page, live_server: str, username: str, password: str) -> None:
    # Injected by the browser before each page's scripts, so the page's CSP still holds.
    page.add_init_script(script=AXE.read_text(encoding="utf-8"))
    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_test_id("current-user")).to_have_count(1)


def test_the_approvers_work_starts_with_the_approval_and_leads_to_it(
    live_server: str, page: Page, demo: dict[str, str]
) -> None:
    _login(page, live_server, "chef", demo["chef"])
    badge = page.get_by_test_id("task-count")
    expect(badge).to_be_visible()
    waiting = int(re.sub(r"\D", "", badge.inner_text()))
    page.get_by_role("navigation", name="Huvudmeny").get_by_role(
        "link", name=re.compile("^Mitt arbete")
    ).click()
    groups = page.get_by_test_id("task-group")
    expect(groups.first).to_contain_text("Att godkänna")
    _no_axe_violations(page)
    first = page.get_by_test_id("task").first
    expect(first).to_contain_text("väntar på ditt godkännande")
    expect(first).to_contain_text("Sista dag")
    first.get_by_role("link", name=PASSCARDS).click()

    expect(page.get_by_test_id("control-title")).to_have_text(PASSCARDS)
    expect(page.get_by_test_id("control-status")).to_have_text(
        "Klar för granskning – väntar på godkännare"
    )
    page.get_by_role("button", name="Godkänn").click()
    expect(page.get_by_role("alert")).to_contain_text("Granskningen är godkänd.")

    page.get_by_role("navigation", name="Huvudmeny").get_by_role(
        "link", name=re.compile("^Mitt arbete")
    ).click()
    expect(page.get_by_test_id("task").filter(has_text=PASSCARDS)).to_have_count(0)
    # The menu badge counts one task less (the approval; signing waits for the controller).
    if waiting > 1:
        expect(page.get_by_test_id("task-count")).to_have_text(re.compile(rf"^{waiting - 1}\D"))
    else:
        expect(page.get_by_test_id("task-count")).to_have_count(0)


def test_the_year_selector_switches_the_overviews_plan(
    app: Flask, live_server: str, page: Page, demo: dict[str, str]
) -> None:
    from riskreg.extensions import db
    from riskreg.plans.models import Organisation, Plan

    with app.app_context():
        organisation = db.session.scalars(select(Organisation)).first()
        assert organisation is not None
        db.session.add(Plan(organisation=organisation, year=2026))  # a draft, not adopted
        db.session.commit()

    _login(page, live_server, "smittskydd", demo["smittskydd"])
    shown = page.get_by_test_id("dashboard-plan")
    expect(shown).to_contain_text("2025")
    expect(shown).to_contain_text("Fastställd")
    year = page.get_by_label("Planens år")
    expect(year).to_have_value("2025")

    year.select_option("2026")
    page.get_by_role("button", name="Visa").click()
    expect(page).to_have_url(re.compile(r"\?year=2026$"))
    expect(shown).to_contain_text("2026")
    expect(shown).to_contain_text("Utkast, inte fastställd")
    expect(page.get_by_label("Planens år")).to_have_value("2026")
    _no_axe_violations(page)
