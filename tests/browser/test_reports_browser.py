from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from riskreg.reports.verify import Verdict, verify_pdf
from tests.reports.scenario import build, settings_for, sign_both

pytestmark = pytest.mark.browser

T = TypeVar("T")



@pytest.fixture()
def demo(app):  # type: ignore[no-untyped-def]
    """The foundation demo only: the test builds its own approved control and report."""
    from tests.conftest import load_demo_data

    return load_demo_data(app, ())

def off_the_event_loop(function: Callable[..., T], *args: object) -> T:
    """pyHanko runs asyncio.run(); Playwright's sync API keeps a loop running in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def test_auditor_lists_completed_controls_and_downloads_a_signed_report(
    app: Flask,
    live_server: str,
    page: Page,
    demo: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "REPORTS_DIR", str(tmp_path / "archive"))
    settings_for(app)
    off_the_event_loop(sign_both, app, build(app))
    unsigned = build(app, title="Utbetalningar, andra halvåret")

    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill("revisor")
    page.get_by_label("Lösenord").fill(demo["revisor"])
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_test_id("current-user")).to_have_text("Rebecka Revisor")

    page.get_by_role("link", name="Rapporter").first.click()
    rows = page.get_by_test_id("completed-control")
    expect(rows).to_have_count(2)
    signed_row = rows.filter(has_text="Utbetalningar till privata vårdgivare 2025")
    expect(signed_row.get_by_test_id("report-state")).to_have_text("Signerad och medsignerad")
    waiting = rows.filter(has_text="Utbetalningar, andra halvåret")
    expect(waiting.get_by_test_id("report-state")).to_have_text(
        "Godkänd, väntar på granskarens signatur"
    )
    expect(waiting.get_by_test_id("download-report")).to_have_count(0)

    with page.expect_download() as info:
        signed_row.get_by_test_id("download-report").click()
    download = info.value
    assert download.suggested_filename.startswith("GR-2025-")
    content = Path(download.path()).read_bytes()
    result = off_the_event_loop(verify_pdf, content, settings_for(app).trust_roots())
    assert result.verdict is Verdict.VALID
    assert [s.role for s in result.signatures] == ["granskare", "godkännare"]

    # The auditor opens the control's report page: read-only, no signing buttons.
    waiting.get_by_role("link", name="Utbetalningar, andra halvåret").click()
    expect(page.get_by_test_id("report-panel")).to_contain_text("väntar på granskarens signatur")
    expect(page.get_by_role("button", name="Signera som granskare")).to_have_count(0)
    assert unsigned.control_id
