"""Check an uploaded file before anything reads or stores it: size, type by content, name.

Every upload in riskreg goes through :func:`check_upload` (the plan import today; populations,
evidence and report verification next)::

    from riskreg.uploads import UploadRejected, check_upload

    try:
        upload = check_upload(form.file.data, allowed={"csv", "xlsx"}, max_bytes=50 * 2**20)
    except UploadRejected as exc:
        form.file.errors.append(exc.message)      # Swedish, ready to show
    else:
        with upload:                               # closes the stream afterwards
            import_population(db.session, upload.stream, upload.filename, ...)
            # upload.kind == "xlsx", upload.sha256, upload.size, upload.mimetype

What it guarantees:

* **Size** is counted while reading, never taken from ``Content-Length`` or the multipart
  headers; reading stops at ``max_bytes + 1``. (The request as a whole is capped earlier by
  ``MAX_CONTENT_LENGTH``, answered with the Swedish 413 page.) Empty files are refused.
* **Type** is decided by content: ``filetype`` for binary formats (PDF, PNG, JPEG, executables
  …), a ZIP inspection for Office files (XLSX = ZIP with ``[Content_Types].xml`` and ``xl/``,
  DOCX likewise with ``word/``; corrupt/truncated archives and zip bombs are refused before any
  library unpacks them), and a text check for CSV/TXT (the whole file decodes as UTF-8,
  Windows-1252, or UTF-16 with a byte-order mark; no NUL characters; not an HTML page).
* **Name and content agree**: ``rapport.csv`` that is really a PNG, or ``bild.png`` that is a
  program, is refused with a message saying what the file actually is. A name without an
  extension is judged by content alone. ``filename`` is the user's base name with path parts
  and control characters removed, for display and metadata; never use it as a path on disk.

It does not make a file safe to *serve*: whoever sends stored files back must use the sniffed
``mimetype``, ``Content-Disposition: attachment`` and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
import unicodedata
import zipfile
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Final

import filetype

from riskreg.errors import ServiceError
from riskreg.tabular import UTF16_WITHOUT_BOM, looks_like_bomless_utf16

__all__ = ["KINDS", "CheckedUpload", "Kind", "UploadRejected", "check_upload", "format_size"]

_CHUNK: Final = 64 * 1024


@dataclass(frozen=True)
class Kind:
    label: str
    extensions: frozenset[str]
    mimetype: str


#: What an upload may be. A feature allows a subset: check_upload(..., allowed={"pdf", "png"}).
KINDS: dict[str, Kind] = {
    "csv": Kind("CSV-fil", frozenset({".csv", ".txt", ".tsv"}), "text/csv"),
    "txt": Kind("textfil", frozenset({".txt"}), "text/plain"),
    "xlsx": Kind(
        "Excel-arbetsbok (.xlsx)",
        frozenset({".xlsx"}),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "docx": Kind(
        "Word-dokument (.docx)",
        frozenset({".docx"}),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "pdf": Kind("PDF", frozenset({".pdf"}), "application/pdf"),
    "png": Kind("PNG-bild", frozenset({".png"}), "image/png"),
    "jpeg": Kind("JPEG-bild", frozenset({".jpg", ".jpeg"}), "image/jpeg"),
}

#: What refused contents are called in messages (filetype's extension -> Swedish).
_DESCRIPTIONS: Final = {
    "exe": "ett program (.exe)",
    "elf": "ett program",
    "png": "en PNG-bild",
    "jpg": "en JPEG-bild",
    "gif": "en GIF-bild",
    "webp": "en WebP-bild",
    "bmp": "en BMP-bild",
    "tif": "en TIFF-bild",
    "heic": "en HEIC-bild",
    "pdf": "en PDF",
    "zip": "ett ZIP-arkiv",
    "rar": "ett RAR-arkiv",
    "7z": "ett 7-Zip-arkiv",
    "gz": "en gzip-komprimerad fil",
    "tar": "ett tar-arkiv",
    "rtf": "ett RTF-dokument",
    "doc": "ett dokument i Offices gamla format (.doc/.xls)",
    "xls": "ett dokument i Offices gamla format (.doc/.xls)",
    "ods": "ett OpenDocument-kalkylblad (.ods)",
    "odt": "ett OpenDocument-dokument (.odt)",
    "pptx": "en PowerPoint-presentation",
    "mp4": "en film",
    "mp3": "en ljudfil",
    "html": "en HTML-sida",
    "binary": "en binär fil (inte text)",
    "sqlite": "en databasfil",
    "swf": "en Flash-fil",
}
_OLE2_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CP1252_UNDEFINED: Final = frozenset(b"\x81\x8d\x8f\x90\x9d")
# Office files: real XML compresses 5-50x; a bomb 1000x and more.
_ZIP_MAX_ENTRIES: Final = 10_000
_ZIP_MAX_RATIO: Final = 200
_ZIP_RATIO_MIN_BYTES: Final = 1024 * 1024
_ZIP_MAX_UNPACKED: Final = 1024 * 1024 * 1024


class UploadRejected(ServiceError):
    """The upload is refused; ``message`` says why, in Swedish, for the user."""


@dataclass
class CheckedUpload:
    """An upload that passed :func:`check_upload`. ``stream`` is positioned at the start."""

    filename: str
    kind: str
    mimetype: str
    size: int
    sha256: str
    stream: IO[bytes] = field(repr=False)

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> CheckedUpload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def format_size(size: int) -> str:
    """50 MB, 512 kB, 800 byte: sizes the way the messages say them."""
    if size >= 1024 * 1024:
        value = size / (1024 * 1024)
        return f"{value:.0f} MB" if value >= 10 or value.is_integer() else f"{value:.1f} MB"
    if size >= 1024:
        return f"{size // 1024} kB"
    return f"{size} byte"


def check_upload(file_storage: Any, *, allowed: AbstractSet[str], max_bytes: int) -> CheckedUpload:
    """Check an uploaded file (werkzeug ``FileStorage``) and return it with what was found.

    Raises :class:`UploadRejected` with a Swedish message. ``allowed`` names entries of
    :data:`KINDS`.
    """
    unknown = set(allowed) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown upload kinds: {sorted(unknown)}")
    if file_storage is None or not getattr(file_storage, "filename", None):
        raise UploadRejected("Välj en fil.")
    filename = clean_filename(file_storage.filename)
    stream, size, digest = _read_bounded(file_storage.stream, max_bytes)
    try:
        if size == 0:
            raise UploadRejected(f"{filename} är tom.")
        stream.seek(0)
        head = stream.read(8192)
        found, what = _sniff(stream, head, filename)
        kind = _check_allowed(found, what, filename, allowed)
        stream.seek(0)
    except BaseException:
        stream.close()
        raise
    return CheckedUpload(
        filename=filename,
        kind=kind,
        mimetype=KINDS[kind].mimetype,
        size=size,
        sha256=digest,
        stream=stream,
    )


def clean_filename(name: str) -> str:
    """The user's base name, for display: no directories, no control or format characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    return base[:200] or "filen"


