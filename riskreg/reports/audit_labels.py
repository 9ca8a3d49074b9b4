"""How the audit trail names the signed reports, their fields and states (imported by views)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.audit.services import register_labels, register_names
from riskreg.reports.models import Report, SigningCertificate

register_labels(
    "report",
    {
        "kind": _l("Typ av rapport"),
        "control_id": _l("Granskning"),
        "plan_id": _l("Internkontrollplan"),
        "number": _l("Nummer"),
        "reference": _l("Referens"),
        "subject_approved_at": _l("Granskningen godkänd"),
        "state": _l("Signering"),
        "content_sha256": _l("Innehållets SHA-256"),
        "certified_file": _l("Fil signerad av granskaren"),
        "certified_sha256": _l("SHA-256 för granskarens signerade fil"),
        "certified_by_id": _l("Signerad av"),
        "certified_by_name": _l("Signerad av (namn)"),
        "certified_role": _l("Signerad i rollen"),
        "certified_at": _l("Signerad"),
        "cosigner_id": _l("Medsignerare"),
        "cosigner_name": _l("Medsignerare (namn)"),
        "cosigned_role": _l("Medsignerad i rollen"),
        "final_file": _l("Medsignerad fil"),
        "final_sha256": _l("SHA-256 för den medsignerade filen"),
        "cosigned_by_id": _l("Medsignerad av"),
        "cosigned_at": _l("Medsignerad"),
        "version": _l("Version"),
    },
    label=_l("Rapport"),
    values={
        "kind": {"review": _l("Granskningsrapport"), "followup": _l("Uppföljning")},
        "state": {
            "certified": _l("Signerad av granskaren, väntar på medsignatur"),
            "signed": _l("Signerad och medsignerad"),
        },
    },
    references={"cosigner_id": "user"},
)


register_labels(
    "signing_certificate",
    {
        "user_id": _l("Användare"),
        "fingerprint_sha256": _l("Certifikatets SHA-256-fingeravtryck"),
        "serial_number": _l("Serienummer"),
        "subject": _l("Utfärdat till"),
        "issuer": _l("Utfärdat av"),
        "not_before": _l("Giltigt från"),
        "not_after": _l("Giltigt till"),
        "source": _l("Ursprung"),
        "storage": _l("Nyckelns förvaring"),
        "location": _l("Nyckelns plats"),
        "certificate_pem": _l("Certifikat (PEM)"),
        "registered_at": _l("Registrerat"),
        "revoked_at": _l("Återkallat"),
        "revoked_reason": _l("Skäl till återkallelse"),
    },
    label=_l("Signeringscertifikat"),
    values={
        "source": {
            "issued": _l("Utfärdat av riskregs certifikatutfärdare"),
            "imported": _l("Importerat från organisationens PKI"),
        },
        "storage": {
            "file": _l("Krypterad fil"),
            "pkcs11": _l("Säkerhetsmodul (PKCS#11)"),
        },
    },
    formats={"certificate_pem": lambda value: str(_l("(certifikatet i PEM-format)"))},
)


def _certificates(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(SigningCertificate.id, SigningCertificate.subject).where(
            SigningCertificate.id.in_(ids)
        )
    )
    return {row[0]: _common_name(row[1]) for row in rows}


def _common_name(subject: str) -> str:
    """"UID=admin,CN=Ingrid Samordnare,O=…" -> "Ingrid Samordnare" (the holder, in words)."""
    for part in subject.split(","):
        key, _, value = part.partition("=")
        if key.strip().upper() == "CN" and value:
            return value
    return subject


def _reports(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Report.id, Report.reference).where(Report.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


register_names("report", _reports)
register_names("signing_certificate", _certificates)
