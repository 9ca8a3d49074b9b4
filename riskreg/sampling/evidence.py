"""Evidence files of sampled items: checked like every upload, stored by SHA-256.

The view checks the upload with :func:`riskreg.uploads.check_upload` (size counted while
reading, type by content, so a renamed ``.exe`` is refused; ZIP-based Office files inspected
before anything unpacks them). Here the checked file is copied into the evidence folder under
its SHA-256, which also de-duplicates identical uploads, and recorded on the item.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Final

from riskreg.auth.models import User
from riskreg.controls.services import require_open_for_testing
from riskreg.sampling.models import Evidence, SampleItem
from riskreg.storage import touch
from riskreg.uploads import CheckedUpload

#: What may be evidence (riskreg.uploads.KINDS): documents, pictures, spreadsheets and text.
ALLOWED_KINDS: Final = frozenset({"pdf", "png", "jpeg", "xlsx", "docx", "csv", "txt"})


def evidence_dir(instance_path: str | os.PathLike[str]) -> Path:
    path = Path(instance_path) / "evidence"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    storage.mkdir(parents=True, exist_ok=True)
    target = storage / upload.sha256
    if target.exists():
        touch(target)  # re-used: keep `riskreg storage check` from taking it for an orphan
    else:
        # Written beside the target and renamed, so a half-copied file never has the name.
        handle = tempfile.NamedTemporaryFile(dir=storage, prefix=".upload-", delete=False)  # noqa: SIM115
        try:
            with handle:
                upload.stream.seek(0)
                shutil.copyfileobj(upload.stream, handle)
            os.replace(handle.name, target)
        except BaseException:
            if os.path.exists(handle.name):
                os.unlink(handle.name)
            raise
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
