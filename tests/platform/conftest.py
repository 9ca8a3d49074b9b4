"""A real OpenID provider on loopback (oidc-provider under Node.js) and riskreg configured to
sign on through it, plus a small "browser" that drives the provider's pages over HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from riskreg.extensions import db
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")

#: The Flask test client's address: the redirect URIs registered at the provider.
APP_ORIGIN = "http://localhost"
CLIENT_ID = "riskreg"
CLIENT_SECRET = "riskreg-test-secret"
OTHER_CLIENT_ID = "other-app"
OTHER_CLIENT_SECRET = "other-app-secret"
OTHER_REDIRECT = "http://other.test/callback"

GROUP_MAPPING = {
    "roles": {
        "g-riskreg-admin": "admin",
        "g-riskreg-controller": "controller",
        "g-riskreg-members": "unit_member",
    },
    "units": {"g-smittskydd": "SMITT", "g-halsa": ["HSF", "VC"]},
}


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[str]
    control: requests.Session = field(default_factory=requests.Session)

    def put_account(self, sub: str, **account: Any) -> None:
        self.control.put(f"{self.issuer}/test/accounts/{sub}", json=account).raise_for_status()

    def post(self, path: str, **body: Any) -> None:
        self.control.post(f"{self.issuer}/test/{path}", json=body).raise_for_status()


def _node_packages() -> None:
    if not (ROOT / "node_modules" / "oidc-provider" / "package.json").exists():
        subprocess.run([str(ROOT / "scripts" / "install-browser-tools")], check=True)


def riskreg_client(origin: str) -> dict[str, Any]:
    """riskreg as registered at the provider, served at `origin`."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{origin}/sso/callback"],
        "post_logout_redirect_uris": [f"{origin}/login"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }


@contextmanager
def running_provider(folder: Path, clients: list[dict[str, Any]]) -> Iterator[Provider]:
    """oidc-provider under Node.js on a free loopback port, with these clients."""
    node = shutil.which("node")
    assert node, "the single sign-on tests need Node.js (apt-get install nodejs npm)"
    _node_packages()
    config_file = folder / "provider.json"
    config_file.write_text(json.dumps({"clients": clients, "accounts": {}}), encoding="utf-8")
    process = subprocess.Popen(
        [node, str(SCRIPT), str(config_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY "), f"oidc-provider did not start: {line!r}"
    provider = Provider(issuer=line.split()[1], process=process)
    try:
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        provider.control.close()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    other = {
        "client_id": OTHER_CLIENT_ID,
        "client_secret": OTHER_CLIENT_SECRET,
        "redirect_uris": [OTHER_REDIRECT],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    with running_provider(
        tmp_path_factory.mktemp("oidc"), [riskreg_client(APP_ORIGIN), other]
    ) as provider:
        yield provider


def sso_config(provider: Provider) -> dict[str, Any]:
    return {
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_GROUP_MAPPING": json.dumps(GROUP_MAPPING),
        "OIDC_CLOCK_SKEW_SECONDS": 0,
    }


@pytest.fixture()
def idp(oidc_provider: Provider) -> Iterator[Provider]:
    """The provider with its clock right and nothing pending after each test."""
    yield oidc_provider
    oidc_provider.post("clock", offset=0)


@pytest.fixture(scope="session")
def _sso_app(database_url: str, instance_dir: Path, oidc_provider: Provider) -> Iterator[Flask]:
    app = make_app(database_url, instance_dir, **sso_config(oidc_provider))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def sso_app(app: Flask, _sso_app: Flask) -> Iterator[Flask]:
    """riskreg signing on through the provider, on the test database (emptied by `app`)."""
    saved = dict(_sso_app.config)
    yield _sso_app
    _sso_app.config.update(saved)
    with _sso_app.app_context():
        db.session.remove()


@pytest.fixture()
def sso_client(sso_app: Flask) -> FlaskClient:
    return sso_app.test_client()


@pytest.fixture()
def browser() -> requests.Session:
    """The user's browser on the provider's side (its cookies: the IdP session)."""
    return requests.Session()


def app_path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == APP_ORIGIN, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def sign_on_at_idp(browser: requests.Session, url: str, sub: str, until: str = APP_ORIGIN) -> str:
    """Follow the provider's redirects from an authorization URL, typing `sub` into its login
    form when it asks; returns the URL it finally sends the browser to (the callback)."""
    for _ in range(10):
        if url.startswith(until):
            return url
        response = browser.get(url, allow_redirects=False)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["Location"])
            continue
        response.raise_for_status()
        action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
        assert action, response.text[:500]
        response = browser.post(
            urljoin(url, action.group(1)),
            data={"prompt": "login", "login": sub, "password": "anything"},
            allow_redirects=False,
        )
        assert response.status_code in (302, 303), response.text[:500]
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("the provider kept redirecting")


def start_sign_on(client: FlaskClient) -> str:
    """Press "Logga in med regionens konto": riskreg's redirect to the provider."""
    response = client.get("/sso/login")
    assert response.status_code == 302
    return str(response.headers["Location"])


def sign_on(client: FlaskClient, browser: requests.Session, sub: str) -> Any:
    callback = sign_on_at_idp(browser, start_sign_on(client), sub)
    return client.get(app_path(callback))


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def id_token_for_other_client(idp: Provider, sub: str, nonce: str) -> str:
    """A genuine ID token the provider issued to another application (same user, same
    nonce): what an attacker could swap into riskreg's token response."""
    verifier, challenge = pkce_pair()
    browser = requests.Session()
    url = (
        f"{idp.issuer}/auth?client_id={OTHER_CLIENT_ID}&response_type=code&scope=openid"
        f"&redirect_uri={OTHER_REDIRECT}&nonce={nonce}&state=s&code_challenge={challenge}"
        "&code_challenge_method=S256"
    )
    callback = sign_on_at_idp(browser, url, sub, until=OTHER_REDIRECT)
    response = requests.post(
        f"{idp.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": query(callback)["code"],
            "redirect_uri": OTHER_REDIRECT,
            "code_verifier": verifier,
        },
        auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET),
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["id_token"])
