"""One rule for the follow-up report (issue 16, part 7): page, preview PDF and XLSX hold what
the user sees everywhere else. Administrators and auditors get the full report; an approver of
one unit gets that unit's controls, a controller the controls assigned to them.

Before, an approver scoped to one unit and controllers not assigned to a control saw every
unit's controls and action texts here, while the control pages answered 404.
"""

from __future__ import annotations

import html
import io
import re
import subprocess
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from riskreg import permissions
from riskreg.auth.models import Role, Unit, User
from riskreg.auth.services import create_user
from riskreg.controls.models import Control
from riskreg.extensions import db
from riskreg.plans.models import Plan
from tests.conftest import TEST_PASSWORD, load_demo_data, login


@pytest.fixture()
def demo(app: Flask) -> dict[str, str]:
    """The demo with its controls and actions (the reports tests' own demo has none)."""
    return load_demo_data(app, ("riskreg.controls.demo",))


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _split(app: Flask, username: str) -> tuple[int, list[str], list[str]]:
    """(plan id, titles the user may see, titles hidden from them), by the control pages' rule."""
    with app.app_context():
        viewer = db.session.scalar(select(User).where(User.username == username))
        plan = db.session.scalar(select(Plan))
        assert viewer is not None and plan is not None
        controls = db.session.scalars(select(Control).order_by(Control.id)).all()
        seen = [c.title for c in controls if permissions.can_view_control(viewer, c)]
        hidden = [c.title for c in controls if not permissions.can_view_control(viewer, c)]
        return plan.id, seen, hidden


def _client(app: Flask, username: str, password: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    return client


def _check(text: str, seen: list[str], hidden: list[str], *, squeeze: bool = False) -> None:
    """Every title the user may see is in ``text``, none of the others. ``squeeze``: compare
    without any white space (a PDF table cell wraps a title over lines)."""
    if squeeze:
        text = re.sub(r"\s+", "", text)

    def present(title: str) -> bool:
        return (re.sub(r"\s+", "", title) if squeeze else _words(title)) in text

    assert all(present(t) for t in seen), [t for t in seen if not present(t)]
    assert not any(present(t) for t in hidden), [t for t in hidden if present(t)]


@pytest.fixture()
def smitta_chef(app: Flask, demo: dict[str, str]) -> str:
    """An approver of one unit (the demo's own approver heads the whole administration)."""
    with app.app_context():
        create_user(
            db.session, username="chef_smitta", email="chef_smitta@example.org",
            full_name="Chef Smittskydd", password=TEST_PASSWORD, role=Role.APPROVER,
            units=[db.session.scalar(select(Unit).where(Unit.code == "Smittskydd"))],
        )
        db.session.commit()
    return "chef_smitta"


@pytest.mark.parametrize("username", ["chef_smitta", "granskare2", "revisor", "admin"])
def test_followup_page_pdf_and_xlsx_hold_what_the_user_may_see(
    app: Flask,
    demo: dict[str, str],
    smitta_chef: str,
    poppler: Callable[[str], str],
    username: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    plan_id, seen, hidden = _split(app, username)
    if username in ("revisor", "admin"):
        assert not hidden  # the full report
    else:
        assert seen and hidden  # a part, and something left out
    client = _client(app, username, demo.get(username, TEST_PASSWORD))

    page = client.get(f"/reports/plans/{plan_id}/followup")
    assert page.status_code == 200
    _check(_words(html.unescape(page.get_data(as_text=True))), seen, hidden)

    xlsx = client.get(f"/reports/plans/{plan_id}/followup.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data))["Uppföljning"]
    cells = " | ".join(
        _words(str(cell.value)) for row in sheet.iter_rows() for cell in row if cell.value
    )
    _check(cells, seen, hidden)

    pdf = client.get(f"/reports/plans/{plan_id}/followup/preview.pdf")
    assert pdf.status_code == 200
    path = tmp_path / "followup.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(
        [poppler("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    _check(text, seen, hidden, squeeze=True)
