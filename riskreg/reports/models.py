"""Signed reports as riskreg keeps them: one row per report version, files under instance/.

A report is signed twice (the certifying signature first, then the co-signature), so a row
goes through two states:

* ``certified`` – the first signer (the controller for a review, the coordinator for a
  follow-up) has certified the PDF; the once-signed file is stored and waits for the
  co-signer named in ``cosigner_id``;
* ``signed`` – the co-signer has signed; the final file is stored, its SHA-256 is recorded
  in ``final_sha256`` and neither the file nor the row's signing fields change again.

A review report belongs to one approval of a control (``subject_approved_at`` is the
control's ``approved_at`` when the report was made). If the control is reopened and
approved again, the next report is a new row with the next ``number``; earlier rows and
their files are kept.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskreg.auth.models import User
from riskreg.controls.models import Control
from riskreg.db import Base, now_utc
from riskreg.glossary import REPORT_STATES
from riskreg.plans.models import Plan


class ReportKind(StrEnum):
    REVIEW = "review"
    FOLLOWUP = "followup"


REPORT_KIND_TITLES = {
    ReportKind.REVIEW: "Granskningsrapport",
    ReportKind.FOLLOWUP: "Uppföljning av internkontrollplanen",
}


class ReportState(StrEnum):
    CERTIFIED = "certified"
    SIGNED = "signed"


REPORT_STATE_TITLES = {state: REPORT_STATES[state.value] for state in ReportState}


class Report(Base):
    """One version of a signed report (review of a control, or follow-up of a plan)."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("control_id", "number"),
        UniqueConstraint("plan_id", "number"),
        CheckConstraint(
            "(kind = 'review' AND control_id IS NOT NULL AND plan_id IS NULL) "
            "OR (kind = 'followup' AND plan_id IS NOT NULL AND control_id IS NULL)",
            name="subject",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    control_id: Mapped[int | None] = mapped_column(
        ForeignKey("control.id", ondelete="RESTRICT"), index=True
    )
    # Set for a follow-up only; a review reaches its plan through control.risk.plan.
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plan.id", ondelete="RESTRICT"), index=True
    )
    # 1, 2, ... per control (review) or per plan (follow-up).
    number: Mapped[int]
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    # The control's approved_at the report was made for; None for a follow-up.
    subject_approved_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), default=ReportState.CERTIFIED.value)
    # SHA-256 of the unsigned PDF as rendered (the first revision of every stored file).
    content_sha256: Mapped[str] = mapped_column(String(64))

    certified_file: Mapped[str] = mapped_column(String(255))
    certified_sha256: Mapped[str] = mapped_column(String(64), index=True)
    certified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # Names and roles exactly as written into the signatures (users may be renamed later).
    certified_by_name: Mapped[str] = mapped_column(String(200))
    certified_role: Mapped[str] = mapped_column(String(60))
    certified_at: Mapped[datetime] = mapped_column(default=now_utc)

    cosigner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    cosigner_name: Mapped[str] = mapped_column(String(200))
    cosigned_role: Mapped[str] = mapped_column(String(60))

    final_file: Mapped[str | None] = mapped_column(String(255))
    final_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    cosigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    cosigned_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    control: Mapped[Control | None] = relationship()
    plan: Mapped[Plan | None] = relationship()
    certified_by: Mapped[User | None] = relationship(foreign_keys=[certified_by_id])
    cosigner: Mapped[User | None] = relationship(foreign_keys=[cosigner_id])
    cosigned_by: Mapped[User | None] = relationship(foreign_keys=[cosigned_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def kind_enum(self) -> ReportKind:
        return ReportKind(self.kind)

    @property
    def state_enum(self) -> ReportState:
        return ReportState(self.state)

    @property
    def is_signed(self) -> bool:
        return self.state == ReportState.SIGNED

    @property
    def current_file(self) -> str:
        """The most complete stored file: the final one once co-signed."""
        return self.final_file or self.certified_file

    @property
    def current_sha256(self) -> str:
        return self.final_sha256 or self.certified_sha256

    def __str__(self) -> str:
        return self.reference


class CertificateStorage(StrEnum):
    FILE = "file"  # PKCS#12 under instance/keys/users/, encrypted with the server passphrase
    PKCS11 = "pkcs11"  # private key in an HSM/token, found by its label


class SigningCertificate(Base):
    """A personal signing certificate and the user it was registered for.

    The row is what lets verification say whether a signature's certificate belonged to the
    person named at the time of signing: it belonged from ``registered_at`` until
    ``revoked_at`` (never, if unset). Issuing or importing another certificate for the user
    ends the previous one's period. Rows are never deleted.
    """

    __tablename__ = "signing_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"), index=True)
    # SHA-256 of the DER certificate, lower-case hex: how a signature's certificate is found.
    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    serial_number: Mapped[str] = mapped_column(String(64))  # hex
    subject: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(500))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    # "issued" (by riskreg's CA) or "imported" (PKCS#12 from the region's PKI).
    source: Mapped[str] = mapped_column(String(20))
    storage: Mapped[str] = mapped_column(String(20))
    # File name relative to instance/keys/users/, or the key's label in the PKCS#11 token.
    location: Mapped[str] = mapped_column(String(255))
    certificate_pem: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(default=now_utc)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()

    def belonged_at(self, moment: datetime) -> bool:
        """Registered for its user at ``moment`` (and inside the certificate's validity)."""
        if moment < self.registered_at or moment > self.not_after or moment < self.not_before:
            return False
        return self.revoked_at is None or moment < self.revoked_at

    def __str__(self) -> str:
        return f"{self.subject} ({self.serial_number})"
