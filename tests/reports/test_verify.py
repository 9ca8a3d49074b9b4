"""verify_pdf against real signed files: valid, tampered, illegally extended, untrusted."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from report_helpers import (
    Pki,
    SignedReport,
    run_tool,
    sign_as_approver,
    sign_as_controller,
    signing_time,
)
from report_samples import APPROVER, CONTROLLER

from riskreg.reports.data import FollowupReport
from riskreg.reports.pdf import build_followup_report
from riskreg.reports.verify import Verdict, sha256_hex, verify_pdf


def pdfsig(poppler: Callable[[str], str], pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "checked.pdf"
    path.write_bytes(pdf)
    return run_tool(poppler("pdfsig"), str(path))


def flip_byte_in_page_content(pdf: bytes, page_index: int = 0) -> bytes:
    """Change one byte inside the first page's content stream (signed by both signatures)."""
    reader = PdfFileReader(BytesIO(pdf))
    contents_ref = reader.root["/Pages"]["/Kids"][page_index].raw_get("/Contents")
    header = re.search(rb"\n%d 0 obj\b" % contents_ref.idnum, pdf)
    assert header is not None
    data_start = pdf.index(b"stream", header.end()) + len(b"stream\n")
    position = data_start + 40
    tampered = bytearray(pdf)
    tampered[position] ^= 0x01
    return bytes(tampered)