def _allowed_text(allowed: AbstractSet[str]) -> str:
    return ", ".join(KINDS[k].label for k in sorted(allowed))


def _read_bounded(source: IO[bytes], max_bytes: int) -> tuple[IO[bytes], int, str]:
    """Copy the upload into our own spooled file, counting and hashing; stop past max_bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    sha = hashlib.sha256()
    size = 0
    try:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadRejected(
                    f"Filen är större än den tillåtna gränsen på {format_size(max_bytes)}. "
                    "Inget har sparats."
                )
            sha.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return spool, size, sha.hexdigest()


def _sniff(stream: IO[bytes], head: bytes, filename: str) -> tuple[str, str]:
    """(kind, description): kind is a KINDS key or a filetype extension, or "binary"/"html"."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(stream, filename)
    if head.startswith(_OLE2_MAGIC):
        return "doc", _DESCRIPTIONS["doc"]
    guess = filetype.guess(head)
    if guess is not None:
        kind = {"jpg": "jpeg"}.get(guess.extension, guess.extension)
        return kind, _DESCRIPTIONS.get(guess.extension, f"en {guess.extension}-fil")
    if _is_text(stream, head):
        if _looks_like_html(head):
            return "html", _DESCRIPTIONS["html"]
        return "text", "en textfil"
    if looks_like_bomless_utf16(head[:4096]):
        raise UploadRejected(f"{filename}: {UTF16_WITHOUT_BOM}")
    return "binary", _DESCRIPTIONS["binary"]


