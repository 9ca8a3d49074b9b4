"""Signing and storage of riskreg's reports: the business rules around the pure PDF code.

Over 600 lines: signing, co-signing, storage, export and verification of the reports share
their rules (what is current, who may sign); verification could move out next.

Plain functions taking the session, the acting user and ``now``; they write files and flush,
they never commit. The view or command commits once, so a report row is never written
without its file (a file without a row, left by a failed commit, is harmless: nothing refers
to it, and names carry the content's hash so a retry never collides with it).

The signing flow of a **review report** (granskningsrapport):

1. The control is approved (``controls.services.change_status``). From then on the report can
   be previewed (rendered on the fly, not stored).
2. An assigned controller of the control signs (:func:`sign_review`): the report is rendered
   from the current data, *certified* (PAdES, DocMDP "fill forms" – only the co-signature may
   follow) with an empty signature field reserved for the approver, stored under
   ``REPORTS_DIR`` and recorded as a :class:`Report` in state ``certified``.
3. The approver who approved the control co-signs (:func:`cosign_report`) – never a
   controller of the same control; the final file is stored once, its SHA-256 recorded, and
   the row is ``signed``. Signing again is refused; a reopened and re-approved control gets a
   new report version, the old one stays.

The **follow-up report** (uppföljning) of a plan is signed the same way by an administrator
(the internal control coordinator, certifying) and co-signed by an approver the coordinator
names when signing (the förvaltningschef who presents it to the nämnd).

Every signer signs with their own certificate (``riskreg.reports.signers``): issued per user by
the organisation's CA (``riskreg keys issue``) or imported from the region's PKI, its key in
``instance/keys/users/`` (PKCS#12, encrypted with ``SIGNING_PASSPHRASE``, by default the
passphrase in ``instance/keys/passphrase`` written by ``riskreg keys init``) or in an HSM
through PKCS#11 (``SIGNING_PKCS11_MODULE``, ``SIGNING_PKCS11_TOKEN``, ``SIGNING_PKCS11_PIN``).
A deactivated user, or one without a current certificate, cannot sign. Verification trusts the
certificates in ``SIGNING_TRUST_ROOTS`` (default ``instance/keys/ca.pem``; one PEM file may
hold several roots, e.g. the region's CA and its timestamp authority's). With
``TIMESTAMP_URL`` each signature gets an RFC 3161 timestamp.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from riskreg.auth.models import Role, User
from riskreg.controls.models import Control, ControlStatus
from riskreg.db import LOCAL_TIMEZONE_NAME
from riskreg.errors import NotAllowed, ServiceError, StaleObject
from riskreg.i18n import gettext_now as _
from riskreg.plans.models import Plan
from riskreg.reports import assemble, data
from riskreg.reports.models import Report, ReportKind, ReportState
from riskreg.risks.models import Risk
from riskreg.sampling.models import (
    HygieneObservation,
    Population,
    SampleDraw,
    SampleItem,
    SamplePlan,
)

__all__ = [
    "DevKeys",
    "ReportStore",
    "SigningSettings",
    "VerificationOutcome",
    "cosign_report",
    "ensure_dev_keys",
    "export_reports",
    "followup_data",
    "followup_inputs",
    "is_pdf",
    "load_review_inputs",
    "preview_followup",
    "preview_review",
    "review_reports",
    "sign_followup",
    "sign_review",
    "verify_upload",
]

KEYS_DIR = "keys"
PASSPHRASE_FILE = "passphrase"  # noqa: S105 - a file name, not a secret
REPORTS_DIR = "reports"

CONTROLLER_ROLE = "granskare"
APPROVER_ROLE = "godkännare"
COORDINATOR_ROLE = "internkontrollsamordnare"


# ============================================================== configuration and keys


@dataclass(frozen=True)
class SigningSettings:
    """Where the key, the trust roots and the stored reports are; read from the app config."""

    pkcs12_path: Path
    passphrase: bytes | None
    trust_roots_path: Path
    timestamp_url: str | None
    reports_dir: Path
    timezone: ZoneInfo
    keys_dir: Path | None = None  # the dev CA and users/ (personal PKCS#12 files)
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_pin: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: str | Path) -> SigningSettings:
        """Relative paths are taken relative to the instance folder."""
        instance = Path(instance_path)
        keys = instance / KEYS_DIR

        def path(key: str, default: Path) -> Path:
            value = config.get(key)
            if not value:
                return default
            candidate = Path(str(value))
            return candidate if candidate.is_absolute() else instance / candidate

        passphrase: bytes | None
        configured = config.get("SIGNING_PASSPHRASE")
        if configured is not None and configured != "":
            passphrase = str(configured).encode("utf-8")
        else:
            passphrase = _read_passphrase(keys / PASSPHRASE_FILE)
        return cls(
            pkcs12_path=path("SIGNING_PKCS12", keys / "signing.p12"),
            passphrase=passphrase,
            trust_roots_path=path("SIGNING_TRUST_ROOTS", keys / "ca.pem"),
            timestamp_url=str(config.get("TIMESTAMP_URL") or "") or None,
            reports_dir=path("REPORTS_DIR", instance / REPORTS_DIR),
            timezone=ZoneInfo(str(config.get("BABEL_DEFAULT_TIMEZONE") or LOCAL_TIMEZONE_NAME)),
            keys_dir=path("SIGNING_KEYS_DIR", keys),
            pkcs11_module=str(config.get("SIGNING_PKCS11_MODULE") or "") or None,
            pkcs11_token=str(config.get("SIGNING_PKCS11_TOKEN") or "") or None,
            pkcs11_pin=str(config.get("SIGNING_PKCS11_PIN") or "") or None,
        )

    @property
    def personal_keys_dir(self) -> Path:
        return self.keys_dir if self.keys_dir is not None else self.pkcs12_path.parent

    def pkcs11_token_config(self) -> Any:
        """The configured PKCS#11 token (``signers.Pkcs11Token``), or None."""
        from riskreg.reports.signers import Pkcs11Token

        if not self.pkcs11_module or not self.pkcs11_token:
            return None
        return Pkcs11Token(self.pkcs11_module, self.pkcs11_token, self.pkcs11_pin)

    def trust_roots(self) -> list[Any]:
        from riskreg.reports.keys import load_pem_certificates

        if not self.trust_roots_path.is_file():
            return []
        return list(load_pem_certificates(self.trust_roots_path))

    def store(self) -> ReportStore:
        return ReportStore(self.reports_dir)


