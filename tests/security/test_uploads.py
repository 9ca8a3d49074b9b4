"""riskreg.uploads.check_upload, and the plan import and the 413 page that rely on it."""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from riskreg.demo import PLAN_FILE
from riskreg.extensions import db
from riskreg.plans.exporter import plan_rows_to_xlsx
from riskreg.plans.importer import read_plan
from riskreg.plans.models import Plan, Risk
from riskreg.uploads import UploadRejected, check_upload, clean_filename, format_size
from tests.conftest import csrf_token_from, login
from tests.security.apps import hardened_app

DATA = Path(__file__).resolve().parent.parent / "data"
MB = 1024 * 1024
PNG = (DATA / "bild-omdopt.csv").read_bytes()
EXE = (DATA / "program-omdopt.csv").read_bytes()


def upload(data: bytes, name: str, **kwargs: object) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, **kwargs)  # type: ignore[arg-type]


def check(data: bytes, name: str, allowed: set[str] | None = None, max_bytes: int = MB):  # type: ignore[no-untyped-def]
    return check_upload(upload(data, name), allowed=allowed or {"csv", "xlsx"}, max_bytes=max_bytes)


def kind_of(data: bytes, name: str, allowed: set[str] | None = None, max_bytes: int = MB) -> str:
    with check(data, name, allowed, max_bytes) as checked:
        return checked.kind


def refused(data: bytes, name: str, allowed: set[str] | None = None, max_bytes: int = MB) -> str:
    with pytest.raises(UploadRejected) as info:
        check(data, name, allowed, max_bytes).close()
    return info.value.message


def xlsx_bytes() -> bytes:
    return plan_rows_to_xlsx(read_plan(PLAN_FILE, None, set(), True).rows)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- accepted --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (PLAN_FILE.read_bytes(), "plan.csv", "csv"),
        ((DATA / "plan-excel-semikolon-cp1252.csv").read_bytes(), "plan.csv", "csv"),
        ((DATA / "plan-excel-semikolon-utf8-bom.csv").read_bytes(), "Plan 2025.CSV", "csv"),
        (codecs.BOM_UTF16_LE + "a;b\r\nå;ö\r\n".encode("utf-16-le"), "unicode.txt", "csv"),
        (PLAN_FILE.read_bytes(), "utan-filändelse", "csv"),
        (xlsx_bytes(), "plan.xlsx", "xlsx"),
    ],
)
def test_accepted_files_come_back_rewound_with_size_and_hash(
    data: bytes, name: str, kind: str
) -> None:
    import hashlib

    with check(data, name) as checked:
        assert checked.kind == kind
        assert checked.size == len(data)
        assert checked.sha256 == hashlib.sha256(data).hexdigest()
        assert checked.stream.read() == data


def test_other_kinds_for_other_features() -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 200
    allowed = {"pdf", "png", "jpeg", "txt"}
    assert kind_of(pdf, "intyg.pdf", allowed) == "pdf"
    assert kind_of(PNG, "foto.png", allowed) == "png"
    assert kind_of(jpeg, "foto.JPG", allowed) == "jpeg"
    assert kind_of(b"Anteckning: ok\n", "notering.txt", allowed) == "txt"
    with check(PNG, "foto.png", allowed) as checked:
        assert checked.mimetype == "image/png"


# --- refused ---------------------------------------------------------------------------------


def test_a_renamed_program_is_refused_whatever_its_name() -> None:
    for name in ("plan.csv", "plan.xlsx", "bild.png", "program"):
        message = refused(EXE, name, {"csv", "xlsx", "png"})
        assert "ett program (.exe)" in message and "inte en tillåten filtyp" in message


def test_a_renamed_image_is_refused() -> None:
    assert "en PNG-bild, inte en tillåten filtyp" in refused(PNG, "plan.csv")
    assert "en PNG-bild, inte en tillåten filtyp" in refused(PNG, "plan.xlsx")
    # Even where images are allowed, the name must match the content.
    message = refused(PNG, "intyg.pdf", {"pdf", "png"})
    assert "stämmer inte med innehållet" in message and "PNG-bild" in message


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"", "tom.csv", "tom.csv är tom"),
        ((DATA / "skrap.csv").read_bytes(), "skrap.csv", "binär fil"),
        (b"a;b\n1;\x002\n", "nul.csv", "binär fil"),
        ("Område;Åtgärd – kostnad €\r\n".encode("utf-16-le") * 20, "u16.csv",
         "u16.csv: UTF-16 utan BOM stöds inte; spara som UTF-8."),
        ((DATA / "gammal-excel.xls").read_bytes(), "gammal.xls", "gamla format"),
        ((DATA / "plan-trunkerad.xlsx").read_bytes(), "plan.xlsx", "skadat eller ofullständigt"),
        (xlsx_bytes()[:3000], "plan.xlsx", "skadat eller ofullständigt"),
        (zip_bytes({"a.txt": b"hej"}), "plan.xlsx", "ett ZIP-arkiv"),
        (zip_bytes({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"}), "x.xlsx",
         "Word-dokument"),
        (b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>",
         "export.csv", "HTML-sida"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
         "bild.csv", "HTML-sida"),
        (b"a;b\n" + b"\x81\x8d\x90" * 10, "konstig.csv", "binär fil"),
        (b"%PDF-1.4\n", "plan.csv", "en PDF"),
        (b"plan;text\n", "plan.exe", "filnamnet slutar på .exe"),
    ],
)
def test_refusals_say_what_the_file_is(data: bytes, name: str, expected: str) -> None:
    assert expected in refused(data, name)


