"""A harness that throws hostile input at forms and checks the application stays whole.

A form is described once, as a :class:`HostileForm`: where it posts, who may post it, a valid
submission built from the current database, and the names of the fields to attack. Two
hypothesis properties (tests/security/test_hostile_forms.py) run over every described form:

* **refused without trace**: one attacked field gets a value no field may accept (longer than
  any field allows, or with a control character), the others get hostile text. The answer
  must be a clear refusal (the form again with its error, or the 400/413 page with its
  message), never a 500; the database must be exactly as before (row counts and a hash of
  every table, audit trail included); and the next request must be served.
* **hostile but valid**: short hostile text (SQL and script fragments, emoji, right-to-left
  marks, combining characters, other scripts, invalid UTF-8 bytes) in the attacked fields.
  Either it is refused as above, or it is accepted (a redirect) and the page redirected to
  renders. Never a 500.

Adding a feature's form is a list entry. Put a module in tests/security/hostile_forms/ with::

    from tests.security.hostile import HostileForm

    FORMS = [
        HostileForm(
            name="control edit",
            url=lambda app: f"/controls/{first_id(app, Control)}/edit",
            valid=lambda app: {"title": "Kontroll", "deadline": "2025-08-15", ...},
            attack=("title", "method", "deadline"),
        ),
    ]

Values may be ``str`` or ``bytes`` (sent percent-encoded as they are, so bytes that are no
UTF-8 reach the server raw) or a list of either for multi-valued fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st

from tests.security.apps import db_fingerprint as fingerprint

__all__ = ["HostileForm", "fingerprint"]

FormValue = str | bytes | list[str | bytes]

#: What people and attackers actually paste.
FRAGMENTS: tuple[str, ...] = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "'; DROP TABLE risk; --",
    "' OR '1'='1",
    '" OR 1=1 --',
    "1; SELECT pg_sleep(10)",
    "{{7*7}}",
    "${7*7}",
    "{% raw %}",
    "%s%s%s%n",
    "../../../etc/passwd",
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero-width space
    "\ufeff",  # byte-order mark
    "\u0301\u0301\u0301",  # combining accents
    "🙂",
    "👩🏽‍⚕️",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "ÅÄÖåäö",
    "Ω≈ç√∫",
    "مرحبا",
    "שלום",
    "中文",
    "NULL",
    "None",
    "undefined",
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "2025-02-30",
    "\t",
    "\r\n",
    "\u000b",
    " ",
    "",
)
#: Characters no form may accept (riskreg refuses C0 controls except tab and line breaks).
CONTROL = tuple(chr(c) for c in (*range(0x00, 0x09), *range(0x0E, 0x20)))
#: Longer than any text field of riskreg's forms allows (the longest, a risk's method, 4000).
TOO_LONG = 4097


#: Any Unicode a browser can send except the C0 controls riskreg refuses outright (those are
#: unacceptable_value()'s business): other scripts, symbols, emoji, format characters, C1.
TYPEABLE = st.characters(codec="utf-8", exclude_characters="".join(CONTROL))


def hostile_text(max_size: int = 200) -> st.SearchStrategy[str]:
    """Short hostile text: fragments, any Unicode, and mixtures of both."""
    piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(TYPEABLE, max_size=12))
    return st.one_of(
        st.sampled_from(FRAGMENTS),
        st.text(TYPEABLE, max_size=max_size),
        st.lists(piece, max_size=8).map("".join).map(lambda s: s[:max_size]),
    )


def invalid_bytes() -> st.SearchStrategy[bytes]:
    """Bytes that are no UTF-8: cp1252 text, UTF-16, lone continuation bytes."""
    return st.one_of(
        st.sampled_from(
            [
                "Åtgärd för ökad följsamhet".encode("cp1252"),
                "Risk".encode("utf-16"),
                "Risk".encode("utf-16-le"),
                b"\xff\xfe\xfd",
                b"\xc3\x28",
                b"\xed\xa0\x80",  # an encoded surrogate
                b"\x80abc",
            ]
        ),
        st.binary(min_size=1, max_size=40),
    )


def any_hostile_value() -> st.SearchStrategy[str | bytes]:
    return st.one_of(hostile_text(), invalid_bytes())


def _repeat_to(piece: str, length: int) -> str:
    return (piece * (length // len(piece) + 1))[:length]


def unacceptable_value(min_length: int = TOO_LONG) -> st.SearchStrategy[str]:
    """A value every field must refuse: too long (at least `min_length` characters), or
    carrying a control character."""
    too_long = st.builds(
        _repeat_to,
        st.sampled_from((*FRAGMENTS[:14], "x", "å", "🙂")),
        st.integers(min_length, max(min_length, 20_000)),
    )
    with_control = st.tuples(hostile_text(40), st.sampled_from(CONTROL), hostile_text(40)).map(
        "".join
    )
    return st.one_of(too_long, with_control)


@dataclass(frozen=True)
class HostileForm:
    name: str
    url: Callable[[Flask], str]
    valid: Callable[[Flask], dict[str, FormValue]]
    attack: tuple[str, ...]
    login: str = "admin"
    #: Statuses that also mean "refused" besides 200-with-errors, 400 and 413: a redirect
    #: back, e.g. the language switch ignores a bad choice and simply goes back (302).
    quiet_refusal: frozenset[int] = field(default_factory=frozenset)
    #: Whether the page a quiet refusal redirects to must show an error (a flashed message).
    quiet_message: bool = False
    #: A length every attacked text field refuses: more than the form's longest field allows
    #: (a control's deviation definition 10 000, its conclusion 20 000).
    too_long: int = TOO_LONG


ERROR_MARKERS = (
    'data-testid="form-errors"',
    'class="invalid-feedback',
    "alert-danger",
    'data-testid="error-message"',
    'data-testid="conflict"',
)


def post(client: FlaskClient, url: str, values: dict[str, FormValue]) -> Any:
    """POST as a browser would, except that bytes go out exactly as given."""
    pairs: list[tuple[str, str | bytes]] = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    return client.post(url, data=urlencode(pairs), content_type="application/x-www-form-urlencoded")


def shows_an_error(html: str) -> bool:
    return any(marker in html for marker in ERROR_MARKERS)


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


SERVER_ERROR = re.compile(r"Ett oväntat fel inträffade|Traceback", re.IGNORECASE)


def assert_still_serving(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code in (200, 302), f"after the attack / answers {response.status_code}"


def merge(base: dict[str, FormValue], changes: dict[str, FormValue]) -> dict[str, FormValue]:
    values = dict(base)
    values.update(changes)
    return values


def pick_fields(form: HostileForm) -> st.SearchStrategy[Sequence[str]]:
    return st.lists(st.sampled_from(form.attack), min_size=1, max_size=len(form.attack),
                    unique=True)