def _sniff_zip(stream: IO[bytes], filename: str) -> tuple[str, str]:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise UploadRejected(
            f"{filename} är ett skadat eller ofullständigt arkiv (kanske en avbruten "
            "uppladdning). Spara om filen och försök igen."
        ) from exc
    if len(infos) > _ZIP_MAX_ENTRIES:
        raise UploadRejected(f"{filename} innehåller orimligt många delar ({len(infos)}).")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _ZIP_RATIO_MIN_BYTES and ratio > _ZIP_MAX_RATIO:
            raise UploadRejected(
                f"{filename} packas upp till orimligt mycket data (komprimeringsgrad "
                f"{ratio:.0f}:1) och avvisas som en möjlig zip-bomb."
            )
    if total > _ZIP_MAX_UNPACKED:
        raise UploadRejected(
            f"{filename} packas upp till {format_size(total)}, mer än gränsen "
            f"{format_size(_ZIP_MAX_UNPACKED)}."
        )
    names = {info.filename for info in infos}
    if "[Content_Types].xml" in names:
        if any(name.startswith("xl/") for name in names):
            return "xlsx", KINDS["xlsx"].label
        if any(name.startswith("word/") for name in names):
            return "docx", KINDS["docx"].label
        if any(name.startswith("ppt/") for name in names):
            return "pptx", _DESCRIPTIONS["pptx"]
    if "mimetype" in names:
        return "ods", _DESCRIPTIONS["ods"]
    return "zip", _DESCRIPTIONS["zip"]


def _is_text(stream: IO[bytes], head: bytes) -> bool:
    """The whole file decodes as UTF-16 (with BOM), UTF-8 or Windows-1252, without NULs and
    with few control characters."""
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    for candidate in ("utf-16",) if utf16 else ("utf-8", "cp1252"):
        stream.seek(0)
        if _decodes_cleanly(stream, candidate):
            return True
    return False


def _decodes_cleanly(stream: IO[bytes], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    controls = 0
    seen = 0
    while True:
        chunk = stream.read(_CHUNK)
        final = not chunk
        if encoding == "cp1252" and _CP1252_UNDEFINED.intersection(chunk):
            return False
        try:
            text = decoder.decode(chunk, final)
        except UnicodeDecodeError:
            return False
        if "\x00" in text:
            return False
        if seen < 65536:
            sample = text[: 65536 - seen]
            seen += len(sample)
            controls += sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\x0c\x1a")
        if final:
            break
    return controls <= max(8, seen // 100)


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<script", b"<svg", b"<?xml")) or (
        start.startswith(b"<") and (b"<script" in head.lower() or b"<body" in head.lower())
    )


def _check_allowed(kind: str, what: str, filename: str, allowed: AbstractSet[str]) -> str:
    """The KINDS key the upload is accepted as, or UploadRejected."""
    extension = os.path.splitext(filename)[1].lower()
    if kind == "text":
        # Text is CSV or TXT by its name: .txt may be either (CSV first), no extension too.
        candidates = [k for k in ("csv", "txt") if k in allowed]
        matching = [k for k in candidates if not extension or extension in KINDS[k].extensions]
        if matching:
            return matching[0]
        if candidates:
            raise UploadRejected(
                f"{filename} är en textfil men filnamnet slutar på {extension}. "
                f"Tillåtna filtyper: {_allowed_text(allowed)}."
            )
        raise UploadRejected(
            f"{filename} är en textfil, inte en tillåten filtyp. "
            f"Tillåtna filtyper: {_allowed_text(allowed)}."
        )
    if kind not in allowed:
        raise UploadRejected(
            f"{filename} är {what}, inte en tillåten filtyp. "
            f"Tillåtna filtyper: {_allowed_text(allowed)}."
        )
    if extension and extension not in KINDS[kind].extensions:
        raise UploadRejected(
            f"Filnamnet {filename} stämmer inte med innehållet, som är {what}. "
            "Byt inte namn på filer; spara dem i rätt format i stället."
        )
    return kind