def _read_passphrase(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    return path.read_bytes().strip() or None


#: X.509 names hold at most 64 bytes; the dev PKI appends up to 31 bytes to the organisation.
_MAX_ORGANISATION_BYTES = 33


def certificate_organisation(name: str) -> str:
    """The organisation as it fits in a certificate name: "Region Västmanland – HSF" becomes
    "Region Västmanland" (the part before a dash), cut to what X.509 allows."""
    short = name.split(" – ")[0].split(" - ")[0].strip() or "riskreg"
    while len(short.encode("utf-8")) > _MAX_ORGANISATION_BYTES:
        short = short[:-1]
    return short.rstrip()


@dataclass(frozen=True)
class DevKeys:
    """The development PKI in instance/keys and whether this call created it."""

    created: bool
    pkcs12_path: Path
    ca_path: Path
    passphrase_path: Path


def ensure_dev_keys(keys_dir: Path, organisation: str, *, force: bool = False) -> DevKeys:
    """Create a dev CA, signing certificate and passphrase file in ``keys_dir`` if missing.

    The passphrase is random and kept in ``keys_dir/passphrase`` (mode 0600), next to the
    PKCS#12 it protects: that protects nothing against someone who can read the folder, which
    is why production sets ``SIGNING_PKCS12`` / ``SIGNING_PASSPHRASE`` to the region's own
    certificate instead. ``force`` replaces existing keys (reports signed before then no
    longer chain to the new ca.pem; keep the old one to verify them).
    """
    from riskreg.reports.keys import CA_FILE, PKCS12_FILE, create_dev_pki

    organisation = certificate_organisation(organisation)
    p12, ca, secret = keys_dir / PKCS12_FILE, keys_dir / CA_FILE, keys_dir / PASSPHRASE_FILE
    if p12.exists() and secret.exists() and not force:
        return DevKeys(False, p12, ca, secret)
    if p12.exists() and not secret.exists() and not force:
        raise ServiceError(
            _(
                "%(p12)s finns men inte lösenfrasen i %(secret)s; ange SIGNING_PASSPHRASE i "
                "konfigurationen eller skapa nya nycklar med --force.",
                p12=p12,
                secret=secret,
            )
        )
    passphrase = secrets.token_urlsafe(32).encode("ascii")
    create_dev_pki(keys_dir, organisation, passphrase, force=force, keep_ca_key=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(secret, flags, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(passphrase + b"\n")
    return DevKeys(True, p12, ca, secret)


# ============================================================== storage


class ReportFileError(ServiceError):
    """A stored report file is missing or no longer has the content recorded for it."""


class ReportStore:
    """Write-once files under ``REPORTS_DIR``; names are relative to it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        resolved = (self.directory / name).resolve()
        if self.directory.resolve() not in resolved.parents:
            raise ReportFileError(f"ogiltigt filnamn för en rapport: {name}")
        return resolved

    def write_once(self, name: str, content: bytes) -> None:
        """Store ``content`` under ``name``; an existing file is never replaced.

        The bytes go to a temporary file beside the target first and are linked to the name
        only when complete (``os.link`` fails if the name exists), so a crash never leaves a
        half-written report under a real name; a leftover temporary file or a file whose
        transaction failed is found and removed by ``riskreg storage check``. A file of that
        name with the very same bytes (left by an earlier attempt) is adopted; any other
        existing file is an error.
        """
        from riskreg.storage import touch

        target = self.path(name)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".pdf")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o440)
            try:
                os.link(temporary, target)
            except FileExistsError:
                if target.read_bytes() == content:
                    touch(target)
                    return
                raise ReportFileError(
                    f"Rapportfilen {name} finns redan med annat innehåll; den skrivs inte över."
                ) from None
        finally:
            os.unlink(temporary)

    def read_verified(self, name: str, sha256: str) -> bytes:
        """The stored bytes, after checking that they still hash to what the database says."""
        target = self.path(name)
        try:
            content = target.read_bytes()
        except FileNotFoundError:
            raise ReportFileError(f"Rapportfilen {name} saknas i arkivet.") from None
        if hashlib.sha256(content).hexdigest() != sha256:
            raise ReportFileError(
                f"Rapportfilen {name} stämmer inte med kontrollsumman i databasen; "
                "den har ändrats efter att den lagrades och lämnas inte ut."
            )
        return content


def _file_name(report_year: int, reference: str, stage: str, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    return f"{report_year}/{reference}-{stage}-{digest[:16]}.pdf"


# ============================================================== loading


def load_review_inputs(session: Session, control: Control) -> assemble.ReviewInputs:
    """The control's current population, sample plan, draw and observations."""
    population = session.scalar(
        select(Population)
        .where(Population.control_id == control.id, Population.superseded.is_(False))
        .order_by(Population.imported_at.desc(), Population.id.desc())
        .limit(1)
    )
    items = selectinload(SampleDraw.items)
    draw = session.scalar(
        select(SampleDraw)
        .where(SampleDraw.control_id == control.id, SampleDraw.superseded.is_(False))
        .order_by(SampleDraw.drawn_at.desc(), SampleDraw.id.desc())
        .options(  # every item is printed: load them in three queries, not 2 × 400
            items.selectinload(SampleItem.attribute_results),
            items.joinedload(SampleItem.population_item),
        )
        .limit(1)
    )
    plan = draw.plan if draw is not None and draw.plan is not None else None
    if plan is None:
        plan = session.scalar(
            select(SamplePlan)
            .where(SamplePlan.control_id == control.id, SamplePlan.superseded.is_(False))
            .order_by(SamplePlan.created_at.desc(), SamplePlan.id.desc())
            .limit(1)
        )
    if draw is not None and population is not None and draw.population_id != population.id:
        population = draw.population  # the report describes what the sample came from
    observations = session.scalars(
        select(HygieneObservation)
        .where(HygieneObservation.control_id == control.id)
        .order_by(HygieneObservation.observed_on, HygieneObservation.id)
    ).all()
    return assemble.ReviewInputs(control, population, plan, draw, observations)


def review_reports(session: Session, control: Control) -> list[Report]:
    """Every report version of a control, newest first."""
    return list(
        session.scalars(
            select(Report).where(Report.control_id == control.id).order_by(Report.number.desc())
        )
    )


def current_review_report(session: Session, control: Control) -> Report | None:
    """The report made for the control's current approval, if any."""
    return current_of(control, review_reports(session, control))


def current_of(control: Control, reports: list[Report]) -> Report | None:
    """Among the control's ``reports``, the one made for its current approval, if any."""
    if control.status != ControlStatus.APPROVED or control.approved_at is None:
        return None
    for report in reports:
        if report.subject_approved_at == control.approved_at:
            return report
    return None


def _signer(user: User) -> assemble.Signer:
    title = ", ".join(unit.name for unit in user.units)
    return assemble.Signer(user.full_name or user.username, title)


def _organisation(plan: Plan) -> str:
    return plan.organisation.name


def _review_reference(control: Control, number: int) -> str:
    return f"GR-{control.risk.plan.year}-{control.id:04d}-v{number}"


def _followup_reference(plan: Plan, number: int) -> str:
    return f"UPP-{plan.year}-{plan.id:03d}-v{number}"


def _next_number(session: Session, column: Any, value: int) -> int:
    highest = session.scalar(select(func.max(Report.number)).where(column == value))
    return (highest or 0) + 1


def _local(now: datetime, settings: SigningSettings) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(settings.timezone).replace(microsecond=0)


# ============================================================== review reports


def preview_review(
    session: Session, control: Control, *, viewer: User, now: datetime, settings: SigningSettings
) -> bytes:
    """The review report as it would be signed now, unsigned and not stored."""
    from riskreg.reports.pdf import build_review_report

    if control.status != ControlStatus.APPROVED:
        raise ServiceError(_("Rapporten finns först när granskningen är godkänd."))
    controller = (
        _signer(viewer)
        if control.is_controller(viewer)
        else assemble.Signer(", ".join(c.full_name for c in control.controllers), "")
    )
    approver = _signer(control.approved_by) if control.approved_by else assemble.Signer("–", "")
    number = _next_number(session, Report.control_id, control.id)
    data = assemble.review_report(
        load_review_inputs(session, control),
        reference=f"{_review_reference(control, number)} (UTKAST, osignerat)",
        organisation=_organisation(control.risk.plan),
        controller=controller,
        approver=approver,
        generated_at=_local(now, settings),
        tz=settings.timezone,
    )
    return build_review_report(data)


def sign_review(
    session: Session,
    control: Control,
    *,
    actor: User,
    now: datetime,
    settings: SigningSettings,
) -> Report:
    """Render the review report of an approved control and certify it as its controller."""
    from riskreg.reports.pdf import build_review_report

    if control.status != ControlStatus.APPROVED or control.approved_at is None:
        raise ServiceError(_("Granskningen måste vara godkänd innan rapporten kan signeras."))
    if actor.role != Role.CONTROLLER or not control.is_controller(actor):
        raise NotAllowed(_("Bara en granskare som har utfört granskningen kan signera rapporten."))
    existing = current_review_report(session, control)
    if existing is not None:
        raise ServiceError(
            _(
                "Rapporten %(reference)s är redan signerad av %(certified_by_name)s. En signerad "
                "rapport ändras aldrig; en ny version skapas först när granskningen har öppnats "
                "igen och godkänts på nytt.",
                reference=existing.reference,
                certified_by_name=existing.certified_by_name,
            )
        )
    approver = control.approved_by
    if approver is None or not approver.active:
        raise ServiceError(
            _(
                "Godkännaren av granskningen finns inte längre som aktiv användare; öppna "
                "granskningen igen och låt en annan godkännare godkänna den."
            )
        )
    if control.is_controller(approver) or approver.id == actor.id:
        raise NotAllowed(
            _("Granskningen är godkänd av en av dess granskare; den kan inte signeras.")
        )
    number = _next_number(session, Report.control_id, control.id)
    reference = _review_reference(control, number)
    signed_at = _local(now, settings)
    data = assemble.review_report(
        load_review_inputs(session, control),
        reference=reference,
        organisation=_organisation(control.risk.plan),
        controller=_signer(actor),
        approver=_signer(approver),
        generated_at=signed_at,
        tz=settings.timezone,
    )
    return _certify(
        session,
        build_review_report(data),
        settings,
        actor=actor,
        role=CONTROLLER_ROLE,
        cosigner=approver,
        now=now,
        signed_at=signed_at,
        year=control.risk.plan.year,
        file_label="granskare",
        kind=ReportKind.REVIEW,
        number=number,
        reference=reference,
        control=control,
        subject_approved_at=control.approved_at,
    )


def _certify(
    session: Session,
    unsigned: bytes,
    settings: SigningSettings,
    *,
    actor: User,
    role: str,
    cosigner: User,
    now: datetime,
    signed_at: datetime,
    year: int,
    file_label: str,
    kind: ReportKind,
    number: int,
    reference: str,
    **subject: Any,
) -> Report:
    """The first signature of a review or follow-up report: certify it as ``actor`` with the
    co-signer's box reserved, store the file once and record the report (``subject`` is its
    control or plan)."""
    from riskreg.reports.pdf import signature_box

    certified = _sign(
        session,
        unsigned,
        settings,
        signer=actor,
        role=role,
        signed_at=signed_at,
        certify=True,
        field=assemble.CONTROLLER_FIELD,
        box=signature_box(0),
        reserve={assemble.COSIGNER_FIELD: signature_box(1)},
    )
    report = Report(
        kind=kind.value,
        number=number,
        reference=reference,
        state=ReportState.CERTIFIED.value,
        content_sha256=hashlib.sha256(unsigned).hexdigest(),
        certified_file=_file_name(year, reference, file_label, certified),
        certified_sha256=hashlib.sha256(certified).hexdigest(),
        certified_by=actor,
        certified_by_name=actor.full_name,
        certified_role=role,
        certified_at=now,
        cosigner=cosigner,
        cosigner_name=cosigner.full_name,
        cosigned_role=APPROVER_ROLE,
        **subject,
    )
    settings.store().write_once(report.certified_file, certified)
    return _save_new(session, report)


def _save_new(session: Session, report: Report) -> Report:
    session.add(report)
    try:
        session.flush()
    except IntegrityError:
        raise StaleObject(_("Någon annan signerade rapporten samtidigt. Ladda om sidan.")) from None
    return report


def cosign_report(
    session: Session,
    report: Report,
    *,
    actor: User,
    now: datetime,
    settings: SigningSettings,
) -> Report:
    """Add the approver's co-signature; the final file is stored once and never changed."""
    from riskreg.reports.pdf import signature_box

    if report.state != ReportState.CERTIFIED:
        raise ServiceError(
            _(
                "Rapporten %(reference)s är redan medsignerad; en signerad rapport ändras aldrig.",
                reference=report.reference,
            )
        )
    _check_cosigner(report, actor)
    certified = settings.store().read_verified(report.certified_file, report.certified_sha256)
    signed_at = _local(now, settings)
    final = _sign(
        session,
        certified,
        settings,
        signer=actor,
        role=report.cosigned_role,
        signed_at=signed_at,
        certify=False,
        field=assemble.COSIGNER_FIELD,
        box=signature_box(1),
        reserve=None,
    )
    year = _report_year(report)
    final_name = _file_name(year, report.reference, "signerad", final)
    settings.store().write_once(final_name, final)
    report.final_file = final_name
    report.final_sha256 = hashlib.sha256(final).hexdigest()
    report.cosigned_by = actor
    report.cosigned_at = now
    report.state = ReportState.SIGNED.value
    try:
        session.flush()
    except (StaleDataError, IntegrityError):
        raise StaleObject(
            _("Någon annan medsignerade rapporten samtidigt. Ladda om sidan.")
        ) from None
    return report


def _report_year(report: Report) -> int:
    if report.plan is not None:
        return report.plan.year
    assert report.control is not None
    return report.control.risk.plan.year


def _check_cosigner(report: Report, actor: User) -> None:
    """Segregation of duties and the named co-signer, whatever the view checked."""
    if actor.role != Role.APPROVER:
        raise NotAllowed(_("Bara en godkännare kan medsignera rapporten."))
    if report.certified_by_id == actor.id:
        raise NotAllowed(_("Den som har signerat rapporten kan inte också medsignera den."))
    if report.kind == ReportKind.REVIEW:
        control = report.control
        assert control is not None
        if control.is_controller(actor):
            raise NotAllowed(_("Den som har utfört granskningen kan inte medsignera rapporten."))
        if (
            control.status != ControlStatus.APPROVED
            or control.approved_at != report.subject_approved_at
        ):
            raise ServiceError(
                _(
                    "Granskningen har öppnats igen efter att rapporten signerades; rapporten kan "
                    "inte längre medsigneras. En ny version skapas när granskningen godkänns igen."
                )
            )
    if report.cosigner_id != actor.id:
        raise NotAllowed(
            _("Rapporten ska medsigneras av %(cosigner_name)s.", cosigner_name=report.cosigner_name)
        )


def _sign(
    session: Session,
    pdf: bytes,
    settings: SigningSettings,
    *,
    signer: User,
    role: str,
    signed_at: datetime,
    certify: bool,
    field: str,
    box: Any,
    reserve: Mapping[str, Any] | None,
) -> bytes:
    """Sign with ``signer``'s own certificate (refused when deactivated or without one)."""
    from riskreg.reports.signers import open_signer, signing_certificate_for
    from riskreg.reports.signing import SigningError, sign_pdf

    certificate = signing_certificate_for(session, signer, signed_at)
    try:
        with open_signer(
            certificate,
            keys_dir=settings.personal_keys_dir,
            passphrase=settings.passphrase,
            token=settings.pkcs11_token_config(),
            chain=settings.trust_roots(),
        ) as key:
            return sign_pdf(
                pdf,
                signer=key,
                signer_name=signer.full_name,
                signer_role=role,
                signed_at=signed_at,
                field_name=field,
                certify=certify,
                box=box,
                timestamp_url=settings.timestamp_url,
                reserve_fields=reserve,
            )
    except SigningError as exc:
        raise ServiceError(_("Rapporten kunde inte signeras: %(exc)s", exc=exc)) from exc


# ============================================================== follow-up reports


def followup_inputs(
    session: Session,
    plan: Plan,
    visible: Callable[[Control], bool] | None = None,
    *,
    where: ColumnElement[bool] | None = None,
) -> list[assemble.ControlFollowup]:
    """Every control of the plan with its current sample and whether its report is signed;
    only those ``visible`` accepts (riskreg.permissions.followup_scope), if given, and those
    ``where`` selects (its SQL twin, permissions.scope_followup), if given."""
    query = select(Control).join(Control.risk).where(Risk.plan_id == plan.id)
    if where is not None:
        query = query.where(where)
    controls = session.scalars(query.order_by(Control.id)).all()
    if visible is not None:
        controls = [control for control in controls if visible(control)]
    return [
        assemble.ControlFollowup(
            load_review_inputs(session, control),
            report_signed=current_signed(session, control),
        )
        for control in controls
    ]


def current_signed(session: Session, control: Control) -> bool:
    report = current_review_report(session, control)
    return report is not None and report.is_signed


def followup_reports(session: Session, plan: Plan) -> list[Report]:
    return list(
        session.scalars(
            select(Report).where(Report.plan_id == plan.id).order_by(Report.number.desc())
        )
    )


def followup_data(
    session: Session,
    plan: Plan,
    *,
    coordinator: assemble.Signer,
    approver: assemble.Signer,
    reference: str,
    now: datetime,
    settings: SigningSettings,
    visible: Callable[[Control], bool] | None = None,
    where: ColumnElement[bool] | None = None,
) -> data.FollowupReport:
    """The follow-up report data of a plan (also shown as a page and exported to XLSX),
    of the controls ``visible`` accepts when given (see followup_inputs)."""
    from riskreg.risks.matrix import load_matrix

    return assemble.followup_report(
        plan,
        followup_inputs(session, plan, visible, where=where),
        load_matrix(session),
        reference=reference,
        organisation=_organisation(plan),
        coordinator=coordinator,
        approver=approver,
        generated_at=_local(now, settings),
        tz=settings.timezone,
    )


def preview_followup(
    session: Session,
    plan: Plan,
    *,
    now: datetime,
    settings: SigningSettings,
    visible: Callable[[Control], bool] | None = None,
    where: ColumnElement[bool] | None = None,
) -> bytes:
    from riskreg.reports.pdf import build_followup_report

    number = _next_number(session, Report.plan_id, plan.id)
    data = followup_data(
        session,
        plan,
        coordinator=assemble.Signer("–", ""),
        approver=assemble.Signer("–", ""),
        reference=f"{_followup_reference(plan, number)} (UTKAST, osignerat)",
        now=now,
        settings=settings,
        visible=visible,
        where=where,
    )
    return build_followup_report(data)


def sign_followup(
    session: Session,
    plan: Plan,
    *,
    actor: User,
    cosigner: User,
    now: datetime,
    settings: SigningSettings,
) -> Report:
    """Certify the plan's follow-up as the coordinator (admin); name the co-signing approver."""
    from riskreg.reports.pdf import build_followup_report

    if actor.role != Role.ADMIN:
        raise NotAllowed(
            _("Bara internkontrollsamordnaren (administratör) signerar uppföljningen.")
        )
    if cosigner.role != Role.APPROVER or not cosigner.active:
        raise ServiceError(_("Välj en aktiv godkännare som medsignerar uppföljningen."))
    waiting = [r for r in followup_reports(session, plan) if r.state == ReportState.CERTIFIED]
    if waiting:
        raise ServiceError(
            _(
                "Uppföljningen %(reference)s väntar redan på medsignatur av %(cosigner_name)s.",
                reference=waiting[0].reference,
                cosigner_name=waiting[0].cosigner_name,
            )
        )
    number = _next_number(session, Report.plan_id, plan.id)
    reference = _followup_reference(plan, number)
    signed_at = _local(now, settings)
    data = followup_data(
        session,
        plan,
        coordinator=_signer(actor),
        approver=_signer(cosigner),
        reference=reference,
        now=now,
        settings=settings,
    )
    return _certify(
        session,
        build_followup_report(data),
        settings,
        actor=actor,
        role=COORDINATOR_ROLE,
        cosigner=cosigner,
        now=now,
        signed_at=signed_at,
        year=plan.year,
        file_label="samordnare",
        kind=ReportKind.FOLLOWUP,
        number=number,
        reference=reference,
        plan=plan,
        subject_approved_at=None,
    )


# ============================================================== verification


def is_pdf(content: bytes) -> bool:
    """Judge by content, not by name: a PDF header near the start and an end-of-file marker."""
    return b"%PDF-" in content[:1024] and b"%%EOF" in content[-2048:]


@dataclass(frozen=True)
class VerificationOutcome:
    """The verdict on an uploaded file and the archived report it is (or comes from)."""

    verification: Any  # riskreg.reports.verdict.FileVerification
    report: Report | None
    trust_configured: bool
    # Who made each signature (riskreg.reports.signers.SignerIdentity), by certificate.
    signers: tuple[Any, ...] = ()


def _archived(session: Session, report: Report, stage: str) -> Any:
    from riskreg.reports.verdict import ArchivedFile

    column = Report.control_id if report.control_id is not None else Report.plan_id
    subject = report.control_id if report.control_id is not None else report.plan_id
    newer = session.scalar(
        select(Report)
        .where(
            column == subject,
            Report.number > report.number,
            Report.state == ReportState.SIGNED.value,
        )
        .order_by(Report.number.desc())
        .limit(1)
    )
    reopened = (
        report.control is not None and current_review_report(session, report.control) is not report
    )
    return ArchivedFile(
        reference=report.reference,
        stage=stage,
        report_id=report.id,
        final_reference=report.reference if report.final_sha256 else None,
        superseded_by=newer.reference if newer is not None else None,
        reopened=reopened,
    )


def archive_lookup(session: Session) -> Any:
    """A function from SHA-256 to what riskreg archived under it (final or certified file)."""

    def lookup(sha256: str) -> Any:
        final = session.scalar(select(Report).where(Report.final_sha256 == sha256))
        if final is not None:
            return _archived(session, final, "final")
        certified = session.scalar(
            select(Report).where(Report.certified_sha256 == sha256).order_by(Report.id).limit(1)
        )
        if certified is not None:
            return _archived(session, certified, "certified")
        return None

    return lookup


def verify_upload(
    session: Session, content: bytes, *, now: datetime, settings: SigningSettings
) -> VerificationOutcome:
    """One verdict on ``content``: its signatures, the chain to the roots, and the archive.

    See :mod:`riskreg.reports.verdict` for the rule. Only what is not a PDF at all is
    refused (``ServiceError``); everything else gets a verdict in words.
    """
    from riskreg.reports.signers import identify
    from riskreg.reports.verdict import judge
    from riskreg.reports.verify import verify_pdf

    if b"%PDF-" not in content[:1024]:  # a cut-off PDF still gets a verdict (broken)
        raise ServiceError(_("Filen är inte en PDF."))
    roots = settings.trust_roots()
    verification = judge(verify_pdf(content, roots, validation_time=now), archive_lookup(session))
    report = (
        session.get(Report, verification.archived.report_id)
        if verification.archived is not None
        else None
    )
    signers = tuple(identify(session, content))
    return VerificationOutcome(verification, report, bool(roots), signers)


# ============================================================== export


@dataclass(frozen=True)
class ExportedFile:
    reference: str
    path: Path
    written: bool  # False: an identical file was already there


def export_reports(
    session: Session, settings: SigningSettings, directory: Path
) -> list[ExportedFile]:
    """Copy every final signed report into ``directory`` as ``<reference>.pdf``.

    Every file is checked against its recorded SHA-256 first; a file already in ``directory``
    with the same bytes is left alone, one with different bytes is never overwritten. A
    ``SHA256SUMS`` file listing every exported report is (re)written for the archive.
    """
    reports: Sequence[Report] = session.scalars(
        select(Report).where(Report.state == ReportState.SIGNED.value).order_by(Report.reference)
    ).all()
    store = settings.store()
    directory.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedFile] = []
    for report in reports:
        assert report.final_file is not None and report.final_sha256 is not None
        content = store.read_verified(report.final_file, report.final_sha256)
        target = directory / f"{report.reference}.pdf"
        if target.exists():
            if target.read_bytes() != content:
                raise ServiceError(
                    _(
                        "%(target)s finns redan med annat innehåll; exporten skriver inte över "
                        "den.",
                        target=target,
                    )
                )
            exported.append(ExportedFile(report.reference, target, False))
            continue
        target.write_bytes(content)
        exported.append(ExportedFile(report.reference, target, True))
    sums = "".join(f"{r.final_sha256}  {r.reference}.pdf\n" for r in reports)
    (directory / "SHA256SUMS").write_text(sums, encoding="ascii")
    return exported
