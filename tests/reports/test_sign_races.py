"""20 parallel "Signera" on one control sign once (issue 16, part 2).

The view takes the control's row lock before signing: the requests run one after the other,
the first signs, every other one is told that the report is signed already; one report row.
(Orphan files of interrupted signing are the "verdicts" engineer's part of the issue.)
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from riskreg.extensions import db
from riskreg.reports.models import Report
from tests.races import PARALLEL, at_once, on_postgresql, signed_in_clients
from tests.reports.scenario import Scenario


def test_twenty_parallel_signatures_make_one_report(
    app: Flask, demo: dict[str, str], scenario: Scenario
) -> None:
    if not on_postgresql(app):
        pytest.skip("20 signatures one after the other outlast SQLite's busy timeout")
    url = f"/reports/controls/{scenario.control_id}"
    clients = signed_in_clients(app, scenario.controller, password=demo[scenario.controller])
    responses = at_once(
        clients,
        lambda c: c.post(f"{url}/sign",
                         data={"confirm": "y", "next": url,
                               "password": demo[scenario.controller]},
                         follow_redirects=True),
    )
    assert [r.status_code for r in responses] == [200] * PARALLEL
    pages = [r.get_data(as_text=True) for r in responses]
    signed = '<div class="alert alert-success" role="alert">Rapporten'
    assert sum(signed in p for p in pages) == 1
    # The others are told, in words, why nothing was signed.
    assert all(signed in p or 'alert alert-danger" role="alert">' in p for p in pages)
    with app.app_context():
        assert db.session.scalar(select(func.count(Report.id))) == 1