def test_a_zip_bomb_is_refused_before_anything_unpacks_it() -> None:
    bomb = zip_bytes(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b"\0" * (40 * MB),
        }
    )
    assert len(bomb) < 100 * 1024
    assert "zip-bomb" in refused(bomb, "plan.xlsx")


def test_size_is_counted_not_taken_from_the_headers() -> None:
    data = PLAN_FILE.read_bytes() * 20
    lying = upload(data, "plan.csv", content_length=100)
    with pytest.raises(UploadRejected, match="större än den tillåtna gränsen på 10 kB"):
        check_upload(lying, allowed={"csv"}, max_bytes=10 * 1024)
    with check(data, "plan.csv", max_bytes=len(data)) as checked:
        assert checked.size == len(data)


def test_nothing_chosen() -> None:
    with pytest.raises(UploadRejected, match="Välj en fil"):
        check_upload(None, allowed={"csv"}, max_bytes=MB)
    with pytest.raises(UploadRejected, match="Välj en fil"):
        check_upload(FileStorage(io.BytesIO(b""), filename=""), allowed={"csv"}, max_bytes=MB)


def test_unknown_kinds_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="exe"):
        check(b"x", "x.csv", {"csv", "exe"})


def test_filenames_are_cleaned_for_display() -> None:
    assert clean_filename("C:\\Users\\anna\\plan.csv") == "plan.csv"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("plan\u202egnp.csv") == "plangnp.csv"  # RTL override removed
    assert clean_filename("a\x00b\r\n.csv") == "ab.csv"
    assert clean_filename("...") == "filen"
    assert len(clean_filename("x" * 1000 + ".csv")) == 200


def test_format_size() -> None:
    assert format_size(50 * MB) == "50 MB"
    assert format_size(int(1.5 * MB)) == "1.5 MB"
    assert format_size(2048) == "2 kB"
    assert format_size(12) == "12 byte"


# --- through the web --------------------------------------------------------------------------


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Plan.id))),
            db.session.scalar(select(func.count(Risk.id))),
        )


def _post_plan(client, data: bytes, name: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/plans/import",
        data={
            "organisation": "Region Västmanland – Hälso- och sjukvårdsförvaltningen",
            "year": "2026",
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def test_plan_import_refuses_a_renamed_program_and_writes_nothing(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    before = _counts(app)
    response = _post_plan(client, EXE, "plan.csv")
    assert response.status_code == 200
    assert "ett program (.exe)" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_plan_import_has_its_own_size_limit(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    before = _counts(app)
    app.config["PLAN_IMPORT_MAX_BYTES"] = 1024
    try:
        response = _post_plan(client, PLAN_FILE.read_bytes(), "plan.csv")
    finally:
        app.config["PLAN_IMPORT_MAX_BYTES"] = 10 * MB
    assert "större än den tillåtna gränsen på 1 kB" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_oversized_request_gets_the_swedish_413_page_and_nothing_is_written(
    app: Flask, demo: dict[str, str]
) -> None:
    with hardened_app(app, MAX_CONTENT_LENGTH=64 * 1024) as hard:
        client = hard.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        client.post(
            "/login", data={"username": "admin", "password": demo["admin"], "csrf_token": token}
        )
        token = csrf_token_from(client.get("/plans/import").get_data(as_text=True))
        before = _counts(app)
        response = client.post(
            "/plans/import",
            data={
                "csrf_token": token,
                "organisation": "Org",
                "year": "2026",
                "file": (io.BytesIO(PLAN_FILE.read_bytes() * 100), "plan.csv"),
            },
            content_type="multipart/form-data",
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 413
        assert "Filen är för stor" in html and "64 kB" in html and "Inget har sparats" in html
        assert _counts(app) == before
        # The process keeps serving.
        assert client.get("/plans/").status_code == 200
