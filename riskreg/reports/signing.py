"""PAdES signing of riskreg reports with pyHanko.

The workflow has two signatures on one file:

1. The controller (granskare) signs with ``certify=True``. This is a *certification*
   signature carrying a DocMDP transform with permission level 2 (``MDPPerm.FILL_FORMS``):
   from then on only form filling and signing are allowed changes. In the same incremental
   update, empty signature fields are created for the later signers (``reserve_fields``),
   because creating a new *visible* field after certification is itself a change that
   strict validators (pyHanko among them) reject.
2. The approver signs with ``certify=False`` into their reserved field: an ordinary approval
   signature, added as another incremental update, which the certification allows.

Every signature is PAdES (``/SubFilter /ETSI.CAdES.detached``, SHA-256) and has a visible
stamp in the DejaVu TrueType font, so the name and time print with å, ä and ö intact.

Each signature is made with the signer's personal certificate (``riskreg.reports.signers``
chooses it; pass it as ``signer``, a pyHanko signer from a PKCS#12 file or a PKCS#11 token).
The stamp says what the signature is and no more: "Signerad elektroniskt av NN" with the
certificate's subject and issuing CA; it is an advanced electronic signature made with a
certificate from the organisation's (or region's) CA, not a qualified one. The role is stated
in the stamp and in ``/Reason``; the role is asserted by riskreg, the name by the CA.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils.font import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.pdf_utils.xref import ObjectStream
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp import TextStampStyle

from ._layout import FONT_DIR
from ._layout import Box as Box

__all__ = ["Box", "SigningError", "load_pkcs12_signer", "sign_pdf"]

_STAMP_FONT = FONT_DIR / "DejaVuSans.ttf"
_STAMP_FONT_SIZE = 9
_STAMP_TEXT = (
    "Signerad elektroniskt av %(person)s, %(role)s, %(when)s\n"
    "Certifikat: %(subject)s, utfärdat av %(issuer)s\n%(kind)s"
)
_CERTIFYING = "Certifierande signatur (PAdES). Endast medsignatur tillåts därefter."
_APPROVING = "Medsignatur (PAdES)."


class SigningError(Exception):
    """The PDF could not be signed as asked (bad key, wrong field, document state)."""


class _FixedTimePdfSigner(signers.PdfSigner):
    """PdfSigner that uses the caller's ``signed_at`` instead of the machine clock.

    pyHanko takes the signing time (``/M`` and the stamp's time) from ``datetime.now``; the
    application decides when a user signed, and the stamp, ``/M`` and the audit log must agree.
    """

    def __init__(
        self,
        signature_meta: signers.PdfSignatureMetadata,
        signer: signers.Signer,
        *,
        signing_time: datetime,
        timestamper: timestamps.TimeStamper | None,
        stamp_style: TextStampStyle,
        new_field_spec: SigFieldSpec | None,
    ) -> None:
        super().__init__(
            signature_meta,
            signer,
            timestamper=timestamper,
            stamp_style=stamp_style,
            new_field_spec=new_field_spec,
        )
        self._signing_time = signing_time

    def init_signing_session(
        self, pdf_out: BasePdfFileWriter, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


def sign_pdf(
    pdf: bytes,
    *,
    pkcs12_path: Path | str | None = None,
    passphrase: bytes | None = None,
    signer: signers.Signer | None = None,
    signer_name: str,
    signer_role: str,
    signed_at: datetime,
    field_name: str,
    certify: bool,
    box: Box,
    timestamp_url: str | None = None,
    reserve_fields: Mapping[str, Box] | None = None,
) -> bytes:
    """Sign ``pdf`` in a new incremental update and return the signed file.

    ``box`` is ``(page_index, x1, y1, x2, y2)`` in PDF points; a negative page index counts
    from the end (-1 is the last page, where the report's signature boxes are). It is used
    when the field is created now; a field reserved earlier keeps the place it was given.

    With ``certify=True`` this must be the document's first signature; ``reserve_fields``
    (field name → box) then creates the empty fields later signers will fill. With
    ``certify=False`` the field should already exist if the document is certified.

    ``timestamp_url`` adds an RFC 3161 signature timestamp from that TSA (PAdES B-T), which
    proves the signature existed at that time independently of ``signed_at``. It needs
    network access to the TSA at signing time, and the TSA's root among the verifier's trust
    roots. Only the failure path is tested here (no TSA is reachable offline); a TSA that
    does not answer raises :class:`SigningError` and nothing is signed.

    The key is ``signer`` (e.g. a PKCS#11 signer) or else the PKCS#12 file ``pkcs12_path``
    opened with ``passphrase``.
    """
    _check_arguments(signed_at, field_name, certify, reserve_fields)
    if signer is None:
        if pkcs12_path is None or passphrase is None:
            raise ValueError("give either signer or pkcs12_path and passphrase")
        signer = load_pkcs12_signer(pkcs12_path, passphrase)
    signing_cert = _check_certificate_period(signer, signed_at)
    writer = _open_writer(pdf)
    existing = _existing_field_names(writer.prev)
    _check_document_state(writer.prev, field_name, certify, existing)
    if certify:
        _reserve_fields(writer, reserve_fields or {}, existing)
    pdf_signer = _FixedTimePdfSigner(
        _metadata(field_name, signer_name, signer_role, certify),
        signer,
        signing_time=signed_at,
        timestamper=timestamps.HTTPTimeStamper(timestamp_url) if timestamp_url else None,
        stamp_style=_stamp_style(),
        new_field_spec=None if field_name in existing else _field_spec(field_name, box),
    )
    text_params = {
        "person": signer_name,
        "role": signer_role,
        "when": signed_at.strftime("%Y-%m-%d %H:%M"),
        "kind": _CERTIFYING if certify else _APPROVING,
        "subject": _common_name(signing_cert.subject),
        "issuer": _common_name(signing_cert.issuer),
    }
    try:
        output = pdf_signer.sign_pdf(writer, appearance_text_params=text_params)
    except TimestampRequestError as exc:
        raise SigningError(f"the timestamp service {timestamp_url} did not answer") from exc
    return bytes(output.getbuffer())


def _metadata(
    field_name: str, signer_name: str, signer_role: str, certify: bool
) -> signers.PdfSignatureMetadata:
    """PAdES baseline signature dictionary; DocMDP level 2 (fill forms) when certifying."""
    return signers.PdfSignatureMetadata(
        field_name=field_name,
        name=signer_name,
        reason=signer_role,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )


def _check_arguments(
    signed_at: datetime,
    field_name: str,
    certify: bool,
    reserve_fields: Mapping[str, Box] | None,
) -> None:
    if signed_at.tzinfo is None or signed_at.utcoffset() is None:
        raise ValueError("signed_at must be timezone-aware (Europe/Stockholm for the stamp)")
    if not field_name or "." in field_name:
        raise ValueError("field_name must be a non-empty name without '.'")
    if reserve_fields and not certify:
        raise ValueError("fields can only be reserved by the certifying (first) signature")
    if reserve_fields and field_name in reserve_fields:
        raise ValueError("the field being signed must not also be reserved")


def _open_writer(pdf: bytes) -> IncrementalPdfFileWriter:
    try:
        return IncrementalPdfFileWriter(BytesIO(pdf), strict=True)
    except PdfError as exc:
        raise SigningError(f"not a readable PDF: {exc}") from exc


def _common_name(name: Any) -> str:
    return str(name.native.get("common_name") or name.human_friendly)


def _check_certificate_period(signer: signers.Signer, signed_at: datetime) -> Any:
    """A signing time outside the certificate's validity would be a claim nobody can believe.

    Returns the signer's certificate (asn1crypto, untyped), known from here on to be there.
    """
    cert = signer.signing_cert
    if cert is None:
        raise SigningError("the signer has no certificate")
    if not cert.not_valid_before <= signed_at <= cert.not_valid_after:
        raise SigningError(
            f"signed_at {signed_at.isoformat()} is outside the signing certificate's validity "
            f"({cert.not_valid_before.isoformat()} – {cert.not_valid_after.isoformat()})"
        )
    return cert


def _check_document_state(
    reader: PdfFileReader, field_name: str, certify: bool, existing: dict[str, bool]
) -> None:
    """Refuse what would produce an invalid document, before anything is written."""
    if existing.get(field_name):
        raise SigningError(f"signature field {field_name!r} is already signed")
    if certify and any(existing.values()):
        raise SigningError("a certification signature must be the document's first signature")
    if not certify and field_name not in existing and _is_certified(reader):
        raise SigningError(
            f"signature field {field_name!r} was not reserved when the document was certified; "
            "adding a new visible field now would be an illegal change"
        )


def load_pkcs12_signer(pkcs12_path: Path | str, passphrase: bytes) -> signers.SimpleSigner:
    """Load key and certificate chain; a wrong passphrase becomes a clear SigningError.

    Opening the PKCS#12 file (200 000 KDF rounds) and checking the RSA key take about a second;
    the loaded signer is kept for the file's current contents (replacing the file or changing
    the passphrase loads it again), so each later signature skips that second.
    """
    return _signer_for(Path(pkcs12_path).read_bytes(), passphrase)


@lru_cache(maxsize=4)
def _signer_for(data: bytes, passphrase: bytes) -> signers.SimpleSigner:
    try:
        return signers.SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=passphrase)
    except ValueError as exc:
        raise SigningError("could not open the PKCS#12 file (wrong passphrase?)") from exc


def _existing_field_names(reader: PdfFileReader) -> dict[str, bool]:
    """Signature fields in the document, mapped to whether they are already signed."""
    return {name: value is not None for name, value, _ref in fields.enumerate_sig_fields(reader)}


def _is_certified(reader: PdfFileReader) -> bool:
    return "/Perms" in reader.root and "/DocMDP" in reader.root["/Perms"]


def _field_spec(field_name: str, box: Box) -> SigFieldSpec:
    page, x1, y1, x2, y2 = box
    # pyhanko hints the box as ints, but writes it into the PDF as numbers, so any point
    # value works (the report's boxes are floats): its hint is narrower than what it takes.
    return SigFieldSpec(
        sig_field_name=field_name,
        on_page=page,
        box=(x1, y1, x2, y2),  # type: ignore[arg-type]
    )


def _reserve_fields(
    writer: IncrementalPdfFileWriter, reserve: Mapping[str, Box], existing: Mapping[str, bool]
) -> None:
    """Create empty visible signature fields before the certification signature covers them."""
    for name, box in reserve.items():
        if "." in name or not name:
            raise ValueError(f"invalid signature field name {name!r}")
        if name not in existing:
            fields.append_signature_field(writer, _field_spec(name, box))


class _InMemoryFontFactory(FontEngineFactory):
    """Like pyHanko's ``GlyphAccumulatorFactory`` but reading the font from memory.

    pyHanko's factory opens the TTF and never closes it, which leaks a file handle per
    signature (a ResourceWarning, an error under this project's warnings-as-errors tests).
    """

    def __init__(self, font_bytes: bytes, font_size: int) -> None:
        self.font_bytes = font_bytes
        self.font_size = font_size

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: ObjectStream | None = None
    ) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(self.font_bytes),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


@cache
def _stamp_font_bytes() -> bytes:
    """DejaVu Sans rescaled in memory to 1000 font units per em (done once per process).

    pyHanko's glyph accumulator writes the CID font's ``/W`` widths and its TJ kerning in the
    font's own units, while PDF measures glyph space in 1/1000 em. For a 1000-unit font the two
    agree; DejaVu has 2048, so every glyph would be drawn about twice as wide as HarfBuzz laid
    it out (spread-out, clipped stamp text). ``FFTM`` (a FontForge timestamp) is dropped
    because fontTools cannot subset it and logs a warning on every signature.
    """
    font = TTFont(BytesIO(_STAMP_FONT.read_bytes()))
    if font["head"].unitsPerEm != 1000:
        scale_upem(font, 1000)
    if "FFTM" in font:
        del font["FFTM"]
    buffer = BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def _stamp_style() -> TextStampStyle:
    """Visible stamp: DejaVu text (for åäö), thin border, no pyHanko logo in the background.

    pyHanko's default stamp font is Courier, a non-embedded base-14 font without proper
    Unicode mapping; a TrueType font through a glyph accumulator is subset-embedded with a
    ToUnicode map, so "Åström" both displays and copies correctly.
    """
    font = _InMemoryFontFactory(_stamp_font_bytes(), font_size=_STAMP_FONT_SIZE)
    return TextStampStyle(
        stamp_text=_STAMP_TEXT,
        text_box_style=TextBoxStyle(
            font=font, font_size=_STAMP_FONT_SIZE, leading=_STAMP_FONT_SIZE + 3
        ),
        border_width=1,
        background=None,
    )
