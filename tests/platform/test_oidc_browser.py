"""Single sign-on in a real browser (Chromium through Playwright) against the real provider:
the button, the cross-site redirects with riskreg's cookies (SameSite=Lax) and its
Content-Security-Policy, and logout at the provider."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from riskreg.extensions import db
from tests.conftest import make_app
from tests.platform.conftest import Provider, riskreg_client, running_provider, sso_config

CHROMIUM = os.environ.get("RISKREG_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture()
def served(
    app: Flask, database_url: str, instance_dir: Path, tmp_path: Path
) -> Iterator[tuple[str, Provider, Flask]]:
    """riskreg with SSO on a loopback port, and a provider that knows that address."""
    holder: dict[str, Flask] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    origin = f"http://127.0.0.1:{server.server_port}"
    with running_provider(tmp_path, [riskreg_client(origin)]) as provider:
        sso_app = make_app(database_url, instance_dir, **sso_config(provider))
        holder["app"] = sso_app
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield origin, provider, sso_app
        finally:
            server.shutdown()
            thread.join(timeout=5)
            with sso_app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.mark.browser
def test_oidc_sign_on_and_logout_in_chromium(
    served: tuple[str, Provider, Flask], make_unit: Any
) -> None:
    from playwright.sync_api import expect, sync_playwright

    origin, provider, _ = served
    make_unit("SMITT")
    provider.put_account(
        "bo-1",
        name="Bo Ek",
        preferred_username="bo.ek@region.se",
        email="bo.ek@region.se",
        groups=["g-riskreg-members", "g-smittskydd"],
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_context(locale="sv-SE").new_page()
            page.goto(f"{origin}/login")
            page.get_by_role("link", name="Logga in med regionens konto").click()
            # The provider's own login page, on its own origin.
            page.wait_for_url(re.compile(re.escape(provider.issuer) + "/interaction/"))
            page.fill("input[name=login]", "bo-1")
            page.fill("input[name=password]", "anything")
            page.click("button[type=submit]")
            page.wait_for_url(f"{origin}/")
            expect(page.get_by_test_id("current-user")).to_have_text("Bo Ek")

            page.get_by_role("button", name="Logga ut").click()
            # riskreg's logout form leads on to the provider's "sign out?" page.
            page.wait_for_url(re.compile(re.escape(provider.issuer) + "/session/end"))
            page.get_by_role("button", name="Yes, sign me out").click()
            page.wait_for_url(re.compile(re.escape(origin) + "/login"))
            page.goto(f"{origin}/")
            assert page.url.startswith(f"{origin}/login")
        finally:
            browser.close()
