"""One normal form of a username for login, lockout, user creation and the CLI (issue 16, 3).

During a lockout the right password with a padded username used to log in. Every spelling of
a name that logs in to an account is now also the spelling its lock applies to.
"""

from __future__ import annotations

import unicodedata

import pytest
from flask import Flask

from riskreg.auth.services import create_user, find_user, normalize_username
from riskreg.errors import ServiceError
from riskreg.extensions import db
from tests.conftest import TEST_PASSWORD
from tests.security.apps import hardened_app
from tests.security.apps import login_with_csrf as post_login

NAME = "åsa.berg"
SPELLINGS = [
    " åsa.berg",
    "åsa.berg ",
    "\tÅSA.BERG",
    "åsa.berg\u00a0",  # no-break space
    "\u3000åsa.berg",  # ideographic space
    "åsa.berg\u200b",  # zero-width space
    "\ufeffåsa.berg",  # byte-order mark pasted from a file
    unicodedata.normalize("NFD", "Åsa.Berg"),  # å as a + combining ring
]


@pytest.mark.parametrize("typed", SPELLINGS)
def test_every_spelling_that_logs_in_is_locked_out_too(
    app: Flask, make_user, typed: str
) -> None:  # type: ignore[no-untyped-def]
    make_user(NAME, "controller")
    with hardened_app(app) as hard:
        # Unlocked, the spelling logs in to the account...
        assert post_login(hard.test_client(), typed, TEST_PASSWORD).status_code == 302
        # ...so after five failures under the plain name it is refused, right password or not.
        for _ in range(5):
            post_login(hard.test_client(), NAME, "fel-lösenord-123")
        response = post_login(hard.test_client(), typed, TEST_PASSWORD)
        assert response.status_code == 429, response.get_data(as_text=True)


def test_failures_under_padded_spellings_count_for_the_account(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user(NAME, "controller")
    with hardened_app(app) as hard:
        for typed in SPELLINGS[:5]:
            post_login(hard.test_client(), typed, "fel-lösenord-123")
        assert post_login(hard.test_client(), NAME, TEST_PASSWORD).status_code == 429


def test_users_are_created_under_the_normal_form_and_once(ctx: Flask) -> None:
    user = create_user(
        db.session,
        username="\u200b " + unicodedata.normalize("NFD", "Åsa.Berg") + "\u00a0",
        email="asa@example.org",
        full_name="Åsa Berg",
        password=TEST_PASSWORD,
        role="controller",
    )
    assert user.username == "Åsa.Berg"
    assert unicodedata.is_normalized("NFC", user.username)
    for typed in SPELLINGS:
        assert find_user(db.session, typed) is user, repr(typed)
    with pytest.raises(ServiceError, match="finns redan"):
        create_user(
            db.session,
            username=" ÅSA.BERG\u3000",
            email="other@example.org",
            full_name="Annan",
            password=TEST_PASSWORD,
            role="controller",
        )
    with pytest.raises(ServiceError, match="Ange ett användarnamn"):
        create_user(
            db.session,
            username="\u200b \u00a0",
            email="tom@example.org",
            full_name="Tom",
            password=TEST_PASSWORD,
            role="controller",
        )


def test_inner_characters_are_kept() -> None:
    assert normalize_username("  anna  berg ") == "anna  berg"
    assert normalize_username("a\u200bb") == "a\u200bb"
