"""Evidence files: size limit, type by content (a renamed .exe is refused), SHA-256 storage.

The checks are riskreg.uploads.check_upload's (tests/security/test_uploads.py); these tests
show the evidence upload uses them and leaves nothing behind when it refuses.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from riskreg.extensions import db
from riskreg.sampling import drawing, importing, planning
from riskreg.sampling.models import Evidence, SampleItem
from tests.conftest import login
from tests.sampling.conftest import NOW, World, csv_bytes

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


@pytest.fixture()
def item_id(app: Flask, world: World) -> Iterator[int]:
    with app.app_context():
        control = world.control("referrals")
        rows = [[f"R{n}", "VC", "Ortopedi", "2025-02-03", "Normal"] for n in range(30)]
        importing.import_population(
            db.session, control,
            io.BytesIO(csv_bytes(["Remiss-id", "Avsändare", "Mottagare", "Mottagen",
                                  "Prioritet"], rows)),
            "r.csv", actor=world.user("granskare"), now=NOW,
        )
        planning.plan_sample(
            db.session, control, method="non_statistical", actor=world.user("granskare"),
            now=NOW, sample_size=3, justification="Test.",
        )
        draw = drawing.draw_sample(
            db.session, control, selection_method="simple_random", seed="s",
            actor=world.user("granskare"), now=NOW,
        )
        db.session.commit()
        first = draw.items[0].id
    yield first


def _client(app: Flask, username: str = "granskare") -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def _upload(client: FlaskClient, item_id: int, data: bytes, name: str) -> str:
    response = client.post(
        f"/sampling/items/{item_id}/evidence",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return response.get_data(as_text=True)


def _stored(app: Flask) -> list[Evidence]:
    with app.app_context():
        return list(db.session.scalars(select(Evidence).order_by(Evidence.id)))


def test_pdf_is_stored_by_sha256_and_downloadable_by_readers(app: Flask, item_id: int) -> None:
    client = _client(app)
    page = _upload(client, item_id, PDF, "Faktura 17.pdf")
    assert "Underlaget ”Faktura 17.pdf” är sparat." in page
    (evidence,) = _stored(app)
    digest = hashlib.sha256(PDF).hexdigest()
    assert (evidence.sha256, evidence.size, evidence.stored_name) == (digest, len(PDF), digest)
    assert evidence.content_type == "application/pdf"
    assert (Path(app.instance_path) / "evidence" / digest).read_bytes() == PDF
    for username in ("revisor", "ce", "chef"):
        with _client(app, username).get(f"/sampling/evidence/{evidence.id}") as response:
            assert response.status_code == 200, username
            assert response.data == PDF
            assert "attachment" in response.headers["Content-Disposition"]
    assert _client(app, "smittskydd").get(f"/sampling/evidence/{evidence.id}").status_code == 404


def test_renamed_executable_is_refused(app: Flask, item_id: int) -> None:
    page = _upload(_client(app), item_id, EXE, "kvitto.pdf")
    assert "kvitto.pdf är ett program (.exe), inte en tillåten filtyp" in page
    assert _stored(app) == []
    leftovers = list((Path(app.instance_path) / "evidence").glob(".upload-*"))
    assert leftovers == []


def _docx(body: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", body)
    return buffer.getvalue()


def test_broken_and_bomb_office_files_are_refused_before_anything_unpacks_them(
    app: Flask, item_id: int
) -> None:
    client = _client(app)
    letter = _docx(b"<document>Beslut om ers\xc3\xa4ttning</document>")
    assert "skadat eller ofullständigt arkiv" in _upload(client, item_id, letter[:-30], "b.docx")
    bomb = _docx(b"\0" * (64 * 1024 * 1024))
    assert "zip-bomb" in _upload(client, item_id, bomb, "beslut.docx")
    assert _stored(app) == []
    assert "är sparat" in _upload(client, item_id, letter, "beslut.docx")
    assert [e.content_type for e in _stored(app)] == [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ]


def test_unknown_binary_and_text_rules(app: Flask, item_id: int) -> None:
    client = _client(app)
    binary = _upload(client, item_id, b"\x00\x01\x02" * 50, "a.txt")
    assert "a.txt är en binär fil (inte text), inte en tillåten filtyp" in binary
    renamed = _upload(client, item_id, b"plain text", "a.exe")
    assert "a.exe är en textfil men filnamnet slutar på .exe" in renamed
    assert "är sparat" in _upload(client, item_id, "Id;Belopp\r\n1;2,50\r\n".encode("cp1252"),
                                  "utdrag.csv")
    assert "är sparat" in _upload(client, item_id, PNG, "skärmbild.png")
    assert [e.content_type for e in _stored(app)] == ["text/csv", "image/png"]


def test_size_limit_from_config(app: Flask, item_id: int) -> None:
    limit = app.config["EVIDENCE_MAX_BYTES"]
    app.config["EVIDENCE_MAX_BYTES"] = 1024
    try:
        page = _upload(_client(app), item_id, PDF + b"0" * 2000, "stor.pdf")
        assert "är sparat" in _upload(_client(app), item_id, PDF + b"0" * 900, "liten.pdf")
    finally:
        app.config["EVIDENCE_MAX_BYTES"] = limit
    assert "Filen är större än den tillåtna gränsen på 1 kB" in page
    assert [e.file_name for e in _stored(app)] == ["liten.pdf"]


def test_upload_refused_for_readers_and_when_submitted(app: Flask, world: World,
                                                       item_id: int) -> None:
    response = _client(app, "ce").post(
        f"/sampling/items/{item_id}/evidence",
        data={"file": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data",
    )
    assert response.status_code == 403
    with app.app_context():
        control = db.session.get(SampleItem, item_id).draw.control
        control.status = "ready_for_review"
        db.session.commit()
    assert "lämnad för godkännande" in _upload(_client(app), item_id, PDF, "a.pdf")
    with app.app_context():
        assert db.session.scalar(select(func.count(Evidence.id))) == 0
