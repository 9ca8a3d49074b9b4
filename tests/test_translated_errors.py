"""Refusals from services reach an English session in English (issue 13, item 7).

Services raise ``ServiceError`` with ``riskreg.i18n.gettext_now`` (imported as ``_``), so the
message is looked up in the catalogue of the reader's language when it is raised.
"""

from __future__ import annotations

import ast
import io
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

import riskreg
from riskreg.auth.models import Unit, User
from riskreg.auth.services import create_unit, create_user
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.plans import services as plans
from riskreg.tabular import TableError, open_table
from tests.conftest import login

ROOT = Path(riskreg.__file__).parent
ERRORS = {"ServiceError", "NotAllowed", "StaleObject", "AlreadyDone"}
# Letters and words no English sentence has; enough to catch an untranslated refusal.
SWEDISH = re.compile(r"[åäöÅÄÖ]|\b(?:och|inte|finns|redan|kan|måste|Ange|har|ska)\b")


def _swedish(text: str) -> list[str]:
    return SWEDISH.findall(text)


def _english(app: Flask, refuse: Callable[[], object]) -> str:
    with app.test_request_context(), force_locale("en"):
        with pytest.raises(ServiceError) as raised:
            refuse()
        db.session.rollback()
    return " ".join(raised.value.messages)


def test_an_english_admin_sees_english_refusals_in_the_unit_form(
    client: FlaskClient, make_user: Callable[..., User], make_unit: Callable[..., Unit]
) -> None:
    make_unit("EK", "Ekonomi")
    make_user("chef")
    assert login(client, "chef").status_code == 302
    client.post("/language", data={"locale": "en"})

    html = client.post(
        "/admin/units/new", data={"code": "EK", "name": "Twice", "parent_id": 0, "manager_id": 0}
    ).get_data(as_text=True)
    assert "The unit code EK already exists." in html
    assert "Enhetskoden" not in html and "finns redan" not in html

    client.post("/language", data={"locale": "sv"})
    html = client.post(
        "/admin/units/new", data={"code": "EK", "name": "Två", "parent_id": 0, "manager_id": 0}
    ).get_data(as_text=True)
    assert "Enhetskoden EK finns redan." in html


def test_refusals_from_several_services_are_english_in_an_english_request(app: Flask) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app.app_context():
        unit = create_unit(db.session, code="IT", name="IT")
        admin = create_user(
            db.session,
            username="admin2",
            email="admin2@example.org",
            full_name="Admin",
            password="a long enough password 1",
            role="admin",
            units=[unit],
        )
        org = plans.get_or_create_organisation(db.session, "Region")
        plan = plans.get_or_create_plan(db.session, org, 2026)
        db.session.commit()
        unit_id, admin_id, plan_id = unit.id, admin.id, plan.id

    def user() -> User:
        found = db.session.get(User, admin_id)
        assert found is not None
        return found

    refusals: dict[str, Callable[[], object]] = {
        "organisation": lambda: plans.get_or_create_organisation(db.session, " "),
        "plan year": lambda: plans.get_or_create_plan(
            db.session, plans.get_or_create_organisation(db.session, "Region"), 1999
        ),
        "empty plan": lambda: plans.adopt_plan(
            db.session,
            db.session.get(plans.Plan, plan_id),
            actor=user(),
            now=now,
            decision_date=date(2026, 3, 1),
            decision_body="Regionstyrelsen",
            decision_paragraph="§ 12",
            diary_number="RS 2026/1",
        ),
        "duplicate unit": lambda: create_unit(db.session, code="IT", name="IT igen"),
        "unit under itself": lambda: _move_unit_under_itself(unit_id),
        "short password": lambda: create_user(
            db.session,
            username="kort",
            email="kort@example.org",
            full_name="Kort",
            password="kort",
            role="admin",
            units=[],
        ),
    }
    seen = {name: _english(app, refuse) for name, refuse in refusals.items()}
    swedish = {name: (text, _swedish(text)) for name, text in seen.items() if _swedish(text)}
    assert not swedish, swedish
    assert seen["plan year"] == "Unreasonable plan year: 1999."
    assert seen["duplicate unit"] == "The unit code IT already exists."

    # The same refusal in a Swedish request stays Swedish: the source text, not a blank.
    with app.test_request_context(), force_locale("sv"):
        with pytest.raises(ServiceError, match=r"Orimligt planår: 1999\."):
            refusals["plan year"]()
        db.session.rollback()


def _move_unit_under_itself(unit_id: int) -> None:
    from riskreg.auth.services import update_unit

    unit = db.session.get(Unit, unit_id)
    assert unit is not None
    update_unit(
        db.session, unit, code=unit.code, name=unit.name, parent=unit, email=None, manager=None
    )


def _untranslated_raises(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name not in ERRORS:
            continue
        first = node.args[0]
        if isinstance(first, (ast.Constant, ast.JoinedStr, ast.BinOp)):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    return found


def test_no_service_error_is_raised_with_a_bare_string() -> None:
    """A string literal (or f-string) handed straight to ServiceError is never translated."""
    offenders = [hit for path in sorted(ROOT.rglob("*.py")) for hit in _untranslated_raises(path)]
    assert not offenders, offenders


def _zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    return buffer.getvalue()


#: Files an import refuses before reading a row (riskreg.tabular), and one row it cannot read.
BAD_FILES: dict[str, bytes] = {
    "empty": b"",
    "html": b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>",
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    "zip": _zip_without_workbook(),
    "duplicate column": b"Id;Id\n1;2\n",
    "mixed encodings": "Namn;Ort\nÅsa;Umeå\n".encode() + "Örjan;Älvsbyn\n".encode("cp1252"),
    "broken quote": b'Id;Text\n1;"never closed\n',
}


def _read_all(content: bytes) -> list[str]:
    """Open and read a file as an import does; the row problems it reports, if any."""
    with open_table(io.BytesIO(content), "data.csv") as table:
        return [row.problem for row in table if row.problem]


def test_import_file_errors_are_english_in_an_english_request(app: Flask) -> None:
    seen: dict[str, str] = {}
    for name, content in BAD_FILES.items():
        with (
            app.test_request_context(),
            force_locale("en"),
            pytest.raises(TableError) as raised,
        ):
            _read_all(content)
        seen[name] = str(raised.value)
    with app.test_request_context(), force_locale("en"):
        seen["too many fields"] = " ".join(_read_all(b"Id;Namn\n1;Anna;extra\n"))
    # The one English text that names å, ä and ö on purpose.
    assert seen.pop("mixed encodings").startswith("Row 3: The file mixes character encodings")
    swedish = {name: (text, _swedish(text)) for name, text in seen.items() if _swedish(text)}
    assert not swedish, swedish
    assert seen["empty"] == "The file is empty."
    assert seen["duplicate column"] == (
        "Row 1: The column “Id” appears more than once in the header row."
    )
    assert seen["too many fields"].startswith("the row has 3 fields but the header row has 2.")

    # A Swedish reader gets the Swedish source text.
    with (
        app.test_request_context(),
        force_locale("sv"),
        pytest.raises(TableError, match=r"^Filen är tom\.$"),
    ):
        _read_all(BAD_FILES["empty"])
