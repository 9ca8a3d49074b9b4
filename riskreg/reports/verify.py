"""Verify the signatures in a report PDF, the way an auditor needs it explained.

A PDF signature can fail in independent ways, and a reader that only says "valid" hides
which. For every signature this module reports:

* **intact** – the document bytes covered by the signature hash to the value that was
  signed. False means the signed content was changed afterwards (tampering, corruption).
* **valid** – the cryptographic signature over that hash verifies with the certificate's
  public key. False means the signature value itself is broken or forged.
* **trusted** – the signing certificate chains to one of the trust roots *riskreg* was given
  (the organisation's CA), with a usage suitable for signing, and is not expired or
  revoked as far as can be told offline. False for a perfectly intact signature made with
  someone else's certificate: anyone can sign a PDF; what matters is by whose key.
* **coverage** – how much of the file the signature's byte range spans. Only the last
  signature can cover the *whole file*; earlier ones cover their own revision, and
  everything appended later (e.g. the approver's co-signature) is judged by:
* **modification level / docmdp_ok** – pyHanko's difference analysis of every later
  revision: "form filling" (a signature into a reserved field) is what the certification
  (DocMDP, fill forms) allows; new or changed page content, new pages or annotations are
  "other" and make ``docmdp_ok`` false: the document is no longer what was signed, even
  though each signature on its own still verifies (poppler's pdfsig does not see this).

Fetching of revocation data is disabled: verification is offline and reproducible.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum, StrEnum
from io import BytesIO
from typing import TypeAlias, cast
from zoneinfo import ZoneInfoNotFoundError

from asn1crypto import x509 as asn1_x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from riskreg.db import LOCAL_TIMEZONE
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _

__all__ = [
    "Certificate",
    "SignatureReport",
    "Verdict",
    "VerificationReport",
    "sha256_hex",
    "verify_pdf",
]

Certificate: TypeAlias = pyca_x509.Certificate | asn1_x509.Certificate


class Verdict(StrEnum):
    """Overall judgment, worst case over all signatures."""

    VALID = "giltig"
    """Every signature intact, valid and trusted; no illegal change after any of them."""
    UNTRUSTED = "ej betrodd"
    """Nothing was changed, but at least one signer's certificate is not trusted here."""
    INVALID = "ogiltig"
    """Content changed after signing, a broken signature, or an illegal later revision."""
    UNSIGNED = "osignerad"
    """The file has no signatures at all."""


_UNKNOWN_CHANGE = N_("okänd ändring")
_MODIFICATION_TEXT = {
    ModificationLevel.NONE: N_("inga ändringar"),
    ModificationLevel.LTA_UPDATES: N_("endast valideringsdata och tidsstämplar"),
    ModificationLevel.FORM_FILLING: N_("endast signaturer och formulärifyllnad"),
    ModificationLevel.ANNOTATIONS: N_("kommentarer (annoteringar)"),
    ModificationLevel.OTHER: N_("otillåtna ändringar av innehållet"),
}


@dataclass(frozen=True)
class SignatureReport:
    """What an auditor needs to know about one signature.

    ``signer_name`` and ``role`` are what the signing application wrote into the signature
    (``/Name`` and ``/Reason``, also shown in the visible stamp); they are covered by the
    signature, so they cannot be changed afterwards, but they are asserted by riskreg, not
    by the CA. ``certificate_subject`` is what the CA vouches for (the organisation).

    ``signing_time`` is the signer's own claim (``/M``), protected by the signature but not
    proof of time; ``timestamp_time`` comes from an RFC 3161 timestamp token and is only set
    when one is present and trusted.

    ``covers_whole_document`` is true only when the signature spans the complete file;
    ``modification_level`` names the worst kind of change made in later revisions (pyHanko's
    ``ModificationLevel``; ``None`` if it could not be determined), and ``docmdp_ok`` says
    whether those changes are allowed by the document's certification. ``ok`` is the
    bottom line for this signature.
    """

    field_name: str
    signer_name: str
    role: str
    certificate_subject: str
    signing_time: datetime | None
    timestamp_time: datetime | None
    certifying: bool
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_document: bool
    coverage: str
    modification_level: str | None
    docmdp_ok: bool | None
    ok: bool
    messages: tuple[str, ...]
    #: SHA-256 of the file up to the end of this signature's revision (its byte range):
    #: the file as it was right after this signature was made. riskreg compares it with
    #: the files it archived to tell which report a changed or cut file comes from.
    revision_sha256: str | None = None
    #: False when the signature object itself cannot be read (e.g. zeroed /Contents).
    readable: bool = True


