"""Evidence files of sampled items: checked like every upload, stored by SHA-256.

The view checks the upload with :func:`riskreg.uploads.check_upload` (size counted while
reading, type by content, so a renamed ``.exe`` is refused; ZIP-based Office files inspected
before anything unpacks them). Here the checked file is copied into the evidence folder under
its SHA-256, which also de-duplicates identical uploads, and recorded on the item.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final

from riskreg.auth.models import User
from riskreg.controls.services import require_open_for_testing
from riskreg.sampling.models import Evidence, SampleItem
from riskreg.storage import EVIDENCE_KINDS, evidence_dir, store_by_sha256
from riskreg.uploads import CheckedUpload

__all__ = ["ALLOWED_KINDS", "evidence_dir", "store_evidence"]

#: What may be evidence (riskreg.uploads.KINDS): documents, pictures, spreadsheets and text.
ALLOWED_KINDS: Final = EVIDENCE_KINDS


def store_evidence(
    item: SampleItem,
    upload: CheckedUpload,
    *,
    storage: Path,
    actor: User | None,
    now: datetime,
) -> Evidence:
    """Store a checked upload; returns the (unflushed) Evidence attached to the item."""
    require_open_for_testing(item.draw.control)
    store_by_sha256(upload.stream, upload.sha256, storage)
    evidence = Evidence(
        file_name=upload.filename,
        content_type=upload.mimetype,
        size=upload.size,
        sha256=upload.sha256,
        stored_name=upload.sha256,
        uploaded_by_id=actor.id if actor else None,
        uploaded_at=now,
    )
    item.evidence.append(evidence)
    return evidence
