"""Signing the real review report twice and checking it with poppler, as an auditor would."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data
from report_helpers import (
    Pki,
    SignedReport,
    page_count,
    pdftotext,
    run_tool,
    sign_as_approver,
    sign_as_controller,
    signing_time,
    squash,
)
from report_samples import APPROVER, CONTROLLER, PASSPHRASE, RISK_TITLE, make_review_report

from riskreg.reports.pdf import ITEM_TABLE_HEADER, build_review_report, signature_box
from riskreg.reports.signing import SigningError, sign_pdf


def pdfsig(poppler: Callable[[str], str], pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    return run_tool(poppler("pdfsig"), str(path))


def pdfsig_blocks(output: str) -> list[str]:
    """pdfsig's per-signature sections, in its order (newest signature first)."""
    return re.split(r"^Signature #\d+:", output, flags=re.MULTILINE)[1:]


def stamp_line(name: str, role: str, when: datetime) -> str:
    return f"Signerad elektroniskt av {name}, {role}, {when:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------- poppler's view


def test_pdfsig_sees_two_valid_signatures(
    signed_report: SignedReport, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    output = pdfsig(poppler, signed_report.cosigned, tmp_path)
    blocks = pdfsig_blocks(output)
    assert len(blocks) == 2
    for block in blocks:
        assert "Signature Validation: Signature is Valid." in block
        assert "Signature Type: ETSI.CAdES.detached" in block
        assert "Signing Hash Algorithm: SHA-256" in block
    newest, oldest = blocks
    assert f"Signature Field Name: {APPROVER.field_name}" in newest
    assert "Total document signed" in newest and "Not total" not in newest
    assert f"Signature Field Name: {CONTROLLER.field_name}" in oldest
    assert "Not total document signed" in oldest


def test_certified_only_report_is_fully_covered(
    signed_report: SignedReport, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    reserved, signed = pdfsig_blocks(pdfsig(poppler, signed_report.certified, tmp_path))
    assert f"Signature Field Name: {APPROVER.field_name}" in reserved
    assert "The signature form field is not signed." in reserved
    assert "Signature is Valid." in signed and "Total document signed" in signed


def test_signing_is_incremental(signed_report: SignedReport) -> None:
    """Each signature appends a revision: earlier bytes stay exactly as they were signed."""
    assert signed_report.certified.startswith(signed_report.unsigned)
    assert signed_report.cosigned.startswith(signed_report.certified)


def test_signed_text_is_intact_in_pdftotext(
    signed_report: SignedReport, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    pdf = signed_report.cosigned
    total = page_count(pdf)
    page1 = squash(pdftotext(poppler, pdf, tmp_path, 1, 1))
    assert RISK_TITLE in page1
    assert f"Sida 1 av {total}" in page1
    pages = [squash(pdftotext(poppler, pdf, tmp_path, n, n)) for n in range(2, total + 1)]
    assert any(" ".join(ITEM_TABLE_HEADER) in page for page in pages)
    assert all(f"Sida {n} av {total}" in page for n, page in enumerate(pages, start=2))


def test_visible_stamps_name_person_role_and_time(
    signed_report: SignedReport, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    pdf = signed_report.cosigned
    last = pdftotext(poppler, pdf, tmp_path, page_count(pdf), page_count(pdf))
    assert stamp_line("Anna Åström", "granskare", signed_report.controller_time) in last
    assert stamp_line("Örjan Ängström", "godkännare", signed_report.approver_time) in last


def test_stamps_sit_inside_the_reserved_boxes(signed_report: SignedReport) -> None:
    """The visible signatures are exactly where the report left room, on the last page."""
    reader = PdfFileReader(BytesIO(signed_report.cosigned))
    pages = reader.root["/Pages"]["/Kids"]
    last_page = pages[len(pages) - 1]
    rects = {
        str(annot["/T"]): [float(v) for v in annot["/Rect"]]
        for annot in (a.get_object() for a in last_page["/Annots"])
    }
    assert rects[CONTROLLER.field_name] == list(signature_box(0)[1:])
    assert rects[APPROVER.field_name] == list(signature_box(1)[1:])


def test_first_signature_certifies_with_fill_forms(signed_report: SignedReport) -> None:
    reader = PdfFileReader(BytesIO(signed_report.cosigned))
    certification = read_certification_data(reader)
    assert certification is not None
    assert certification.permission == MDPPerm.FILL_FORMS
    controller, approver = reader.embedded_regular_signatures
    assert controller.field_name == CONTROLLER.field_name
    assert str(controller.sig_object["/Name"]) == "Anna Åström"
    assert str(approver.sig_object["/Reason"]) == "godkännare"
    assert controller.self_reported_timestamp == signed_report.controller_time


def test_pdf_rendering_of_stamp_page(
    signed_report: SignedReport, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    """pdftoppm renders the signed signature page without errors (smoke test)."""
    pdf_path = tmp_path / "signed.pdf"
    pdf_path.write_bytes(signed_report.cosigned)
    total = str(page_count(signed_report.cosigned))
    run_tool(
        poppler("pdftoppm"),
        "-png",
        "-r",
        "30",
        "-f",
        total,
        "-l",
        total,
        str(pdf_path),
        str(tmp_path / "page"),
    )
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG")


# ---------------------------------------------------------------- refusals


def test_wrong_passphrase(signed_report: SignedReport, pki: Pki) -> None:
    with pytest.raises(SigningError, match="passphrase"):
        sign_pdf(
            signed_report.unsigned,
            pkcs12_path=pki.p12,
            passphrase=b"fel",
            signer_name="X",
            signer_role="granskare",
            signed_at=signing_time(),
            field_name="Granskare",
            certify=True,
            box=signature_box(0),
        )


def test_second_certification_is_refused(signed_report: SignedReport, pki: Pki) -> None:
    with pytest.raises(SigningError, match="first signature"):
        sign_pdf(
            signed_report.certified,
            pkcs12_path=pki.p12,
            passphrase=PASSPHRASE,
            signer_name="X",
            signer_role="granskare",
            signed_at=signing_time(),
            field_name="Extra",
            certify=True,
            box=signature_box(1),
        )


def test_signed_field_cannot_be_signed_again(signed_report: SignedReport, pki: Pki) -> None:
    with pytest.raises(SigningError, match="already signed"):
        sign_as_approver(signed_report.cosigned, pki, signing_time())


def test_unreserved_field_after_certification_is_refused(
    signed_report: SignedReport, pki: Pki
) -> None:
    with pytest.raises(SigningError, match="not reserved"):
        sign_pdf(
            signed_report.certified,
            pkcs12_path=pki.p12,
            passphrase=PASSPHRASE,
            signer_name="X",
            signer_role="godkännare",
            signed_at=signing_time(),
            field_name="Okänt",
            certify=False,
            box=signature_box(1),
        )


def test_naive_or_out_of_validity_times_are_refused(signed_report: SignedReport, pki: Pki) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_as_controller(signed_report.unsigned, pki, datetime(2025, 9, 1, 14, 3))
    with pytest.raises(SigningError, match="validity"):
        sign_as_controller(signed_report.unsigned, pki, signing_time().replace(year=2020))


def test_unreachable_timestamp_server_fails_cleanly(signed_report: SignedReport, pki: Pki) -> None:
    """Port 9 on loopback refuses at once: the signature is not made without its timestamp."""
    with pytest.raises(SigningError, match="timestamp service"):
        sign_pdf(
            signed_report.unsigned,
            pkcs12_path=pki.p12,
            passphrase=PASSPHRASE,
            signer_name="Anna Åström",
            signer_role="granskare",
            signed_at=signing_time(),
            field_name="Granskare",
            certify=True,
            box=signature_box(0),
            timestamp_url="http://127.0.0.1:9/tsa",
        )


def test_not_a_pdf(pki: Pki) -> None:
    with pytest.raises(SigningError, match="PDF"):
        sign_as_controller(b"inte en pdf", pki, signing_time())


def test_reserve_only_when_certifying(signed_report: SignedReport, pki: Pki) -> None:
    with pytest.raises(ValueError, match="reserved"):
        sign_pdf(
            signed_report.unsigned,
            pkcs12_path=pki.p12,
            passphrase=PASSPHRASE,
            signer_name="X",
            signer_role="godkännare",
            signed_at=signing_time(),
            field_name="Granskare",
            certify=False,
            box=signature_box(0),
            reserve_fields={"Godkannare": signature_box(1)},
        )


def test_approval_signature_on_uncertified_document(
    pki: Pki, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    """Without certification a plain approval signature creates its own field."""
    data = make_review_report(5)
    pdf = build_review_report(replace(data, signatures=data.signatures[:1]))
    signed = sign_pdf(
        pdf,
        pkcs12_path=pki.p12,
        passphrase=PASSPHRASE,
        signer_name="Anna Åström",
        signer_role="granskare",
        signed_at=signing_time(),
        field_name="Granskare",
        certify=False,
        box=signature_box(0),
    )
    assert "Signature is Valid." in pdfsig(poppler, signed, tmp_path)
    assert read_certification_data(PdfFileReader(BytesIO(signed))) is None
