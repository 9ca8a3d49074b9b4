"""Keyset pages (riskreg/paging.py) as a user meets them: every row once, filters and order
kept from page to page, back links that return the same pages, a tampered cursor harmless."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from riskreg import permissions
from riskreg.auth.models import Role, User
from riskreg.controls.models import Control
from riskreg.extensions import db
from tests import scale_data
from tests.conftest import login

N = 130  # three pages of 50 for the administrator


@pytest.fixture()
def register(app: Flask) -> dict[str, int]:
    with app.app_context():
        session = db.session()
        units = scale_data.units(session, [("A", None), ("B", None), ("C", None)])
        scale_data.user(session, "admin", Role.ADMIN)
        scale_data.user(session, "member", Role.UNIT_MEMBER, [units["B"]])
        controller = scale_data.user(session, "controller", Role.CONTROLLER)
        from riskreg.auth.passwords import hash_password
        from tests.conftest import TEST_PASSWORD

        for user in session.scalars(select(User)):
            user.password_hash = hash_password(TEST_PASSWORD)
        plan_id = scale_data.plan(session, 2026)
        scale_data.register(
            session,
            plan_id=plan_id,
            unit_ids=list(units.values()),
            controllers=[controller.id],
            n=N,
            samples=False,
        )
        session.commit()
        return units


def _rows(page: str) -> list[int]:
    found = re.findall(r'data-testid="control-row">\s*<td><a href="/controls/(\d+)"', page)
    return [int(i) for i in found]


def _link(page: str, testid: str) -> str | None:
    found = re.search(rf'href="([^"]+)" data-testid="{testid}"', page)
    return html.unescape(found.group(1)) if found else None


def _walk(client: FlaskClient, start: str) -> tuple[list[list[int]], list[str]]:
    pages, urls = [], []
    url: str | None = start
    while url is not None:
        text = client.get(url).get_data(as_text=True)
        pages.append(_rows(text))
        urls.append(url)
        url = _link(text, "page-next")
        assert len(pages) < 10, "the pages never end"
    return pages, urls


def test_pages_show_every_row_once_in_order(app: Flask, register: dict[str, int]) -> None:
    client = app.test_client()
    login(client, "admin")
    pages, _ = _walk(client, "/controls/?sort=title")
    seen = [i for page in pages for i in page]
    assert [len(p) for p in pages] == [50, 50, 30]
    assert len(set(seen)) == len(seen) == N
    with app.app_context():
        titles = {c.id: c.title for c in db.session.scalars(select(Control))}
    assert [titles[i] for i in seen] == sorted(titles[i] for i in seen)


def test_page_links_keep_the_filter_and_go_back(app: Flask, register: dict[str, int]) -> None:
    client = app.test_client()
    login(client, "admin")
    pages, urls = _walk(client, "/controls/?type=generic&q=granskning&sort=unit")
    assert len(pages) == 3
    assert all("type=generic" in u and "q=granskning" in u and "sort=unit" in u for u in urls)
    assert len({i for p in pages for i in p}) == N
    # A filter that leaves fewer rows: one page, no next link.
    unit = register["A"]
    pages, urls = _walk(client, f"/controls/?unit={unit}")
    with app.app_context():
        expected = set(
            db.session.scalars(select(Control.id).where(Control.responsible_unit_id == unit))
        )
    assert len(pages) == 1 and set(pages[0]) == expected
    # Back from the last page of the whole list: the same pages in reverse.
    pages, urls = _walk(client, "/controls/")
    last = client.get(urls[-1]).get_data(as_text=True)
    back = _link(last, "page-prev")
    assert back is not None
    assert _rows(client.get(back).get_data(as_text=True)) == pages[-2]
    assert _link(last, "page-first") is not None


def test_a_unit_member_pages_through_their_units_only(
    app: Flask, register: dict[str, int]
) -> None:
    client = app.test_client()
    login(client, "member")
    pages, _ = _walk(client, "/controls/")
    seen = {i for p in pages for i in p}
    with app.app_context():
        member = db.session.scalar(select(User).where(User.username == "member"))
        expected = set(
            db.session.scalars(select(Control.id).where(permissions.scope_controls(member)))
        )
    assert seen == expected and 0 < len(seen) < N


@pytest.mark.parametrize("cursor", ["x", "W10", "WyJhIiwxXQ", "e30", "W3siZCI6InNvb24ifSwxLDFd"])
def test_a_tampered_cursor_shows_the_first_page(
    app: Flask, register: dict[str, int], cursor: str
) -> None:
    client = app.test_client()
    login(client, "admin")
    first = _rows(client.get("/controls/").get_data(as_text=True))
    response = client.get(f"/controls/?after={cursor}")
    assert response.status_code == 200
    assert _rows(response.get_data(as_text=True)) == first
