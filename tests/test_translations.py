"""The English catalogue: compiled file up to date, and the UI really switches language."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

import riskreg
from tests.conftest import load_demo_data, login

CATALOGUE = Path(riskreg.__file__).parent / "translations" / "en" / "LC_MESSAGES"


def _compiled(
    compiled: gettext.GNUTranslations, msgid: str | tuple[str, str]
) -> str | tuple[str, ...]:
    if isinstance(msgid, tuple):  # plural forms: (singular, plural) for n=1 and n=2
        return (compiled.ngettext(msgid[0], msgid[1], 1), compiled.ngettext(msgid[0], msgid[1], 2))
    return compiled.gettext(msgid)


def test_compiled_catalogue_matches_its_source() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        source = read_po(handle)
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        message.id
        for message in source
        if message.id and message.string and _compiled(compiled, message.id) != message.string
    ]
    assert not stale, f"run ./scripts/translations; stale in messages.mo: {stale[:5]}"


def test_every_ui_string_has_an_english_translation() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        source = read_po(handle)
    untranslated = [
        message.id
        for message in source
        if message.id
        and (
            not all(message.string)
            if isinstance(message.string, tuple)
            else not message.string
        )
    ]
    assert not untranslated, f"{len(untranslated)} without English: {untranslated[:10]}"


SWEDISH_UI_WORDS = (
    "Översikt",
    "Riskregister",
    "Granskningar",
    "Åtgärder",
    "Logga ut",
    "Sannolikhet",
    "Konsekvens",
)
ENGLISH_PAGES = {
    "/": "Overview",
    "/plans/": "Internal control plans",
    "/risks/": "Risk register",
    "/controls/": "Reviews",
    "/risks/heatmap": "Heat map",
}


@pytest.fixture()
def demo(app: Flask) -> dict[str, str]:
    return load_demo_data(app)


@pytest.mark.parametrize("username", ["admin", "granskare", "revisor"])
def test_the_ui_switches_to_english(
    client: FlaskClient, demo: dict[str, str], username: str
) -> None:
    assert login(client, username, demo[username]).status_code == 302
    client.post("/language", data={"locale": "en"})
    for path, english in ENGLISH_PAGES.items():
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert english in html, (path, english)
        assert "Log out" in html, path
        found = [word for word in SWEDISH_UI_WORDS if word in html]
        assert not found, (path, found)


def test_templates_translate_only_literals() -> None:
    """Jinja's _() marks its result safe: on a database value it would bypass autoescape.

    Values that need translating (level names, attributes) use the |tr filter instead.
    """
    import re

    root = Path(riskreg.__file__).parent / "templates"
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.html")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"(?<![\w.])_\(\s*[^'\"\s)]", line)
    ]
    assert not offenders, f"_() on a non-literal: {offenders}"
