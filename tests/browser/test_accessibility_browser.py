"""WCAG 2.1 AA on every page each demo role reaches, and every page fits a 390 px phone.

axe-core (pinned in package.json, installed into node_modules/ by scripts/install-browser-tools)
is injected into each page; any WCAG 2.0/2.1 A or AA violation fails the test. The pages are
found the way a user finds them: every menu link, then one page of each kind linked from there
(a plan, a risk, a control, an action, a sample...), per role, one browser context per role.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ROLES = {
    "admin": "admin",
    "controller": "granskare",
    "unit_member": "smittskydd",
    "approver": "chef",
    "auditor": "revisor",
}
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Links that download a file, change something or leave the session: not pages to check.
NOT_A_PAGE = re.compile(
    r"(\.(csv|xlsx|pdf|zip|json|css|js|txt|p7s)(\?|$))|/(export|download|logout|delete)\b"
    r"|/static/|/evidence/|/files?/"
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: The elements that stick out to the right of a phone's screen, for the failure message.
WIDEST_ELEMENTS = """w => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > w + 1)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > w + 1))
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))"""
#: At most this many pages of each kind ("/controls/N/sample" is one kind).
PER_KIND = 1


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        subprocess.run([str(ROOT / "scripts" / "install-browser-tools")], check=True)
    return AXE.read_text(encoding="utf-8")


def _login(page: Page, live_server: str, username: str, password: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_test_id("current-user")).to_have_count(1)


def _kind(path: str) -> str:
    return re.sub(r"\d+", "N", path.rstrip("/"))


def _links(page: Page, selector: str, origin: str) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        selector, "els => els.map(e => e.href).filter(h => h)"
    )
    urls = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or NOT_A_PAGE.search(parts.path):
            continue
        urls.append(f"{origin}{parts.path}" + (f"?{parts.query}" if parts.query else ""))
    return urls


def _open(page: Page, url: str) -> bool:
    """Go to the URL; False when it is not an HTML page (a download, an error, a redirect)."""
    try:
        response = page.goto(url)
    except PlaywrightError as exc:  # a download starts instead of a page
        if "Download is starting" in str(exc):
            return False
        raise
    return (
        response is not None
        and response.status == 200
        and page.url == url
        and "text/html" in (response.headers.get("content-type") or "")
    )


def pages_of(page: Page, origin: str) -> Iterator[str]:
    """The menu's pages, then one page of each kind linked from the main content of those.

    Yields each page's URL while the browser shows it."""
    page.goto(origin + "/")
    menu = list(dict.fromkeys(_links(page, "nav a", origin)))
    menu.append(origin + "/tillganglighet")
    seen_kinds: dict[str, int] = {}
    queue = list(dict.fromkeys(menu))
    done: set[str] = set()
    while queue:
        url = queue.pop(0)
        if url in done:
            continue
        done.add(url)
        if not _open(page, url):
            continue
        yield url
        for link in _links(page, "main a", origin):
            path = urlsplit(link).path
            if not re.search(r"/\d+", path):
                continue
            kind = _kind(path)
            if seen_kinds.get(kind, 0) >= PER_KIND or link in done:
                continue
            seen_kinds[kind] = seen_kinds.get(kind, 0) + 1
            queue.append(link)


def _axe_violations(page: Page) -> list[dict[str, Any]]:
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, "
        "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_AA,
    )
    return result["violations"]


def _describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"


def _too_wide(page: Page) -> str | None:
    """At 390 px the document must not scroll sideways (tables scroll in their own box)."""
    page.set_viewport_size(PHONE)
    try:
        width: int = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide: list[str] = page.evaluate(WIDEST_ELEMENTS, PHONE["width"])
            return f"{width} px wide, widest: {wide}"
        return None
    finally:
        page.set_viewport_size(DESKTOP)


def test_every_page_each_role_reaches_meets_wcag_aa_and_fits_a_phone(
    browser: Any, live_server: str, demo: dict[str, str], axe_source: str
) -> None:
    violations: list[str] = []
    too_wide: list[str] = []
    no_statement_link: list[str] = []
    checked: dict[str, list[str]] = {}
    anonymous = browser.new_context(locale="sv-SE", viewport=DESKTOP)
    anonymous.add_init_script(script=axe_source)
    page = anonymous.new_page()
    try:  # what everyone reaches before logging in
        for url in (live_server + "/login", live_server + "/tillganglighet"):
            assert _open(page, url)
            violations += [f"anonymous {url}: {_describe(v)}" for v in _axe_violations(page)]
            if (problem := _too_wide(page)) is not None:
                too_wide.append(f"anonymous {url}: {problem}")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Tillgänglighetsredogörelse för riskreg"
        )
        expect(page.get_by_role("heading", name="Tillsyn")).to_be_visible()
    finally:
        anonymous.close()
    for role, username in ROLES.items():
        context = browser.new_context(locale="sv-SE", viewport=DESKTOP)
        # Injected by the browser itself before each page's scripts: the page's CSP still holds.
        context.add_init_script(script=axe_source)
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            _login(page, live_server, username, demo[username])
            checked[role] = []
            for url in pages_of(page, live_server):
                checked[role].append(url)
                if page.get_by_test_id("accessibility-link").count() != 1:
                    no_statement_link.append(f"{role} {url}")
                violations += [f"{role} {url}: {_describe(v)}" for v in _axe_violations(page)]
                if (problem := _too_wide(page)) is not None:
                    too_wide.append(f"{role} {url}: {problem}")
        finally:
            context.close()
    # The walk really reached the object pages (a control, an action, a risk), not just the menu.
    for role, urls in checked.items():
        assert len(urls) >= 8, (role, urls)
        assert any(re.search(r"/controls/\d+$", url) for url in urls), (role, urls)
    assert any(url.endswith("/audit/") for url in checked["auditor"])
    assert not violations, "\n".join(violations)
    assert not too_wide, "\n".join(too_wide)
    assert not no_statement_link, no_statement_link