@dataclass(frozen=True)
class VerificationReport:
    """Result for a whole file: per-signature reports, a verdict and Swedish messages.

    ``sha256`` identifies exactly the file that was checked (for the audit log).
    ``unsigned_fields`` lists reserved signature fields nobody has signed yet, e.g. an
    approver who has not co-signed; that does not make the signed part invalid.
    """

    sha256: str
    verdict: Verdict
    signatures: tuple[SignatureReport, ...]
    unsigned_fields: tuple[str, ...]
    messages: tuple[str, ...]
    #: False when the file cannot be read as a PDF at all (truncated, damaged, not a PDF).
    readable: bool = True

    @property
    def ok(self) -> bool:
        """True only for :attr:`Verdict.VALID`."""
        return self.verdict is Verdict.VALID


def sha256_hex(pdf: bytes) -> str:
    """Hex SHA-256 of the file, to record which exact bytes were signed, stored or verified."""
    return hashlib.sha256(pdf).hexdigest()


def verify_pdf(
    pdf: bytes,
    trust_roots: Sequence[Certificate],
    *,
    validation_time: datetime | None = None,
) -> VerificationReport:
    """Check every signature in ``pdf`` against ``trust_roots`` (offline).

    ``validation_time`` defaults to now. Without a trusted timestamp, a signature whose
    certificate has since expired no longer validates "now"; passing the time the report was
    archived is a policy decision for the caller.
    """
    digest = sha256_hex(pdf)
    try:
        reader = PdfFileReader(BytesIO(pdf))
        unsigned = _unsigned_field_names(reader)
        found = _collect_signatures(reader)
    except Exception:  # fail closed: anything unreadable is not a valid document
        message = _("Filen kunde inte läsas som en PDF: den är skadad, avkortad eller ingen PDF.")
        return VerificationReport(digest, Verdict.INVALID, (), (), (message,), readable=False)
    if not found:
        return VerificationReport(
            digest, Verdict.UNSIGNED, (), unsigned, (_("Dokumentet saknar digitala signaturer."),)
        )
    roots = [_as_asn1(cert) for cert in trust_roots]
    reports = tuple(
        _unreadable_report(pdf, item)
        if isinstance(item, _UnreadableSignature)
        else replace(
            _check_signature(item, roots, validation_time),
            revision_sha256=_revision_sha256(pdf, item.byte_range),
        )
        for item in found
    )
    reports = (*reports[:-1], _last_signature(reports[-1]))
    verdict = _verdict(reports)
    return VerificationReport(
        digest, verdict, reports, unsigned, _overall_messages(verdict, reports, unsigned)
    )


def _last_signature(report: SignatureReport) -> SignatureReport:
    """The last signature of a riskreg report covers the whole file; say so when it does not.

    Anything after it (an incremental update of content or /Info, bytes appended) is a
    change after signing, even where the certification would allow such an update.
    """
    if not report.readable or report.covers_whole_document or report.docmdp_ok is False:
        return report
    # The "added after the signature" notes, which the message below replaces (docmdp_ok is
    # True here or None; only for True are they notes of that kind).
    after = set(_modification_messages(report)) if report.docmdp_ok else set()
    kept = tuple(m for m in report.messages if m not in after)
    added = _(
        "Filen har ändrats efter den sista signaturen: den omfattar inte hela filen "
        "(något har lagts till efteråt)."
    )
    return replace(report, ok=False, messages=(*kept, added))


@dataclass(frozen=True)
class _UnreadableSignature:
    """A filled signature field whose signature object pyHanko cannot parse."""

    field_name: str
    signer_name: str
    role: str
    byte_range: object


def _collect_signatures(
    reader: PdfFileReader,
) -> list[EmbeddedPdfSignature | _UnreadableSignature]:
    """Every filled /Sig field in signing order; one that cannot be parsed is kept as such.

    pyHanko's own collection fails as a whole when one signature's /Contents is damaged;
    here the others are still checked and the damaged one is reported in words.
    """
    with contextlib.suppress(Exception):  # one damaged signature: collect them one by one
        return list(reader.embedded_regular_signatures)
    found: list[EmbeddedPdfSignature | _UnreadableSignature] = []
    for name, value, ref in fields.enumerate_sig_fields(reader):
        if not value:
            continue
        sig_object = value.get_object()
        if sig_object.get("/Type", "/Sig") != "/Sig":
            continue
        try:
            found.append(EmbeddedPdfSignature(reader, ref.get_object(), name))
        except Exception:
            found.append(
                _UnreadableSignature(
                    field_name=str(name),
                    signer_name=_text(sig_object.get("/Name")),
                    role=_text(sig_object.get("/Reason")),
                    byte_range=sig_object.get("/ByteRange"),
                )
            )
    found.sort(key=lambda item: _range_end(item.byte_range) or 0)
    return found


def _text(value: object) -> str:
    return str(value) if value is not None else ""


def _range_end(byte_range: object) -> int | None:
    """End of the bytes a signature covers (offset + length of its second range)."""
    try:
        values = [int(v) for v in byte_range]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if len(values) != 4:
        return None
    return values[2] + values[3]


