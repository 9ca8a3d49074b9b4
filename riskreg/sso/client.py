"""Talking to the identity provider with Authlib: the code flow with PKCE, nonce and state,
the ID token's signature, issuer, audience and lifetime, refresh and RP-initiated logout.

Authlib keeps the flow's state, nonce and PKCE verifier in the Flask session until the
callback; the tokens afterwards go to the database (riskreg.sso.models.SsoSession).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, current_app, url_for
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

#: Everything that means "the IdP's answer is not to be trusted or did not come".
FAILURES: tuple[type[Exception], ...] = (
    OAuthError,
    JoseError,
    requests.RequestException,
    KeyError,
    ValueError,
)

#: The same, plus Authlib's RuntimeError for a provider without an end-session endpoint.
LOGOUT_FAILURES: tuple[type[Exception], ...] = (RuntimeError, *FAILURES)

_NAME = "idp"
_EXTENSION = "riskreg_sso_oauth"


class SignOnFailed(Exception):
    """The sign-on or the check was refused; ``reason`` is for the log and audit trail only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Tokens:
    claims: dict[str, Any]
    id_token: str
    refresh_token: str | None


def init_client(app: Flask) -> None:
    config = app.config
    # One Authlib registry per app (not a module global): each app has its own IdP settings.
    oauth = OAuth(app)
    app.extensions[_EXTENSION] = oauth
    oauth.register(
        _NAME,
        client_id=str(config["OIDC_CLIENT_ID"]),
        client_secret=str(config["OIDC_CLIENT_SECRET"] or ""),
        server_metadata_url=_issuer(config) + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": config["OIDC_SCOPE"],
            "code_challenge_method": "S256",
            "default_timeout": config["OIDC_HTTP_TIMEOUT_SECONDS"],
        },
    )


def _issuer(config: Any) -> str:
    return str(config["OIDC_ISSUER"]).rstrip("/")


def _client() -> Any:
    return current_app.extensions[_EXTENSION].create_client(_NAME)


def redirect_uri() -> str:
    return str(current_app.config["OIDC_REDIRECT_URI"] or url_for("sso.callback", _external=True))


def start() -> Response:
    """Send the browser to the IdP (state, nonce and PKCE challenge made by Authlib)."""
    try:
        response: Response = _client().authorize_redirect(redirect_uri())
    except FAILURES as exc:
        raise SignOnFailed(f"discovery failed: {exc!r}") from exc
    return response


def _claims_options() -> dict[str, Any]:
    config = current_app.config
    metadata = _client().load_server_metadata()
    return {
        "iss": {"essential": True, "values": [metadata["issuer"]]},
        "aud": {"essential": True, "values": [str(config["OIDC_CLIENT_ID"])]},
    }


def finish() -> Tokens:
    """The callback: check state, exchange the code (with the PKCE verifier), verify the ID
    token (signature by the IdP's published keys, issuer, audience, expiry, nonce)."""
    client = _client()
    try:
        token = client.authorize_access_token(
            claims_options=_claims_options(),
            leeway=int(current_app.config["OIDC_CLOCK_SKEW_SECONDS"]),
        )
    except FAILURES as exc:
        raise SignOnFailed(f"{type(exc).__name__}: {exc}") from exc
    # Authlib checks the ID token only when one came: without one there is no sign-on.
    claims = token.get("userinfo")
    if not claims or not token.get("id_token"):
        raise SignOnFailed("no ID token in the token response")
    return Tokens(
        claims=dict(claims), id_token=token["id_token"], refresh_token=token.get("refresh_token")
    )


def refresh(refresh_token: str | None, subject: str) -> Tokens:
    """Ask the IdP whether the user may still sign in: a refresh-token grant.

    Returns the new tokens, or raises SignOnFailed when the IdP refuses (user disabled or
    removed, grant revoked) or cannot be reached: the caller ends the session either way.
    """
    if not refresh_token:
        raise SignOnFailed("no refresh token to check the session with")
    config = current_app.config
    client = _client()
    try:
        metadata = client.load_server_metadata()
        with OAuth2Session(
            str(config["OIDC_CLIENT_ID"]),
            str(config["OIDC_CLIENT_SECRET"] or ""),
            default_timeout=config["OIDC_HTTP_TIMEOUT_SECONDS"],
        ) as session:
            token = session.refresh_token(metadata["token_endpoint"], refresh_token=refresh_token)
        claims: dict[str, Any] = {}
        if token.get("id_token"):
            # The refreshed ID token is checked like the first (no nonce in it by then).
            parsed = client.parse_id_token(
                token,
                nonce=None,
                claims_options=_claims_options(),
                leeway=int(config["OIDC_CLOCK_SKEW_SECONDS"]),
            )
            claims = dict(parsed)
            if claims.get("sub") != subject:
                raise SignOnFailed("the refreshed ID token names another subject")
    except FAILURES as exc:
        raise SignOnFailed(f"{type(exc).__name__}: {exc}") from exc
    return Tokens(
        claims=claims,
        id_token=str(token.get("id_token") or ""),
        refresh_token=token.get("refresh_token") or refresh_token,
    )


def logout_url(id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The IdP's end-session URL (RP-initiated logout), or None if it offers none."""
    try:
        result = _client().create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri,
            id_token_hint=id_token,
            client_id=str(current_app.config["OIDC_CLIENT_ID"]),
        )
    except LOGOUT_FAILURES as exc:
        log.warning("SSO logout: no end-session endpoint (%r)", exc)
        return None
    return str(result["url"])
