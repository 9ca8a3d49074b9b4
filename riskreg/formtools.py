"""Small helpers shared by the feature forms."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from wtforms.fields.choices import SelectChoice


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


def new_form_token() -> str:
    """A one-time token for a form that creates something: sent twice, it creates one."""
    return secrets.token_urlsafe(24)