def _revision_sha256(pdf: bytes, byte_range: object) -> str | None:
    end = _range_end(byte_range)
    if end is None or end <= 0 or end > len(pdf):
        return None
    return sha256_hex(pdf[:end])


def _unreadable_report(pdf: bytes, item: _UnreadableSignature) -> SignatureReport:
    who = item.signer_name or item.field_name
    return SignatureReport(
        field_name=item.field_name,
        signer_name=item.signer_name,
        role=item.role,
        certificate_subject="",
        signing_time=None,
        timestamp_time=None,
        certifying=False,
        intact=False,
        valid=False,
        trusted=False,
        covers_whole_document=False,
        coverage="UNCLEAR",
        modification_level=None,
        docmdp_ok=None,
        ok=False,
        messages=(
            _(
                "Signaturen av %(who)s går inte att läsa: signaturvärdet i filen är skadat "
                "eller borttaget.",
                who=who,
            ),
        ),
        revision_sha256=_revision_sha256(pdf, item.byte_range),
        readable=False,
    )


def _as_asn1(cert: Certificate) -> asn1_x509.Certificate:
    """pyHanko works with asn1crypto certificates; the app mostly holds pyca ones."""
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _unsigned_field_names(reader: PdfFileReader) -> tuple[str, ...]:
    return tuple(name for name, value, _ref in fields.enumerate_sig_fields(reader) if not value)


def _check_signature(
    sig: EmbeddedPdfSignature,
    roots: list[asn1_x509.Certificate],
    validation_time: datetime | None,
) -> SignatureReport:
    """Validate one signature; whatever cannot be checked counts as failed (fail closed).

    If validation with the trust roots crashes, it is retried without any: that still
    answers intact / valid / modifications, and the signature is reported as untrusted with
    the reason. (pyhanko-certvalidator asserts instead of rejecting when a trust root has
    the issuer's *name* but a different key type, e.g. a look-alike CA.)
    """
    name, role = _sig_text(sig, "/Name"), _sig_text(sig, "/Reason")
    try:
        status = _validate(sig, roots, validation_time)
    except Exception:
        try:
            status = _validate(sig, [], validation_time)
        except Exception:  # not even integrity can be established
            return _failed_report(sig, name, role)
        report = _report_from_status(sig, name, role, status)
        problem = _(
            "Certifikatkedjan kunde inte kontrolleras; certifikatet räknas som ej betrott."
        )
        return replace(report, trusted=False, ok=False, messages=(*report.messages, problem))
    return _report_from_status(sig, name, role, status)


def _validate(
    sig: EmbeddedPdfSignature,
    roots: list[asn1_x509.Certificate],
    validation_time: datetime | None,
) -> PdfSignatureStatus:
    # An explicit (possibly empty) root list: never fall back to the OS trust store.
    context = ValidationContext(trust_roots=roots, allow_fetching=False, moment=validation_time)
    return validate_pdf_signature(sig, signer_validation_context=context)


def _sig_text(sig: EmbeddedPdfSignature, key: str) -> str:
    value = sig.sig_object.get(key)
    return str(value) if value is not None else ""


def _is_certifying(sig: EmbeddedPdfSignature) -> bool:
    try:
        return sig.docmdp_level is not None
    except Exception:  # a malformed /Reference array: treat as not certifying
        return False


def _failed_report(sig: EmbeddedPdfSignature, name: str, role: str) -> SignatureReport:
    who = name or sig.field_name
    return SignatureReport(
        field_name=str(sig.field_name),
        signer_name=name,
        role=role,
        certificate_subject="",
        signing_time=None,
        timestamp_time=None,
        certifying=_is_certifying(sig),
        intact=False,
        valid=False,
        trusted=False,
        covers_whole_document=False,
        coverage="UNCLEAR",
        modification_level=None,
        docmdp_ok=None,
        ok=False,
        messages=(_("Signaturen av %(who)s kunde inte kontrolleras: den är skadad.", who=who),),
        readable=False,
    )


def _report_from_status(
    sig: EmbeddedPdfSignature, name: str, role: str, status: PdfSignatureStatus
) -> SignatureReport:
    level = status.modification_level
    timestamp = status.timestamp_validity
    trusted_ts = timestamp is not None and timestamp.trusted  # trusted implies intact, valid
    report = SignatureReport(
        field_name=str(sig.field_name),
        signer_name=name,
        role=role,
        certificate_subject=status.signing_cert.subject.human_friendly,
        signing_time=status.signer_reported_dt,
        timestamp_time=timestamp.timestamp if trusted_ts and timestamp else None,
        certifying=_is_certifying(sig),
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        covers_whole_document=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        coverage=status.coverage.name if status.coverage is not None else "UNCLEAR",
        modification_level=level.name if level is not None else None,
        docmdp_ok=status.docmdp_ok,
        ok=bool(status.bottom_line and status.docmdp_ok),
        messages=(),
    )
    return _with_messages(report, status)