def append_text_revision(pdf: bytes) -> bytes:
    """An incremental update that writes new text on page 1: a change, not a signature.

    This is what someone would do to alter a signed report while leaving every existing
    signature cryptographically intact.
    """
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/FTamper"): writer.add_object(font)}
            )
        }
    )
    stream = generic.StreamObject(stream_data=b"BT /FTamper 28 Tf 60 420 Td (GODKAND) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream), resources=resources)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------- the good case


def test_double_signed_report_is_valid(signed_report: SignedReport, pki: Pki) -> None:
    report = verify_pdf(signed_report.cosigned, pki.roots)
    assert report.verdict is Verdict.VALID and report.ok
    assert report.sha256 == sha256_hex(signed_report.cosigned)
    assert report.unsigned_fields == ()
    controller, approver = report.signatures
    assert (controller.field_name, approver.field_name) == (
        CONTROLLER.field_name,
        APPROVER.field_name,
    )
    for sig in report.signatures:
        assert sig.intact and sig.valid and sig.trusted and sig.docmdp_ok and sig.ok
        assert "Region Västmanland" in sig.certificate_subject
    assert controller.certifying and not approver.certifying
    assert controller.signer_name == "Anna Åström" and controller.role == "granskare"
    assert approver.signer_name == "Örjan Ängström"
    assert controller.signing_time == signed_report.controller_time
    assert approver.signing_time == signed_report.approver_time
    assert controller.timestamp_time is None
    # the controller's signature covers its revision; the approver's co-signature is the
    # only later change and is an allowed one
    assert not controller.covers_whole_document
    assert controller.coverage == "ENTIRE_REVISION"
    assert controller.modification_level == "FORM_FILLING"
    assert approver.covers_whole_document and approver.modification_level == "NONE"
    assert report.messages[0] == "Dokumentet är oförändrat och alla 2 signaturer är giltiga."
    assert any(
        "Anna Åström (granskare)" in m and "innehållet är oförändrat, certifikatet är betrott" in m
        for m in report.messages
    )


def test_certified_report_waits_for_approver(signed_report: SignedReport, pki: Pki) -> None:
    report = verify_pdf(signed_report.certified, pki.roots)
    assert report.verdict is Verdict.VALID
    assert report.unsigned_fields == (APPROVER.field_name,)
    assert f"Signaturfältet {APPROVER.field_name} är ännu inte signerat." in report.messages
    [controller] = report.signatures
    assert controller.covers_whole_document


def test_unsigned_report(signed_report: SignedReport, pki: Pki) -> None:
    report = verify_pdf(signed_report.unsigned, pki.roots)
    assert report.verdict is Verdict.UNSIGNED and not report.ok
    assert report.signatures == ()


def test_not_a_pdf(pki: Pki) -> None:
    report = verify_pdf(b"%PDF-1.7 trasig", pki.roots)
    assert report.verdict is Verdict.INVALID
    assert "kunde inte läsas" in report.messages[0]


def test_sha256_hex() -> None:
    assert sha256_hex(b"") == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


# ---------------------------------------------------------------- tampering


def test_changed_byte_is_detected_by_pdfsig_and_verify_pdf(
    signed_report: SignedReport, pki: Pki, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    tampered = flip_byte_in_page_content(signed_report.cosigned)
    assert len(tampered) == len(signed_report.cosigned)

    output = pdfsig(poppler, tampered, tmp_path)
    assert output.count("Signature Validation: Digest Mismatch.") == 2
    assert "Signature is Valid." not in output

    report = verify_pdf(tampered, pki.roots)
    assert report.verdict is Verdict.INVALID and not report.ok
    assert len(report.signatures) == 2
    for sig in report.signatures:
        assert not sig.intact and not sig.ok
    assert any("hashvärdet stämmer inte" in m for m in report.messages)


def test_illegal_revision_after_signing_is_detected_by_verify_pdf(
    signed_report: SignedReport, pki: Pki, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    extended = append_text_revision(signed_report.cosigned)
    assert extended.startswith(signed_report.cosigned)

    # poppler only checks each signature's byte range: both still look "valid" to it.
    output = pdfsig(poppler, extended, tmp_path)
    assert output.count("Signature Validation: Signature is Valid.") == 2
    assert "Total document signed" not in output.replace("Not total document signed", "")

    report = verify_pdf(extended, pki.roots)
    assert report.verdict is Verdict.INVALID
    for sig in report.signatures:
        assert sig.intact and sig.valid and sig.trusted  # each signature itself is fine
        assert sig.docmdp_ok is False and sig.modification_level == "OTHER"
        assert not sig.covers_whole_document and not sig.ok
    assert any("otillåtet sätt" in m for m in report.messages)


def test_added_page_is_rejected(signed_report: SignedReport, pki: Pki) -> None:
    """Appending an (empty) page after certification is also an illegal change."""
    writer = IncrementalPdfFileWriter(BytesIO(signed_report.cosigned))
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
        }
    )
    writer.insert_page(page)
    out = BytesIO()
    writer.write(out)
    report = verify_pdf(out.getvalue(), pki.roots)
    assert report.verdict is Verdict.INVALID
    assert all(sig.docmdp_ok is False for sig in report.signatures)


# ---------------------------------------------------------------- trust


def test_certificate_from_another_ca_is_not_trusted(
    signed_report: SignedReport, pki: Pki, foreign_pki: Pki
) -> None:
    foreign = sign_as_controller(signed_report.unsigned, foreign_pki, signing_time())
    report = verify_pdf(foreign, pki.roots)
    assert report.verdict is Verdict.UNTRUSTED and not report.ok
    [sig] = report.signatures
    assert sig.intact and sig.valid and not sig.trusted and not sig.ok
    assert sig.docmdp_ok is True
    assert any("betrodd utfärdare" in m for m in report.messages)
    # the same file against its own CA is fine
    assert verify_pdf(foreign, foreign_pki.roots).verdict is Verdict.VALID


def test_look_alike_ca_with_other_key_type_is_not_trusted(
    signed_report: SignedReport, pki: Pki, foreign_ec_pki: Pki
) -> None:
    """An EC certificate whose issuer *name* matches our RSA root: untrusted, not a crash."""
    foreign = sign_as_controller(signed_report.unsigned, foreign_ec_pki, signing_time())
    report = verify_pdf(foreign, pki.roots)
    assert report.verdict is Verdict.UNTRUSTED
    [sig] = report.signatures
    assert sig.intact and sig.valid and not sig.trusted and sig.docmdp_ok
    assert any("Certifikatkedjan kunde inte kontrolleras" in m for m in sig.messages)
    assert verify_pdf(foreign, foreign_ec_pki.roots).verdict is Verdict.VALID


def test_no_trust_roots_trusts_nothing(signed_report: SignedReport) -> None:
    report = verify_pdf(signed_report.cosigned, [])
    assert report.verdict is Verdict.UNTRUSTED
    assert all(not sig.trusted for sig in report.signatures)


def test_mixed_trust_is_untrusted(signed_report: SignedReport, pki: Pki, foreign_pki: Pki) -> None:
    """Controller signs with our key, approver with a foreign one."""
    mixed = sign_as_approver(signed_report.certified, foreign_pki, signing_time())
    report = verify_pdf(mixed, pki.roots)
    assert report.verdict is Verdict.UNTRUSTED
    controller, approver = report.signatures
    assert controller.trusted and not approver.trusted


def test_asn1crypto_roots_are_accepted(signed_report: SignedReport, pki: Pki) -> None:
    from asn1crypto import pem, x509

    _, _, der = pem.unarmor(pki.ca.read_bytes())
    assert verify_pdf(signed_report.cosigned, [x509.Certificate.load(der)]).ok


def test_signed_followup_report_round_trip(followup_data: FollowupReport, pki: Pki) -> None:
    pdf = build_followup_report(followup_data)
    certified = sign_as_controller(pdf, pki, signing_time(minutes_ago=1))
    report = verify_pdf(sign_as_approver(certified, pki, signing_time()), pki.roots)
    assert report.verdict is Verdict.VALID
    assert len(report.signatures) == 2
