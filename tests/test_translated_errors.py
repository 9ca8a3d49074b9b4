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
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select, text

import riskreg
from riskreg.audit.models import AuditEntry
from riskreg.auth.models import Unit, User
from riskreg.auth.services import create_unit, create_user
from riskreg.cellvalues import parse_bool_jn, parse_date, parse_decimal_sek, parse_int, parse_text
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.plans import services as plans
from riskreg.sampling import importing
from riskreg.tabular import TableError, open_table
from tests.conftest import login
from tests.sampling.conftest import NOW, World
from tests.sampling.conftest import world as sample_world  # noqa: F401  (a fixture)

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


# ---------------------------------------------------------------- cell values, import rows


#: Bad cells and the parser that refuses each (riskreg.cellvalues).
BAD_VALUES: dict[str, Callable[[], object]] = {
    "decimals in an integer": lambda: parse_int("4,5"),
    "text as integer": lambda: parse_int("fyra"),
    "ambiguous amount": lambda: parse_decimal_sek("12,345"),
    "three decimals": lambda: parse_decimal_sek("1 234,567"),
    "letters in an amount": lambda: parse_decimal_sek("12 kr 50"),
    "bad grouping": lambda: parse_decimal_sek("1,234,56.7"),
    "huge amount": lambda: parse_decimal_sek(10**16),
    "empty amount": lambda: parse_decimal_sek(" "),
    "30 February": lambda: parse_date("2025-02-30"),
    "month 13": lambda: parse_date("2025-13-01"),
    "day first": lambda: parse_date("15/8/2025"),
    "Excel serial": lambda: parse_date(45000),
    "time of day": lambda: parse_date("2025-01-01 13:45"),
    "bad time": lambda: parse_date("2025-01-01 25:00", allow_time=True),
    "year 1800": lambda: parse_date("1800-01-01"),
    "empty date": lambda: parse_date(""),
    "maybe": lambda: parse_bool_jn("kanske"),
    "unanswered": lambda: parse_bool_jn(""),
    "Excel error": lambda: parse_text("#REF!"),
    "control character": lambda: parse_text("a\x01b"),
    "infinite": lambda: parse_text(float("inf")),
}


def _value_errors(app: Flask, locale: str) -> dict[str, str]:
    seen = {}
    with app.test_request_context(), force_locale(locale):
        for name, parse in BAD_VALUES.items():
            with pytest.raises(ValueError) as raised:
                parse()
            seen[name] = str(raised.value)
    return seen


def test_bad_cell_values_are_refused_in_english_for_an_english_reader(app: Flask) -> None:
    seen = _value_errors(app, "en")
    swedish = {name: (text, _swedish(text)) for name, text in seen.items() if _swedish(text)}
    assert not swedish, swedish
    assert seen["30 February"] == "”2025-02-30” is not a valid date: February 2025 has 28 days."
    assert seen["ambiguous amount"].startswith("”12,345” is ambiguous: it may mean 12 345 kr")
    assert seen["maybe"].startswith("”kanske” is not J, N or EA")

    swedish_seen = _value_errors(app, "sv")
    assert swedish_seen["30 February"] == (
        "”2025-02-30” är inget giltigt datum: februari 2025 har 28 dagar."
    )
    # Outside the app (scripts, framework-free use) the Swedish source is returned.
    with pytest.raises(ValueError, match=r"^”4,5” är inte ett heltal\.$"):
        parse_int("4,5")


PAYMENT_ROWS = (
    "Utbetalnings-id;Vårdgivare;Avtal;Period;Belopp;Betalningsdatum\n"
    "U-1;Vårdcentralen AB;VV-1;2025-01;12,345;2025-01-25\n"  # ambiguous amount
    "U-2;;VV-1;2025-01;100,00;2025-02-30\n"  # provider missing, no such date
    "U-4;Läkarhuset AB;VV-2;2025-02;1 000;2025-02-25\n"
    "U-6;Citykliniken;VV-3;2025-03;50;2024-12-31\n"  # outside the period
    "U-5;Ögonkliniken;VV-4;2025-04;#REF!;2025-04-25\n"  # Excel error value
    "U-4;Ögonkliniken;VV-4;2025-04;10;2025-04-25\n"  # duplicate key
)


