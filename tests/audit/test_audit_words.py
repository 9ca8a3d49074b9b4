"""The audit trail speaks words, not codes: object types, fields and status values by their
names, people and objects by name, over the whole demo (every feature's steps)."""

from __future__ import annotations

import enum
import re
from html.parser import HTMLParser
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from riskreg.audit.services import (
    NAMERS,
    TrailFilter,
    _reference_type,
    trail_page,
)
from riskreg.extensions import db
from tests.conftest import login

SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
CATALOGUE = Path(__file__).resolve().parents[2] / "riskreg/translations/en/LC_MESSAGES/messages.po"


class _Text(HTMLParser):
    """The text of the trail table (or the history section), cell by cell."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.depth = 0
        self.cells: list[str] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag not in {"br", "input", "img", "meta", "link"}
        elif dict(attrs).get("data-testid") == self.marker:
            self.depth = 1
        if self.depth and tag == "td":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "td" and self.cell is not None:
            self.cells.append(" ".join("".join(self.cell).split()))
            self.cell = None
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and self.cell is not None:
            self.cell.append(data)


def _codes(app: Flask) -> set[str]:
    """Every table name, column name and enum value of the models: what must not be shown."""
    codes: set[str] = set()
    for table in db.metadata.sorted_tables:
        codes.add(table.name)
        codes.update(column.name for column in table.columns)

    def values(cls: type) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("riskreg."):
                codes.update(str(member.value) for member in sub)  # type: ignore[attr-defined]
            values(sub)

    values(enum.StrEnum)
    # Words that Swedish interface text itself uses ("Status", "Risk", "Population") are words.
    swedish = set(re.findall(r"\w+", CATALOGUE.read_text(encoding="utf-8").lower()))
    return {code for code in codes if code.lower() not in swedish or "_" in code}


def _trail_cells(client: FlaskClient) -> list[str]:
    cells: list[str] = []
    url = "/audit/"
    pages = 0
    while url:
        html = client.get(url).get_data(as_text=True)
        parser = _Text("audit-trail")
        parser.feed(html)
        cells += parser.cells
        older = re.search(r'href="(/audit/\?before=\d+[^"]*)"', html)
        url = older.group(1).replace("&amp;", "&") if older else ""
        pages += 1
    assert pages > 1  # the whole demo trail, not just its newest page
    return cells


def test_the_audit_trail_names_types_fields_values_and_people_in_words(
    app: Flask, client: FlaskClient, demo: dict[str, str]
) -> None:
    login(client, "revisor", demo["revisor"])
    cells = _trail_cells(client)
    text = "\n".join(cells)
    with app.app_context():
        codes = _codes(app)
    assert "Godkänd av" in text or "Signerad av" in text
    # User names, e-mail addresses, file names and certificate names are data, not codes.
    text = re.sub(r"\S+@\S+|Användarnamn: \S+|\S+\.(p12|csv|xlsx|pdf)\b|\b[A-Z]+=[^,\s]+", "", text)
    problems = sorted(set(SNAKE_CASE.findall(text)))
    problems += sorted(
        {code for code in codes if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)}
    )
    problems += [line for line in text.splitlines() if "(id)" in line or "-id)" in line]
    assert not problems, "\n".join(problems)


def test_references_in_the_trail_are_shown_by_name_not_as_bare_ids(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.test_request_context():
        entries, _ = trail_page(db.session, TrailFilter(), size=100_000)
        assert len(entries) > 500
        bare: set[str] = set()
        unlabelled: set[str] = set()
        for entry in entries:
            for change in entry.changes:
                if change.label == change.field and "_" in change.field:
                    unlabelled.add(f"{entry.object_type}.{change.field}")
                kind = _reference_type(entry.object_type, change.field)
                if kind is None or not (change.field.endswith(("_id", "_ids"))):
                    continue
                for value, text in ((change.old, change.old_text), (change.new, change.new_text)):
                    if value is not None and re.fullmatch(r"[\d, ]+", text):
                        bare.add(f"{entry.object_type}.{change.field}: {text}")
        assert not unlabelled, "\n".join(sorted(unlabelled))
        assert not bare, "\n".join(sorted(bare))
        # Every object type in the trail can be named, so its rows show names, not numbers.
        unnamed = {e.object_type for e in entries if e.object_id.isdigit()} - set(NAMERS)
        assert not unnamed, sorted(unnamed)


def test_the_audit_trail_reads_in_english_too(client: FlaskClient, demo: dict[str, str]) -> None:
    login(client, "revisor", demo["revisor"])
    client.post("/language", data={"locale": "en", "next": "/audit/"})
    text = "\n".join(_trail_cells(client))
    # The approver's approval: a status change, its values and the approver, all in English.
    assert "Approved by: – → Göran Förvaltningschef" in text
    assert "Status: Ready for approval – waiting for the approver → Approved" in text
    assert "Rebecka Revisor127.0.0.1" in text  # who: the auditor's own language change, by name
    assert "Klar för granskning" not in text and "Godkänd av" not in text
    assert not SNAKE_CASE.findall(re.sub(r"\S+@\S+|\S+\.(p12|csv|xlsx|pdf)\b", "", text))
