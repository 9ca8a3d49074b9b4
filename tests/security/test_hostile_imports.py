"""Hostile files at the plan import: random bytes, truncated and bomb XLSX, encoding mix-ups,
renamed programs, hostile cells. Each is refused with a clear message and leaves no trace, or
(hostile but valid cells) is imported whole. Never a 500; the server keeps serving.

Other imports (populations, evidence) can reuse `hostile_files()` with their own URL and form.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from functools import cache

import pytest
from flask import Flask
from hypothesis import event, given
from hypothesis import strategies as st

from riskreg.demo import PLAN_FILE
from riskreg.plans.exporter import plan_rows_to_xlsx
from riskreg.plans.plan_file import read_plan
from tests.conftest import login
from tests.security.hostile import (
    FRAGMENTS,
    assert_still_serving,
    changed_tables,
    fingerprint,
    hostile_text,
    shows_an_error,
)
from tests.security.test_hostile_forms import PROPERTY

PLAN_TEXT = PLAN_FILE.read_text(encoding="utf-8")


@cache
def plan_xlsx() -> bytes:
    return plan_rows_to_xlsx(read_plan(PLAN_FILE, None, set(), True).rows)


@cache
def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 * 1024 * 1024))
    return buffer.getvalue()


def _mixed_encodings(cut: int) -> bytes:
    """The first lines UTF-8, the rest Windows-1252: what two editors in a row produce."""
    lines = PLAN_TEXT.splitlines(keepends=True)
    cut = max(2, min(cut, len(lines) - 1))
    return "".join(lines[:cut]).encode("utf-8") + "".join(lines[cut:]).encode("cp1252")


def broken_files() -> st.SearchStrategy[tuple[bytes, str]]:
    """(content, filename) that no import may accept."""
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"This program cannot be run in DOS mode"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    names = st.sampled_from(["plan.csv", "plan.xlsx", "plan.txt", "plan"])
    return st.one_of(
        st.tuples(st.binary(min_size=1, max_size=4096), names),
        st.integers(1, 20_000).map(lambda n: (plan_xlsx()[: min(n, len(plan_xlsx()) - 22)],
                                              "plan.xlsx")),
        st.just((zip_bomb(), "plan.xlsx")),
        st.integers(2, 8).map(lambda cut: (_mixed_encodings(cut), "plan.csv")),
        st.just((PLAN_TEXT.encode("utf-16-le"), "plan.csv")),  # UTF-16 without its BOM
        st.just((PLAN_TEXT.encode("utf-8")[:-400] + b"\xc3", "plan.csv")),  # cut mid-character
        st.tuples(st.sampled_from([exe, png]), names),
        st.just((b"", "plan.csv")),
        st.just((PLAN_TEXT.splitlines()[0].encode() + b"\r\n", "plan.csv")),  # header only
    )


def hostile_cells() -> st.SearchStrategy[tuple[bytes, str]]:
    """The real plan with hostile text in its text cells, in one of the accepted encodings."""
    rows = list(csv.reader(io.StringIO(PLAN_TEXT)))

    def build(changes: dict[tuple[int, int], str], encoding: str) -> tuple[bytes, str]:
        edited = [list(row) for row in rows]
        for (r, c), value in changes.items():
            edited[r][c] = value
        out = io.StringIO()
        csv.writer(out, delimiter=";" if encoding == "cp1252" else ",").writerows(edited)
        text = out.getvalue()
        if encoding == "utf-16":
            return codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "plan.txt"
        return text.encode(encoding, errors="replace"), "plan.csv"

    cells = st.tuples(st.integers(1, len(rows) - 1), st.sampled_from([1, 2, 3, 4, 9]))
    return st.builds(
        build,
        st.dictionaries(cells, st.one_of(hostile_text(80), st.sampled_from(FRAGMENTS)),
                        min_size=1, max_size=5),
        st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    )


def _upload(client, content: bytes, name: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/plans/import",
        data={
            "organisation": "Region Västmanland – Hälso- och sjukvårdsförvaltningen",
            "year": "2026",
            "create_units": "y",
            "file": (io.BytesIO(content), name),
        },
        content_type="multipart/form-data",
    )


@pytest.fixture()
def admin_client(app: Flask, demo: dict[str, str]):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, "admin", demo["admin"])
    return client


@PROPERTY
@given(upload=broken_files())
def test_a_broken_or_hostile_file_is_refused_without_trace(
    app: Flask, admin_client, upload: tuple[bytes, str]  # type: ignore[no-untyped-def]
) -> None:
    content, name = upload
    before = fingerprint(app)
    response = _upload(admin_client, content, name)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, response.status_code
    assert shows_an_error(html)
    assert changed_tables(before, fingerprint(app)) == []
    assert_still_serving(admin_client)


@PROPERTY
@given(upload=hostile_cells())
def test_hostile_cells_are_refused_without_trace_or_imported_whole(
    app: Flask, admin_client, upload: tuple[bytes, str]  # type: ignore[no-untyped-def]
) -> None:
    content, name = upload
    before = fingerprint(app)
    response = _upload(admin_client, content, name)
    assert response.status_code in (200, 302), response.status_code
    event("imported" if response.status_code == 302 else "refused")
    if response.status_code == 200:
        assert shows_an_error(response.get_data(as_text=True))
        assert changed_tables(before, fingerprint(app)) == []
    else:
        page = admin_client.get(response.location)
        assert page.status_code == 200
        data_rows = len(list(csv.reader(io.StringIO(PLAN_TEXT)))) - 1
        assert page.get_data(as_text=True).count('data-testid="risk-row"') == data_rows
    assert_still_serving(admin_client)


# --- the newer features' uploads: population, hygiene bulk import, report verification ---------

EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"This program cannot be run in DOS mode"


def feature_files(names: list[str]) -> st.SearchStrategy[tuple[bytes, str]]:
    """(content, filename) no feature import may accept, named as that import expects."""
    sample = ("Löpnummer;Belopp;Vårdgivare\r\n" + "".join(
        f"{n};{n * 100},50;Vårdcentral Åby\r\n" for n in range(1, 40))).encode("utf-8")
    return st.one_of(
        st.tuples(st.binary(min_size=1, max_size=4096), st.sampled_from(names)),
        st.integers(1, 20_000).map(
            lambda n: (plan_xlsx()[: min(n, len(plan_xlsx()) - 22)], "fil.xlsx")),
        st.just((zip_bomb(), "fil.xlsx")),
        st.tuples(st.just(EXE), st.sampled_from(["fil.csv", "fil.pdf", "fil.xlsx"])),
        st.just((sample[:200] + "Vårdcentral Ödeby".encode("cp1252") + sample[200:], "fil.csv")),
        st.just((sample.decode().encode("utf-16-le"), "fil.csv")),
        st.just((b"", "fil.csv")),
    )


def _population_url(app: Flask) -> str:
    from tests.security.hostile_forms.features import REFERRALS, _control, started

    with app.app_context():
        return f"/sampling/controls/{started(_control(REFERRALS)).id}/population"


def _hygiene_import_url(app: Flask) -> str:
    from tests.security.hostile_forms.features import HYGIENE, control_id

    with app.app_context():
        return f"/sampling/controls/{control_id(HYGIENE)}/hygiene/import"


def _worksheet_upload_url(app: Flask) -> str:
    from tests.security.hostile_forms.features import worksheet_url

    return worksheet_url(app) + "/upload"


FEATURE_IMPORTS = {
    # name: (url, login, extra form fields, file names)
    "population": (_population_url, "granskare2",
                   {"source": "Journalsystemet", "key_column": "Löpnummer"},
                   ["fil.csv", "fil.xlsx", "fil.txt", "fil"]),
    "hygiene import": (_hygiene_import_url, "granskare2", {}, ["fil.csv", "fil.xlsx", "fil"]),
    "worksheet paper": (_worksheet_upload_url, "granskare2", {}, ["fil.xlsx", "fil.csv", "fil"]),
    "report verify": (lambda app: "/reports/verify", "admin", {},
                      ["rapport.pdf", "rapport.csv", "rapport"]),
}


@pytest.mark.parametrize("target", sorted(FEATURE_IMPORTS))
@PROPERTY
@given(data=st.data())
def test_a_broken_file_at_a_feature_import_is_refused_without_trace(
    app: Flask, demo: dict[str, str], target: str, data: st.DataObject
) -> None:
    url_of, user, extra, names = FEATURE_IMPORTS[target]
    client = app.test_client()
    assert login(client, user, demo[user]).status_code == 302
    content, name = data.draw(
        st.one_of(feature_files(names),
                  # a PDF header over garbage, and a PDF cut short: the verifier must cope
                  st.binary(max_size=2000).map(lambda b: (b"%PDF-1.7\n" + b, "rapport.pdf")))
        if target == "report verify" else feature_files(names),
        label="upload",
    )
    url = url_of(app)
    before = fingerprint(app)
    response = client.post(
        url, data={**extra, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code != 500, html[-2000:]
    assert response.status_code == 200, response.status_code
    assert shows_an_error(html) or 'data-testid="verify-result"' in html, "no message"
    if target == "report verify" and not content.startswith(b"%PDF"):
        assert shows_an_error(html)
    assert changed_tables(before, fingerprint(app)) == []
    assert_still_serving(client)


# --- evidence files of a sampled item -----------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def broken_evidence() -> st.SearchStrategy[tuple[bytes, str]]:
    """(content, filename) that may not become evidence: programs under any name, pictures
    and PDFs under another type's name, broken or bomb Office files, pages, empty files."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    names = st.sampled_from(
        ["underlag.pdf", "underlag.csv", "underlag.xlsx", "underlag.docx", "underlag.png"]
    )
    return st.one_of(
        st.tuples(st.just(EXE), st.one_of(names, st.just("underlag"))),
        st.tuples(st.just(png), st.sampled_from(["underlag.pdf", "underlag.xlsx"])),
        st.tuples(st.just(PDF), st.sampled_from(["underlag.docx", "underlag.png"])),
        st.integers(1, 20_000).map(
            lambda n: (plan_xlsx()[: min(n, len(plan_xlsx()) - 22)], "underlag.xlsx")),
        st.just((zip_bomb(), "underlag.xlsx")),
        st.just((b"<!DOCTYPE html><script>alert(1)</script>", "underlag.txt")),
        st.just((b"", "underlag.pdf")),
        st.tuples(st.binary(min_size=1, max_size=512).map(lambda b: b"\x00" + b), names),
    )


