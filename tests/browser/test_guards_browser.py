"""Workflow guards in the browser (issue 14.5): the unit answers with evidence, the action
shows its sampled item, a file chosen under "Underlag" is kept by "Spara och nästa", and the
approver cannot approve over an unverified answer without a reason that reaches the report."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from riskreg.controls.models import Action, CheckType, Control
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.reports.services import cosign_report, sign_review
from riskreg.sampling.models import SampleItem
from tests.reports.scenario import settings_for, user

pytestmark = pytest.mark.browser

T = TypeVar("T")
REASON = "Fakturan för återkravet är kontrollerad av mig."


def off_the_event_loop(function: Callable[..., T], *args: object) -> T:
    """pyHanko runs asyncio.run(); Playwright's sync API keeps a loop running in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def _login(page: Page, live_server: str, username: str, password: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_test_id("current-user")).to_have_count(1)


def _logout(page: Page) -> None:
    page.get_by_role("button", name="Logga ut").click()


def _payments(app: Flask) -> tuple[int, int, str, str]:
    """The demo's approved payments control, its action (raised on a sampled item), that
    item's key and its population file."""
    with app.app_context():
        control = db.session.scalar(
            select(Control).where(Control.check_type == CheckType.PAYMENTS.value)
        )
        assert control is not None
        action = db.session.scalar(select(Action).where(Action.control_id == control.id))
        assert action is not None and action.deviation is not None
        item = action.deviation.sample_item
        assert item is not None
        return (
            control.id,
            action.id,
            item.population_item.record_key,
            item.draw.population.file_name,
        )


def _sign_and_cosign(app: Flask, control_id: int) -> bytes:
    settings = settings_for(app)
    with app.app_context():
        control = db.session.get(Control, control_id)
        assert control is not None
        report = sign_review(
            db.session(), control, actor=user(db.session(), "granskare"),
            now=now_utc(), settings=settings,
        )
        cosign_report(
            db.session(), report, actor=user(db.session(), "chef"),
            now=now_utc(), settings=settings,
        )
        db.session.commit()
        assert report.final_file is not None
        return settings.store().read_verified(report.final_file, report.final_sha256 or "")


def _pdf_text(content: bytes, tmp_path: Path) -> str:
    pdf = tmp_path / "rapport.pdf"
    pdf.write_bytes(content)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(text.split())


def test_answer_with_evidence_then_approval_needs_a_reason_that_reaches_the_report(
    app: Flask, live_server: str, page: Page, demo: dict[str, str], tmp_path: Path
) -> None:
    control_id, action_id, key, file_name = _payments(app)
    control_url = f"{live_server}/controls/{control_id}"

    # The unit sees where the action came from and answers it with the recovery invoice.
    _login(page, live_server, "ce", demo["ce"])
    page.goto(f"{live_server}/controls/actions/{action_id}")
    context = page.get_by_test_id("action-sample-item")
    expect(context).to_contain_text(key)
    expect(context).to_contain_text("i urvalet")
    expect(context).to_contain_text(file_name)
    page.get_by_label("Svar").fill("Återkrav skickat till vårdgivaren; fakturan bifogad.")
    page.get_by_label("Underlag (frivilligt)").set_input_files(
        {"name": "faktura-aterkrav.txt", "mimeType": "text/plain",
         "buffer": "Faktura 2025-117: återkrav enligt avtal.\n".encode()}
    )
    page.get_by_role("button", name="Besvara").click()
    expect(page.get_by_role("alert")).to_contain_text("underlaget ”faktura-aterkrav.txt”")
    expect(page.get_by_test_id("action-status")).to_have_text("Besvarad")
    with page.expect_download() as info:
        page.get_by_test_id("action-evidence").get_by_role(
            "link", name="faktura-aterkrav.txt"
        ).click()
    assert Path(info.value.path()).read_text(encoding="utf-8").startswith("Faktura 2025-117")
    _logout(page)

    # The approver reopens the approved review; the controller adds a file to an item with
    # "Spara och nästa" (the file is kept, not dropped) and hands it in again.
    _login(page, live_server, "chef", demo["chef"])
    page.goto(control_url)
    page.get_by_label("Skäl att öppna igen").fill("Åtgärden är besvarad; ny bedömning.")
    page.get_by_role("button", name="Öppna igen").click()
    expect(page.get_by_test_id("control-status")).to_contain_text("Pågår")
    _logout(page)

    _login(page, live_server, "granskare", demo["granskare"])
    with app.app_context():
        first = db.session.scalars(
            select(SampleItem.id)
            .join(SampleItem.draw)
            .where(SampleItem.position == 1)
            .where(SampleItem.draw.has(control_id=control_id, superseded=False))
        ).one()
    page.goto(f"{live_server}/sampling/items/{first}")
    page.get_by_label("Underlag", exact=True).set_input_files(
        {"name": "avtal.txt", "mimeType": "text/plain", "buffer": b"Avtal 2025, bilaga 2.\n"}
    )
    page.get_by_role("button", name="Spara och nästa").click()
    expect(page.get_by_role("alert")).to_contain_text("underlaget ”avtal.txt” är sparade")
    page.goto(f"{live_server}/sampling/items/{first}")
    expect(page.get_by_role("link", name="avtal.txt")).to_have_count(1)
    page.goto(control_url)
    page.get_by_role("button", name="Lämna för godkännande").click()
    expect(page.get_by_test_id("control-status")).to_contain_text("Klar för granskning")
    _logout(page)

    # Approval is refused while the answer is unverified ...
    _login(page, live_server, "chef", demo["chef"])
    page.goto(control_url)
    expect(page.get_by_test_id("unverified-warning")).to_contain_text(f"Åtgärd {action_id}")
    page.get_by_role("button", name="Godkänn", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"Besvarade åtgärder som granskaren inte har verifierat: {action_id}"
    )
    expect(page.get_by_test_id("control-status")).to_contain_text("Klar för granskning")
    # ... and allowed with an explicit override and its reason.
    page.get_by_label("Godkänn ändå, trots att åtgärderna inte är verifierade").check()
    page.get_by_label("Skäl (krävs om du godkänner ändå)").fill(REASON)
    page.get_by_role("button", name="Godkänn", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Granskningen är godkänd.")
    expect(page.get_by_test_id("history-row").last).to_contain_text(REASON)

    text = off_the_event_loop(lambda: _pdf_text(_sign_and_cosign(app, control_id), tmp_path))
    assert "overifierade åtgärder" in text
    assert REASON in text
