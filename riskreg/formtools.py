"""Small helpers shared by the feature forms."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

# SelectChoice is WTForms 3.3's; types-WTForms (3.2) does not know it yet.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

T = TypeVar("T")


def flash_errors(form: Any) -> None:
    """Flash every field error of a form whose page is elsewhere (a button form that
    redirects back), so the refusal still says what was wrong."""
    from flask import flash

    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "danger")


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs; WTForms 3.3 deprecates bare tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


def required(data: T | None) -> T:
    """A validated field's data where its validators (DataRequired, InputRequired) rule out
    None; WTForms' stubs type every field's ``data`` as optional."""
    if data is None:
        raise ValueError("a required form field has no data; validate the form first")
    return data


def new_form_token() -> str:
    """A one-time token for a form that creates something: sent twice, it creates one."""
    return secrets.token_urlsafe(24)


@dataclass
class Attempt:
    """How a :func:`saving` block ended: saved (committed), stale, or refused."""

    saved: bool = False
    stale: bool = False
    refused: bool = False


@contextmanager
def saving(form: Any) -> Iterator[Attempt]:
    """The one save step of a form view: run the service calls in the block, then commit.

    A ``StaleObject`` (someone saved since the form was loaded) or any other ``ServiceError``
    rolls the request back and puts the message(s) on the form, and the block ends there;
    ``attempt.stale`` tells the view to show the saved version beside the user's. A lost race
    found only at commit (StaleDataError, IntegrityError) is not caught here: it reaches the
    application's conflict page (``lost_race``), like in every other view.

        with saving(form) as attempt:
            update_thing(db.session, thing, ..., expected_version=...)
        if attempt.saved:
            flash(...)
            return redirect(...)
        if attempt.stale:
            current = db.session.get(Thing, thing_id)
    """
    from riskreg.errors import ServiceError, StaleObject
    from riskreg.extensions import db

    attempt = Attempt()
    try:
        yield attempt
    except StaleObject as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        attempt.stale = True
    except ServiceError as exc:
        db.session.rollback()
        form.form_errors.extend(exc.messages)
        attempt.refused = True
    else:
        db.session.commit()
        attempt.saved = True