def _payments_xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp", "Betalningsdatum"])
    sheet.append(["U-1", "Vårdcentralen AB", "VV-1", "2025-01", 12.345, 45000])  # serial date
    sheet.append(["U-2", "Läkarhuset AB", "VV-2", "2025-02", "tusen", datetime(2025, 2, 1, 13)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


HYGIENE_ROWS = (
    "Enhet;Yrke;Datum;Typ;Steg 1;Steg 2;Steg 3;Steg 4;Steg 5;Steg 6;Steg 7;Steg 8\n"
    "Avd 1;Sjuksköterska;2025-05-02;observation;J;J;N;EA;J;J;J;kanske\n"
    ";Undersköterska;2025-13-01;gissning;J;J;J;J;J;J;J;\n"
)


def _import_messages(world: World, check_type: str, content: bytes, name: str) -> list[str]:
    with pytest.raises(ServiceError) as raised:
        if check_type == "hygiene":
            importing.import_observations(
                db.session,
                world.control(check_type),
                io.BytesIO(content),
                name,
                actor=world.user("granskare"),
                now=NOW,
            )
        else:
            importing.import_population(
                db.session,
                world.control(check_type),
                io.BytesIO(content),
                name,
                actor=world.user("granskare"),
                now=NOW,
                period_start=date(2025, 1, 1),
                period_end=date(2025, 6, 30),
            )
    db.session.rollback()
    return [raised.value.message, *raised.value.messages]


def test_population_and_observation_rows_are_refused_in_english(
    app: Flask,
    sample_world: World,  # noqa: F811  (the fixture imported above)
) -> None:
    world = sample_world
    files = {
        "payments csv": ("payments", PAYMENT_ROWS.encode("utf-8"), "utbetalningar.csv"),
        "payments xlsx": ("payments", _payments_xlsx(), "utbetalningar.xlsx"),
        "hygiene csv": ("hygiene", HYGIENE_ROWS.encode("utf-8"), "matning.csv"),
    }
    seen: dict[str, list[str]] = {}
    with app.test_request_context(), force_locale("en"):
        for name, (check_type, content, filename) in files.items():
            seen[name] = _import_messages(world, check_type, content, filename)
    swedish = {
        name: [(text, _swedish(text)) for text in texts if _swedish(text)]
        for name, texts in seen.items()
    }
    assert not any(swedish.values()), swedish
    payments = seen["payments csv"]
    assert payments[0] == (
        "The file has 6 errors. Nothing has been saved; correct the file and import again."
    )
    assert "Row 2: Amount: ”12,345” is ambiguous" in " ".join(payments)
    assert "Row 3: Care provider is missing." in payments
    assert any(m.startswith("Row 7: Payment id “U-4” already appears on row 4") for m in payments)
    assert "Row 5: Payment date 2024-12-31 lies outside the population’s period." in payments
    assert "Row 6: Amount: ”#REF!” is not an amount." in payments
    assert any("Payment date: ”45000” is a number, not a date" in m for m in seen["payments xlsx"])
    hygiene = " ".join(seen["hygiene csv"])
    assert "Row 2: Step 8: ”kanske” is not J, N or EA" in hygiene
    assert "Row 3: Unit is missing." in hygiene
    assert "neither observation nor self-assessment" in hygiene

    with app.test_request_context(), force_locale("sv"):
        swedish_payments = _import_messages(
            world, "payments", PAYMENT_ROWS.encode("utf-8"), "utbetalningar.csv"
        )
    assert "Rad 3: Vårdgivare saknas." in swedish_payments


PLAN_ROWS = (
    "section,risk,review_area,regulation,method,probability,consequence,risk_value,deadline,"
    "responsible\n"
    "region,Felaktiga utbetalningar,Utbetalningar,,Stickprov,5,2,10,2025-10-31,CE\n"
    "okand,Risk två,Område,,,2,2,5,2025-02-30,Saknas\n"
    "administration,,Område,,,,3,x,2025-10-31,CE\n"
)


def test_plan_rows_are_refused_in_english(app: Flask) -> None:
    from riskreg.plans.file_import import import_plan_file

    with app.app_context():
        create_unit(db.session, code="CE", name="CE")
        db.session.commit()

    def refuse(locale: str) -> list[str]:
        with app.test_request_context(), force_locale(locale):
            with pytest.raises(ServiceError) as raised:
                import_plan_file(
                    db.session(),
                    io.BytesIO(PLAN_ROWS.encode("utf-8")),
                    "plan.csv",
                    organisation="Region",
                    year=2025,
                    create_units=False,
                    replace=False,
                    actor=None,
                    now=NOW,
                )
            db.session.rollback()
        return [raised.value.message, *raised.value.messages]

    seen = refuse("en")
    swedish = [(text, _swedish(text)) for text in seen if _swedish(text)]
    assert not swedish, swedish
    text = " ".join(seen)
    assert "Row 2: Probability (P) must be a whole number 1–4, got 5." in text
    assert "Row 3: Section “okand” is unknown" in text
    assert "Row 4: Probability (P) is missing; enter a whole number 1–4." in text
    assert "Row 3: Risk value 5 does not match P × C = 2 × 2 = 4." in text
    assert "February 2025 has 28 days" in text
    assert "Row 4: The risk value must be a whole number, got “x”." in text
    assert "Rad 3: Avsnitt ”okand” är okänt" in " ".join(refuse("sv"))


# ---------------------------------------------------------------- commands and verify


def _run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_commands_speak_riskreg_language_and_swedish_by_default(
    app: Flask,
    sample_world: World,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    code, output = _run(app, "plan", "export", "--year", "2025", "--as", "nobody")
    assert code == 2 and "Fel: Det finns ingen aktiv användare som heter nobody." in output

    app.config["LANGUAGE"] = "en"  # what RISKREG_LANGUAGE=en sets
    plan = tmp_path / "plan.csv"
    plan.write_text(PLAN_ROWS, encoding="utf-8")
    seen = {
        "unknown user": _run(app, "plan", "export", "--year", "2025", "--as", "nobody"),
        "no right": _run(
            app, "plan", "import", str(plan), "--year", "2025", "--organisation", "R", "--as", "ce"
        ),
        "no review": _run(app, "sample", "verify", "999999"),
        "intact trail": _run(app, "audit", "verify"),
    }
    broken = tmp_path / "rapport.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    seen["broken pdf"] = _run(app, "reports", "verify", str(broken))
    with app.app_context():
        last_id = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        db.session.execute(
            text("UPDATE audit_entry SET ip = '6.6.6.6' WHERE id = :i"), {"i": last_id}
        )
        db.session.commit()
    seen["tampered trail"] = _run(app, "audit", "verify")

    swedish = {name: (out, _swedish(out)) for name, (_code, out) in seen.items() if _swedish(out)}
    assert not swedish, swedish
    assert "Error: There is no active user called nobody." in seen["unknown user"][1]
    assert "Error: ce (unit_member) may not run “riskreg plan import”." in seen["no right"][1]
    assert seen["no review"] == (1, "Error: no review with id 999999.\n")
    assert seen["intact trail"][0] == 0
    assert "The audit trail is intact:" in seen["intact trail"][1]
    intact = seen["intact trail"][1]
    assert "Not compared with the trail: population_item (population rows" in intact
    code, output = seen["tampered trail"]
    assert code == 1
    assert "Error: the audit trail is not intact" in output
    assert f"entry {last_id}: the column ip does not match the hashed entry" in output
    code, output = seen["broken pdf"]
    assert output.startswith("Result: broken\nThe file cannot be read as a PDF"), output


def test_report_verdicts_are_english_for_an_english_reader(app: Flask) -> None:
    """Every verdict's headline and the signature notes, made by the rules themselves."""
    from riskreg.reports import verify
    from riskreg.reports.verdict import ArchivedFile, FileVerdict, judge
    from riskreg.reports.verify import SignatureReport, Verdict, VerificationReport

    def signature(**changes: object) -> SignatureReport:
        fields: dict[str, object] = {
            "field_name": "Signatur1",
            "signer_name": "Anna Andersson",
            "role": "granskare",
            "certificate_subject": "CN=Anna",
            "signing_time": datetime(2025, 6, 1, 12, tzinfo=UTC),
            "timestamp_time": None,
            "certifying": True,
            "intact": True,
            "valid": True,
            "trusted": True,
            "covers_whole_document": True,
            "coverage": "ENTIRE_FILE",
            "modification_level": None,
            "docmdp_ok": True,
            "ok": True,
            "messages": (),
            "revision_sha256": "a" * 64,
        }
        fields.update(changes)
        return SignatureReport(**fields)  # type: ignore[arg-type]

    archived = ArchivedFile(reference="IK-2025-001", stage="final", report_id=1)
    cases = {
        "genuine": (signature(), archived),
        "earlier": (signature(), replace(archived, stage="certified", final_reference="IK-2")),
        "awaiting": (signature(), replace(archived, stage="certified")),
        "changed": (signature(intact=False, ok=False), None),
        "illegal change": (signature(docmdp_ok=False), None),
        "appended": (signature(covers_whole_document=False), None),
        "untrusted": (signature(trusted=False, ok=False), None),
        "broken": (signature(readable=False, intact=False, valid=False), None),
    }
    seen: dict[str, str] = {}
    with app.test_request_context(), force_locale("en"):
        for name, (sig, exact) in cases.items():
            result = VerificationReport("b" * 64, Verdict.VALID, (sig,), ("Signatur2",), ())
            verdict = judge(result, lambda sha, exact=exact: exact if sha == "b" * 64 else None)
            seen[name] = " ".join((verdict.label, verdict.headline, *verdict.details))
        seen["unreadable"] = " ".join(
            judge(VerificationReport("c" * 64, Verdict.INVALID, (), (), (), False), {}.get)
            .headline.split()
        )
        notes = [
            *verify._overall_messages(Verdict.INVALID, [signature()], ["Signatur2"]),
            verify._status_word(signature(trusted=False)),
            *verify._modification_messages(signature(covers_whole_document=False)),
            *verify._modification_messages(
                signature(covers_whole_document=False, modification_level="FORM_FILLING")
            ),
            *verify._modification_messages(signature(covers_whole_document=False, docmdp_ok=None)),
        ]
        seen["signature notes"] = " ".join(notes)
    swedish = {name: (text, _swedish(text)) for name, text in seen.items() if _swedish(text)}
    assert not swedish, swedish
    assert seen["genuine"].startswith("genuine, issued by riskreg The file is exactly the final")
    assert "The signature field Signatur2 is not signed." in seen["genuine"]
    assert seen["broken"].startswith("broken The file is broken: the signature of Anna")
    assert "Allowed additions were made after the signature: only signatures and form" in (
        seen["signature notes"]
    )
    assert FileVerdict.BROKEN.value == "broken"
