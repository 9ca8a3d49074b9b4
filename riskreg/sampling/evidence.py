"""Evidence files of sampled items: size-limited, type-checked by content, stored by SHA-256.

Files are streamed to a temporary file in the evidence folder while their SHA-256 and size are
computed, so an upload is never held in memory and an oversized one is cut off at the limit.
The type is decided by the content (the ``filetype`` package reads the magic bytes), never by
the name: a renamed ``.exe`` is still an executable and is refused. Plain text and CSV have no
magic bytes; they are accepted only under a .txt/.csv name and when the start of the file is
text (no NUL bytes, valid UTF-8 or Windows-1252). Stored files are named by their SHA-256,
which also de-duplicates identical uploads.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import IO, Final

import filetype

from riskreg.auth.models import User
from riskreg.controls.services import require_open_for_testing
from riskreg.errors import ServiceError
from riskreg.sampling.models import Evidence, SampleItem

DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
ALLOWED: Final = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
TEXT_TYPES: Final = {".txt": "text/plain", ".csv": "text/csv"}
ALLOWED_TEXT: Final = "PDF, PNG, JPEG, Excel (.xlsx), Word (.docx), text och CSV"
_HEAD: Final = 64 * 1024


def evidence_dir(instance_path: str | os.PathLike[str]) -> Path:
    path = Path(instance_path) / "evidence"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _is_text(head: bytes, complete: bool) -> bool:
    """No NUL bytes, and UTF-8 (a character cut at the sample's end allowed) or Windows-1252."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return True
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def detect_type(head: bytes, filename: str, *, complete: bool = True) -> str:
    """The MIME type of an allowed file, decided by its content; raises ServiceError."""
    kind = filetype.guess(head)
    if kind is not None:
        if kind.extension in ALLOWED:
            return ALLOWED[kind.extension]
        raise ServiceError(
            f"Filtypen ({kind.extension}) är inte tillåten som underlag. Tillåtna: {ALLOWED_TEXT}."
        )
    extension = os.path.splitext(filename.lower())[1]
    if extension in TEXT_TYPES and _is_text(head, complete):
        return TEXT_TYPES[extension]
    raise ServiceError(
        f"Filens innehåll kunde inte kännas igen som en tillåten typ. Tillåtna: {ALLOWED_TEXT}."
    )


def store_evidence(
    item: SampleItem,
    stream: IO[bytes],
    filename: str,
    *,
    storage: Path,
    max_bytes: int,
    actor: User | None,
    now: datetime,
) -> Evidence:
    """Check and store an upload; returns the (unflushed) Evidence attached to the item."""
    require_open_for_testing(item.draw.control)
    name = os.path.basename((filename or "").replace("\\", "/")).strip()[:255] or "underlag"
    sha = hashlib.sha256()
    size = 0
    head = b""
    storage.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=storage, prefix=".upload-", delete=False)  # noqa: SIM115
    try:
        with handle:
            while chunk := stream.read(256 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise ServiceError(
                        f"Filen är större än gränsen {max_bytes / 1024 / 1024:.0f} MB.".replace(
                            ".", ","
                        )
                    )
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
                sha.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise ServiceError("Filen är tom.")
        content_type = detect_type(head, name, complete=size <= len(head))
        digest = sha.hexdigest()
        target = storage / digest
        if target.exists():
            os.unlink(handle.name)
        else:
            os.replace(handle.name, target)
    except BaseException:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
        raise
    evidence = Evidence(
        file_name=name,
        content_type=content_type,
        size=size,
        sha256=digest,
        stored_name=digest,
        uploaded_by_id=actor.id if actor else None,
        uploaded_at=now,
    )
    item.evidence.append(evidence)
    return evidence
