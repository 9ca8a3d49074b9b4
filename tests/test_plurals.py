"""Counts read as Swedish (and English) sentences: ngettext in the UI, plural_sv in the PDFs."""

from __future__ import annotations

import re
from datetime import date

from flask import Flask

from riskreg.reports import data
from riskreg.reports.assemble import _summary
from tests.conftest import login


def _row(light: data.TrafficLight, *, opened: int = 0, closed: int = 0) -> data.FollowupRow:
    return data.FollowupRow(
        section_title="Regionövergripande kontrollområden",
        control_title="Granskning",
        responsible_unit="CE",
        risk_value=12,
        deadline=date(2025, 8, 15),
        status="Godkänd",
        traffic_light=light,
        items_checked=25,
        deviations=0,
        actions_open=opened,
        actions_closed=closed,
    )


def test_the_pdf_summary_uses_swedish_plurals() -> None:
    rows = [_row(data.TrafficLight.YELLOW, opened=1)] + [_row(data.TrafficLight.RED)] * 7
    first, second, _legend = _summary(rows)
    assert first == "Planen har 8 granskningar: 0 gröna, 1 gul och 7 röda."
    assert "1 ännu inte verifierad, 0 genomförda och verifierade." in second
    one = _summary([_row(data.TrafficLight.GREEN, closed=1)])
    assert one[0] == "Planen har 1 granskning: 1 grön, 0 gula och 0 röda."
    assert "0 ännu inte verifierade, 1 genomförd och verifierad." in one[1]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_overview_counts_overdue_actions_in_words(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    # The demo has one overdue action (CHR's salary correction).
    assert "1 försenad åtgärd" in _text(client.get("/").get_data(as_text=True))
    html = _text(client.get("/controls/actions/").get_data(as_text=True))
    assert re.search(r"\b\d+ åtgärder\b|\b1 åtgärd\b", html)
    client.post("/language", data={"locale": "en", "next": "/"})
    assert "1 overdue action" in _text(client.get("/").get_data(as_text=True))


def test_the_followup_page_counts_lights_with_plurals(app: Flask, demo: dict[str, str]) -> None:
    from sqlalchemy import select

    from riskreg.extensions import db
    from riskreg.plans.models import Plan

    with app.app_context():
        plan_id = db.session.scalars(select(Plan.id)).first()
    client = app.test_client()
    login(client, "admin", demo["admin"])
    html = _text(client.get(f"/reports/plans/{plan_id}/followup").get_data(as_text=True))
    match = re.search(
        r"Planen har (\d+) gransknings?(?:ar)?: (\d+) grön(?:a)?, (\d+) gula?, och (\d+) röda?\.",
        html.replace(" och", ", och"),
    )
    assert match, html[:2000]
    total, green, yellow, red = (int(g) for g in match.groups())
    assert green + yellow + red == total
    # Each number carries its own form: "1 gul", "2 gula".
    for number, one, many in ((yellow, "gul", "gula"), (red, "röd", "röda")):
        assert f"{number} {one if number == 1 else many}" in html
    client.post("/language", data={"locale": "en", "next": "/"})
    english = _text(client.get(f"/reports/plans/{plan_id}/followup").get_data(as_text=True))
    assert re.search(r"The plan has \d+ reviews?: \d+ green, \d+ yellow and \d+ red\.", english)
