"""Single sign-on against a real OpenID provider (oidc-provider) on loopback: the code flow with
PKCE, state and nonce, the ID token's signature, audience and lifetime, group mapping, the
periodic session check, local passwords switched off, and RP-initiated logout."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from riskreg.audit.models import AuditEntry
from riskreg.auth.models import Unit, User
from riskreg.config import ConfigError
from riskreg.extensions import db
from riskreg.sso.mapping import load_mapping
from tests.conftest import login, make_app
from tests.platform.conftest import (
    CLIENT_ID,
    Provider,
    app_path,
    id_token_for_other_client,
    query,
    sign_on,
    sign_on_at_idp,
    start_sign_on,
)

ANNA = "anna-oid-1"
ANNA_UPN = "anna.svensson@region.se"


@pytest.fixture()
def units(make_unit: Callable[..., Unit]) -> None:
    for code in ("SMITT", "HSF", "VC"):
        make_unit(code)


@pytest.fixture()
def anna(idp: Provider, units: None) -> str:
    idp.put_account(
        ANNA,
        name="Anna Svensson",
        preferred_username=ANNA_UPN,
        email=ANNA_UPN,
        groups=["g-riskreg-controller", "g-smittskydd", "g-unrelated"],
        disabled=False,
    )
    return ANNA


def _user(app: Flask, username: str = ANNA_UPN) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None:
            _ = [u.code for u in user.units]
            db.session.expunge(user)
        return user


def _entries(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _refusal_reason(app: Flask) -> str:
    """The reason of a refusal of an identity the IdP vouched for (in the audit trail)."""
    (entry,) = _entries(app, "sso_refused")
    return str(json.loads(entry.payload)["changes"]["reason"])


def _logged_refusal(app: Flask, caplog: pytest.LogCaptureFixture) -> str:
    """The reason of a refusal of an unverified answer: in the log, not the audit trail
    (anyone can call /sso/callback with made-up values)."""
    assert _entries(app, "sso_refused") == []
    (message,) = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("SSO sign-on refused")
    ]
    return message


def _signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    return response.status_code == 200


def test_oidc_off_by_default_leaves_login_page_unchanged(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "Logga in med regionens konto" not in page
    assert 'name="password"' in page
    assert client.get("/sso/login").status_code == 404


def test_oidc_first_sign_on_creates_user_and_each_sign_on_updates_it(
    sso_app: Flask, sso_client: FlaskClient, browser: requests.Session, idp: Provider, anna: str
) -> None:
    page = sso_client.get("/login").get_data(as_text=True)
    assert "Logga in med regionens konto" in page
    assert 'name="password"' in page  # local passwords stay until switched off

    authorize = start_sign_on(sso_client)
    params = query(authorize)
    assert authorize.startswith(f"{idp.issuer}/auth?")
    assert params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    assert params["state"] and params["nonce"]

    callback = sign_on_at_idp(browser, authorize, anna)
    response = sso_client.get(app_path(callback))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert _signed_in(sso_client)
    user = _user(sso_app)
    assert user is not None
    assert (user.full_name, user.email, user.role) == ("Anna Svensson", ANNA_UPN, "controller")
    assert [u.code for u in user.units] == ["SMITT"]
    assert user.sso_subject == ANNA
    (entry,) = _entries(sso_app, "sso_login")
    assert entry.actor_name == f"{ANNA_UPN} (SSO)" and entry.actor_id == user.id
    # No riskreg password to change, and none to sign in with.
    assert sso_client.get("/account/password").headers["Location"] == "/"
    assert login(sso_app.test_client(), ANNA_UPN, "!sso").status_code == 200

    # The region moves Anna: other groups, another name. The next sign-on carries it over.
    sso_client.post("/logout")
    idp.put_account(anna, name="Anna Berg", groups=["g-riskreg-admin", "g-halsa"])
    browser.cookies.clear()
    sign_on(sso_client, browser, anna)
    assert _signed_in(sso_client)
    moved = _user(sso_app)
    assert moved is not None and moved.id == user.id
    assert (moved.full_name, moved.role) == ("Anna Berg", "admin")
    assert sorted(u.code for u in moved.units) == ["HSF", "VC"]


def test_oidc_user_in_no_mapped_group_is_refused(
    sso_app: Flask, sso_client: FlaskClient, browser: requests.Session, idp: Provider, anna: str
) -> None:
    idp.put_account(anna, groups=["g-smittskydd"])  # a unit, but no role
    response = sign_on(sso_client, browser, anna)
    assert response.headers["Location"] == "/login"
    assert not _signed_in(sso_client)
    assert _user(sso_app) is None
    assert "behörighet" in _refusal_reason(sso_app)
    (entry,) = _entries(sso_app, "sso_refused")
    assert entry.actor_name == f"{ANNA_UPN} (SSO)"


def test_oidc_refuses_id_token_for_another_audience(
    sso_app: Flask,
    sso_client: FlaskClient,
    browser: requests.Session,
    idp: Provider,
    anna: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    authorize = start_sign_on(sso_client)
    callback = sign_on_at_idp(browser, authorize, anna)
    # A real token from the same provider for the same user and nonce, but for another app.
    foreign = id_token_for_other_client(idp, anna, query(authorize)["nonce"])
    idp.post("substitute", client_id=CLIENT_ID, id_token=foreign)
    response = sso_client.get(app_path(callback))
    assert response.headers["Location"] == "/login"
    assert not _signed_in(sso_client)
    assert _user(sso_app) is None
    assert "aud" in _logged_refusal(sso_app, caplog)


def test_oidc_refuses_expired_id_token(
    sso_app: Flask,
    sso_client: FlaskClient,
    browser: requests.Session,
    idp: Provider,
    anna: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = sign_on_at_idp(browser, start_sign_on(sso_client), anna)
    # The provider's clock two hours behind: the ID token it issues now expired long ago.
    idp.post("clock", offset=-7200)
    response = sso_client.get(app_path(callback))
    assert response.headers["Location"] == "/login"
    assert not _signed_in(sso_client)
    assert "expired" in _logged_refusal(sso_app, caplog)


def test_oidc_refuses_tampered_id_token(
    sso_app: Flask,
    sso_client: FlaskClient,
    browser: requests.Session,
    idp: Provider,
    anna: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = sign_on_at_idp(browser, start_sign_on(sso_client), anna)
    # Someone on the way makes Anna an administrator; the signature no longer fits.
    idp.post("tamper", client_id=CLIENT_ID, claims={"groups": ["g-riskreg-admin"]})
    response = sso_client.get(app_path(callback))
    assert response.headers["Location"] == "/login"
    assert not _signed_in(sso_client)
    assert _user(sso_app) is None
    assert "signature" in _logged_refusal(sso_app, caplog)


def test_oidc_refuses_replayed_code(
    sso_app: Flask,
    sso_client: FlaskClient,
    browser: requests.Session,
    idp: Provider,
    anna: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = sign_on_at_idp(browser, start_sign_on(sso_client), anna)
    assert sso_client.get(app_path(callback)).headers["Location"] == "/"
    sso_client.post("/logout")
    # A new sign-on (new state and PKCE verifier) handed the code that was already used.
    fresh = start_sign_on(sso_client)
    replay = f"/sso/callback?code={query(callback)['code']}&state={query(fresh)['state']}"
    response = sso_client.get(replay)
    assert response.headers["Location"] == "/login"
    assert not _signed_in(sso_client)
    assert "invalid_grant" in _logged_refusal(sso_app, caplog)


def test_oidc_refuses_callback_with_wrong_state(
    sso_app: Flask,
    sso_client: FlaskClient,
    browser: requests.Session,
    idp: Provider,
    anna: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = sign_on_at_idp(browser, start_sign_on(sso_client), anna)
    forged = app_path(callback).replace(f"state={query(callback)['state']}", "state=forged")
    response = sso_client.get(forged)
    assert response.headers["Location"] == "/login"
    assert not _signed_in(sso_client)
    assert "state" in _logged_refusal(sso_app, caplog)


def test_oidc_user_the_idp_no_longer_lets_in_loses_session_at_next_check(
    sso_app: Flask, sso_client: FlaskClient, browser: requests.Session, idp: Provider, anna: str
) -> None:
    sso_app.config["OIDC_RECHECK_SECONDS"] = 3600
    sign_on(sso_client, browser, anna)
    idp.put_account(anna, disabled=True)
    assert _signed_in(sso_client)  # the next check is not due yet

    sso_app.config["OIDC_RECHECK_SECONDS"] = 0  # every request checks from now on
    response = sso_client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not _signed_in(sso_client)
    (ended,) = _entries(sso_app, "sso_session_ended")
    assert ended.actor_name == f"{ANNA_UPN} (SSO)"


def test_oidc_session_check_passes_and_applies_changed_groups(
    sso_app: Flask, sso_client: FlaskClient, browser: requests.Session, idp: Provider, anna: str
) -> None:
    sign_on(sso_client, browser, anna)
    laptop = sso_app.test_client()  # Anna's second device
    sign_on(laptop, browser, anna)
    sso_app.config["OIDC_RECHECK_SECONDS"] = 0
    assert _signed_in(sso_client)  # checked with the refresh token: still let in
    assert _signed_in(sso_client)  # and again, with the rotated one
    assert _signed_in(laptop)
    idp.put_account(anna, groups=["g-riskreg-members", "g-halsa"])
    assert _signed_in(sso_client)  # the check that saw the change keeps this browser
    user = _user(sso_app)
    assert user is not None and user.role == "unit_member"
    assert sorted(u.code for u in user.units) == ["HSF", "VC"]
    # As when an administrator changes a role: every other session ends.
    assert not _signed_in(laptop)
    idp.put_account(anna, groups=["g-halsa"])  # no role in riskreg any more
    assert sso_client.get("/").headers["Location"] == "/login"
    assert not _signed_in(sso_client)


def test_oidc_local_passwords_off_except_break_glass_admin(
    sso_app: Flask, sso_client: FlaskClient, make_user: Callable[..., User]
) -> None:
    make_user("nodadmin", role="admin")
    make_user("kalle", role="unit_member")
    make_user("nodkontroll", role="controller")
    sso_app.config.update(LOCAL_LOGIN=False, BREAK_GLASS_USERS="nodadmin, nodkontroll")
    page = sso_client.get("/login").get_data(as_text=True)
    assert "Logga in med regionens konto" in page
    assert "Nödinloggning för administratör" in page

    response = login(sso_client, "kalle")
    assert response.status_code == 200
    assert "Inloggning med lösenord är avstängd" in response.get_data(as_text=True)
    assert not _signed_in(sso_client)
    # On the list but no administrator: the right password does not let them in.
    assert login(sso_client, "nodkontroll").status_code == 200
    assert not _signed_in(sso_client)
    assert login(sso_client, "nodadmin").headers["Location"] == "/"
    assert _signed_in(sso_client)


def test_oidc_logout_ends_the_session_at_the_idp_too(
    sso_app: Flask, sso_client: FlaskClient, browser: requests.Session, idp: Provider, anna: str
) -> None:
    sign_on(sso_client, browser, anna)
    response = sso_client.post("/logout")
    end_session = response.headers["Location"]
    assert end_session.startswith(f"{idp.issuer}/session/end?")
    params = query(end_session)
    assert params["post_logout_redirect_uri"] == "http://localhost/login"
    assert params["id_token_hint"].count(".") == 2
    assert not _signed_in(sso_client)

    # The provider asks "sign out?"; the user confirms and is sent back to riskreg.
    page = browser.get(end_session)
    page.raise_for_status()
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    done = browser.post(
        f"{idp.issuer}/session/end/confirm", data={**form, "logout": "yes"}, allow_redirects=False
    )
    assert done.headers["Location"].startswith("http://localhost/login")
    # The IdP session is over: signing on again asks for the login once more.
    again = browser.get(start_sign_on(sso_client), allow_redirects=True)
    assert "/interaction/" in again.url


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        (None, "required"),
        ("{not json", "no valid JSON"),
        ('{"roles": {"g": "superuser"}}', "no role"),
        ('{"roles": {}}', "nobody could sign in"),
        ('{"roles": {"g": "admin"}, "forvaltningar": {"g": "HSF"}}', "förvaltning"),
        ("/nonexistent/mapping.json", "cannot read"),
    ],
)
def test_oidc_group_mapping_mistakes_stop_the_start(setting: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_mapping(setting)


def test_oidc_sign_on_deletes_token_rows_of_expired_sessions(
    ctx: Flask, make_user: Callable[..., User]
) -> None:
    from riskreg.sso.models import SsoSession
    from riskreg.sso.services import open_session

    user = db.session.merge(make_user("anna"))
    start = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    limit = timedelta(hours=10)
    old = open_session(
        db.session, user, id_token="a", refresh_token="r", now=start, idle_limit=limit
    )
    kept = open_session(
        db.session,
        user,
        id_token="b",
        refresh_token="r",
        now=start + timedelta(hours=9),
        idle_limit=limit,
    )
    new = open_session(
        db.session,
        user,
        id_token="c",
        refresh_token="r",
        now=start + timedelta(hours=11),
        idle_limit=limit,
    )
    db.session.flush()
    assert set(db.session.scalars(select(SsoSession.id))) == {kept.id, new.id}
    assert old.id not in {kept.id, new.id}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"LOCAL_LOGIN": False}, "LOCAL_LOGIN=off needs single sign-on"),
        ({"OIDC_ISSUER": "https://idp.invalid"}, "OIDC_CLIENT_ID"),
    ],
)
def test_oidc_settings_that_would_lock_everyone_out_stop_the_start(
    database_url: str, tmp_path: Path, config: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        make_app(database_url, tmp_path, **config)
