"""The English catalogue: compiled file up to date, and the UI really switches language."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.pofile import read_po

import riskreg

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