def _with_messages(report: SignatureReport, status: PdfSignatureStatus) -> SignatureReport:
    """Attach plain explanations (in the reader's language); the first says who and when."""
    who = report.signer_name or report.field_name
    if report.role:
        who += f" ({report.role})"
    when = _local_time(report.signing_time) if report.signing_time else _("okänd tid")
    messages = [
        _(
            "Signatur av %(who)s, %(when)s: %(status)s",
            who=who,
            when=when,
            status=_status_word(report),
        )
    ]
    if not report.intact:
        messages.append(
            _("Det signerade innehållet har ändrats efter signeringen (hashvärdet stämmer inte).")
        )
    elif not report.valid:
        messages.append(_("Den kryptografiska signaturen går inte att verifiera."))
    if report.intact and report.valid and not report.trusted:
        problem = status.trust_problem_indic
        # pyhanko types the subindication as its base class; every concrete one is an Enum.
        detail = f" ({cast(Enum, problem).name})" if problem is not None else ""
        messages.append(
            _(
                "Certifikatet (%(name)s) kedjar inte till någon betrodd utfärdare i "
                "riskreg%(detail)s.",
                name=_common_name(status),
                detail=detail,
            )
        )
    if status.timestamp_validity is not None and report.timestamp_time is None:
        messages.append(
            _("Signaturens tidsstämpel kan inte verifieras mot en betrodd utfärdare.")
        )
    messages.extend(_modification_messages(report))
    return replace(report, messages=tuple(messages))


def _status_word(report: SignatureReport) -> str:
    """What this signature proves on its own; the file's verdict is decided elsewhere."""
    if not report.intact:
        return _("det signerade innehållet har ändrats.")
    if not report.valid:
        return _("signaturvärdet stämmer inte.")
    if report.trusted:
        return _("det signerade innehållet är oförändrat, certifikatet är betrott.")
    return _("det signerade innehållet är oförändrat, men certifikatet är inte betrott.")


def _common_name(status: PdfSignatureStatus) -> str:
    subject = status.signing_cert.subject
    return str(subject.native.get("common_name") or subject.human_friendly)


def _local_time(moment: datetime) -> str:
    """Swedish local time for messages; /M is usually stored in UTC."""
    try:
        return moment.astimezone(LOCAL_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    except ZoneInfoNotFoundError:  # no tz database on the host: say it is UTC
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _modification_messages(report: SignatureReport) -> list[str]:
    if report.covers_whole_document:
        return [_("Signaturen omfattar hela filen.")]
    level = ModificationLevel[report.modification_level] if report.modification_level else None
    change = _(_MODIFICATION_TEXT.get(level, _UNKNOWN_CHANGE) if level else _UNKNOWN_CHANGE)
    if report.docmdp_ok is False:
        return [
            _(
                "Dokumentet har ändrats efter signeringen på ett otillåtet sätt: %(change)s.",
                change=change,
            )
        ]
    if report.docmdp_ok is None:
        return [_("Det gick inte att avgöra om senare ändringar av dokumentet är tillåtna.")]
    if level is ModificationLevel.NONE:
        return [_("Efter signaturen har data lagts till i slutet av filen.")]
    return [_("Efter signaturen har tillåtna tillägg gjorts: %(change)s.", change=change)]


def _verdict(reports: Sequence[SignatureReport]) -> Verdict:
    if any(not (r.intact and r.valid) or r.docmdp_ok is not True for r in reports):
        return Verdict.INVALID
    if any(not r.ok for r in reports):
        return Verdict.UNTRUSTED
    return Verdict.VALID


def _overall_messages(
    verdict: Verdict, reports: Sequence[SignatureReport], unsigned: Sequence[str]
) -> tuple[str, ...]:
    count = len(reports)
    headline = {
        Verdict.VALID: (
            _("Dokumentet är oförändrat och alla %(count)s signaturer är giltiga.", count=count)
            if count > 1
            else _("Dokumentet är oförändrat och signaturen är giltig.")
        ),
        Verdict.UNTRUSTED: _(
            "Dokumentet är oförändrat, men minst en signatur är gjord med ett certifikat "
            "som riskreg inte litar på."
        ),
        Verdict.INVALID: _(
            "Dokumentet kan inte godtas: det har ändrats efter signeringen eller en "
            "signatur är ogiltig."
        ),
    }[verdict]
    messages = [headline]
    for report in reports:
        messages.extend(report.messages)
    messages.extend(
        _("Signaturfältet %(name)s är ännu inte signerat.", name=name) for name in unsigned
    )
    return tuple(messages)
