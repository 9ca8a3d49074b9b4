"""English catalogue entries whose msgstr no longer translates its msgid.

``pybabel update`` keeps a msgstr by position when strings around it change, and a hand edit
can land one line off; once, the button "Exportera XLSX" read "Seed chosen" (the English of
"Frö valt"). Nothing else notices: the entry is translated, compiled and shows up in English.
Three rules catch such drift without flagging correct translations:

* placeholders (``%(n)s``, ``%s``, ``{name}``) are the same on both sides;
* what no translation changes – acronyms of three or more capitals (CSV, XLSX, PDF, SHA,
  MUS, SMTP) and numbers – appears in the msgstr too; Swedish words in capitals for emphasis
  ("stämmer INTE", "GÅR INTE ATT LÄSA", verdicts on the command line) are words, not acronyms:
  those with å, ä or ö are recognised by their letters, the others are listed in EMPHASIS;
* one English text shared by several msgids is a drift unless those msgids are forms of one
  another (share a word stem: "Klar"/"Klara", "Ange datum."/"Ange ett datum."), or are
  listed below as real synonyms.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from babel.messages.pofile import read_po

import riskreg

CATALOGUE = Path(riskreg.__file__).parent / "translations" / "en" / "LC_MESSAGES" / "messages.po"

_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
_INVARIANT = re.compile(r"(?<![A-Za-zÅÄÖåäö])[A-ZÅÄÖ]{3,}(?![a-zåäö])|\d+")
_WORD = re.compile(r"\w+")

#: Swedish words without å, ä or ö that messages write in capitals for emphasis.
EMPHASIS = frozenset({"INTE", "NEJ", "ATT"})

#: Different Swedish words that really share one English translation.
SYNONYMS: frozenset[frozenset[str]] = frozenset(
    {
        # "Post" (a sampled item) and "Ärende" (what a reminder is about) are both an item.
        frozenset({"Post", "Ärende"}),
        # English colour words have one form; Swedish "gul"/"gula", "röd"/"röda" two.
        frozenset({"%(num)s gul", "%(num)s gula"}),
        frozenset({"%(num)s röd", "%(num)s röda"}),
    }
)


def _pairs() -> list[tuple[str, str]]:
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    pairs = []
    for message in catalogue:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(ids[0], strings[0]), (ids[-1], strings[-1])]
    return pairs


def _stems(text: str) -> set[str]:
    return {word[:4].casefold() for word in _WORD.findall(text) if len(word) >= 4}


def drift(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The problems found in (msgid, msgstr) pairs, in words."""
    problems: list[str] = []
    by_string: dict[str, set[str]] = defaultdict(set)
    for msgid, msgstr in pairs:
        if sorted(_PLACEHOLDER.findall(msgid)) != sorted(_PLACEHOLDER.findall(msgstr)):
            problems.append(f"placeholders differ: {msgid!r} -> {msgstr!r}")
        missing = [
            token
            for token in _INVARIANT.findall(msgid)
            if token not in msgstr and token not in EMPHASIS and not set(token) & set("ÅÄÖ")
        ]
        if missing:
            problems.append(f"{', '.join(missing)} missing: {msgid!r} -> {msgstr!r}")
        by_string[msgstr].add(msgid)
    for msgstr, msgids in by_string.items():
        if len(msgids) < 2 or frozenset(msgids) in SYNONYMS:
            continue
        stems = [_stems(msgid) for msgid in msgids]
        unrelated = [
            msgid
            for msgid, own in zip(msgids, stems, strict=True)
            if not any(own & other for other in stems if other is not own)
        ]
        if unrelated:
            problems.append(f"{msgstr!r} translates unrelated {sorted(msgids)!r}")
    return problems


def test_the_english_catalogue_has_no_drifted_entries() -> None:
    problems = drift(_pairs())
    assert not problems, "\n".join(problems)


def test_the_exportera_xlsx_drift_would_be_caught() -> None:
    pairs = [("Exportera XLSX", "Seed chosen"), ("Frö valt", "Seed chosen")]
    problems = drift(pairs)
    assert any("XLSX missing" in problem for problem in problems)
    assert any("translates unrelated" in problem for problem in problems)


def test_correct_translations_pass() -> None:
    pairs = [
        ("Exportera XLSX", "Export XLSX"),
        ("Endast CSV- eller XLSX-filer.", "CSV or XLSX files only."),
        ("Ange datum som ÅÅÅÅ-MM-DD.", "Enter dates as YYYY-MM-DD."),
        ("%(n)s ej bedömbara", "%(n)s not assessable"),
        ("Klar", "Completed"),
        ("Klara", "Completed"),
        ("Ange datum.", "Enter a date."),
        ("Ange ett datum.", "Enter a date."),
        ("Administratör (IK-samordnare)", "Administrator (internal control coordinator)"),
    ]
    assert drift(pairs) == []


def test_other_drifts_are_caught() -> None:
    assert drift([("%(n)s poster", "items")])
    assert drift([("Skiktat urval, 95 %", "Stratified sample")])