def _evidence_url(app: Flask) -> str:
    from tests.security.hostile_forms.features import PASSCARDS, _first_item_id, _reopened

    with app.app_context():
        return f"/sampling/items/{_first_item_id(_reopened(PASSCARDS))}/evidence"


def _evidence_upload(client, url: str, content: bytes, name: str | bytes):  # type: ignore[no-untyped-def]
    return client.post(
        url, data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data"
    )


@PROPERTY
@given(data=st.data())
def test_a_broken_evidence_file_is_refused_without_trace(
    app: Flask, demo: dict[str, str], data: st.DataObject
) -> None:
    client = app.test_client()
    assert login(client, "granskare2", demo["granskare2"]).status_code == 302
    url = _evidence_url(app)
    content, name = data.draw(broken_evidence(), label="upload")
    before = fingerprint(app)
    response = _evidence_upload(client, url, content, name)
    assert response.status_code == 302, response.status_code
    landing = client.get(response.location).get_data(as_text=True)
    assert shows_an_error(landing), "no message"
    assert changed_tables(before, fingerprint(app)) == []
    assert_still_serving(client)


@PROPERTY
@given(name=st.one_of(hostile_text(120), st.sampled_from(FRAGMENTS)).map(lambda s: s + ".pdf"))
def test_a_hostile_file_name_is_kept_as_text_and_never_breaks_a_page(
    app: Flask, demo: dict[str, str], name: str
) -> None:
    """A valid PDF under a hostile name: stored, or refused with a message (a name with a
    control character); the item page shows the name escaped and the download still works."""
    client = app.test_client()
    assert login(client, "granskare2", demo["granskare2"]).status_code == 302
    url = _evidence_url(app)
    before = fingerprint(app)
    response = _evidence_upload(client, url, PDF, name)
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        assert shows_an_error(response.get_data(as_text=True))
        assert changed_tables(before, fingerprint(app)) == []
        return
    landing = client.get(response.location).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in landing
    assert "onerror=alert(1)>" not in landing
    links = re.findall(r'href="(/sampling/evidence/\d+)"', landing)
    assert links, "the stored file is listed"
    with client.get(links[-1]) as download:
        assert download.status_code == 200 and download.data == PDF
        assert "attachment" in download.headers["Content-Disposition"]
    assert_still_serving(client)
