"""One word for one thing: the app, the follow-up PDF and the audit trail name every state with
the glossary's word (riskreg/glossary.py, docs/glossary.md)."""

from __future__ import annotations

import html as htmllib
import re
import subprocess
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from riskreg import glossary
from riskreg.controls.models import (
    ACTION_STATUS_TITLES,
    CONTROL_STATUS_TITLES,
    ActionStatus,
    ControlStatus,
)
from riskreg.extensions import db
from riskreg.plans.models import Plan, PlanStatus
from riskreg.reports import data
from riskreg.reports.models import REPORT_STATE_TITLES, ReportState
from tests.conftest import login


def _text(page: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_every_state_has_one_glossary_word() -> None:
    assert {s.value: t for s, t in CONTROL_STATUS_TITLES.items()} == glossary.CONTROL_STATES
    assert set(glossary.CONTROL_STATES) == {s.value for s in ControlStatus}
    assert {s.value: t for s, t in ACTION_STATUS_TITLES.items()} == glossary.ACTION_STATES
    assert set(glossary.ACTION_STATES) == {s.value for s in ActionStatus}
    assert {s.value: t for s, t in REPORT_STATE_TITLES.items()} == glossary.REPORT_STATES
    assert set(glossary.REPORT_STATES) == {s.value for s in ReportState}
    assert set(glossary.PLAN_STATES) == {s.value for s in PlanStatus}
    # The follow-up's action states are the app's words.
    assert [s.value for s in data.ActionStatus] == list(glossary.ACTION_STATES.values())
    # "Klar för granskning" says whose turn it is.
    assert "godkännare" in glossary.CONTROL_STATES["ready_for_review"]


def test_the_app_uses_the_glossary_words(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    overview = _text(client.get("/").get_data(as_text=True))
    for word in glossary.CONTROL_STATES.values():
        assert word in overview, word
    actions = _text(client.get("/controls/actions/").get_data(as_text=True))
    for word in glossary.ACTION_STATES.values():
        assert word in actions, word
    menu = client.get("/controls/").get_data(as_text=True)
    assert ">Granskningar<" in menu and ">Kontroller<" not in menu
    # In English too, from the catalogue.
    client.post("/language", data={"locale": "en", "next": "/"})
    english = _text(client.get("/").get_data(as_text=True))
    assert "Ready for approval – waiting for the approver" in english


def test_the_followup_pdf_uses_the_glossary_words(
    app: Flask, demo: dict[str, str], tmp_path: Path
) -> None:
    with app.app_context():
        plan_id = db.session.scalars(select(Plan.id)).first()
    client = app.test_client()
    login(client, "admin", demo["admin"])
    response = client.get(f"/reports/plans/{plan_id}/followup/preview.pdf")
    assert response.status_code == 200
    pdf = tmp_path / "followup.pdf"
    pdf.write_bytes(response.get_data())
    text = " ".join(
        subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    # The demo has a control waiting for approval, approved ones and open actions.
    assert "Klar för granskning" in text and "väntar på godkännare" in text
    assert glossary.CONTROL_STATES["approved"] in text
    assert glossary.ACTION_STATES["open"] in text
    assert "Granskning" in text and "Kontrolltyp" not in text


def test_the_audit_trail_uses_the_glossary_words(app: Flask, demo: dict[str, str]) -> None:
    from riskreg.auth.models import User
    from riskreg.controls.models import Action, Control
    from riskreg.controls.services import answer_action, change_status
    from riskreg.db import now_utc

    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        control = db.session.scalar(
            select(Control).where(Control.status == ControlStatus.READY_FOR_REVIEW.value)
        )
        assert control is not None
        change_status(db.session(), control, ControlStatus.APPROVED, actor=users["chef"],
                      now=now_utc())
        action = db.session.scalar(
            select(Action).where(Action.status == ActionStatus.OPEN.value).limit(1)
        )
        assert action is not None
        answer_action(db.session(), action, answer="Gjort.", actor=users["admin"], now=now_utc())
        db.session.commit()
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    text = _text(client.get("/audit/").get_data(as_text=True))
    states = glossary.CONTROL_STATES
    assert f"{states['ready_for_review']} → {states['approved']}" in text
    actions = glossary.ACTION_STATES
    assert f"{actions['open']} → {actions['answered']}" in text
