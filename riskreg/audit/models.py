"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskreg.db import Base


class AuditEntry(Base):
    """One change. `payload` is the canonical JSON that was hashed; the other columns copy parts
    of it for querying, and `riskreg audit verify` checks that they still agree."""

    __tablename__ = "audit_entry"
    __audit__ = False
    __table_args__ = (
        Index("ix_audit_entry_object", "object_type", "object_id"),
        # The trail page's date filter (issue 15); its keyset pages go by the primary key.
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_action", "action", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    # No foreign key: deleting a user must never rewrite the evidence of what they did.
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
