"""The yearly plan and its risks: plain functions that flush and never commit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from riskreg.audit.context import because
from riskreg.audit.trail import record
from riskreg.auth.models import Unit, User
from riskreg.db import local_date
from riskreg.errors import ServiceError, StaleObject
from riskreg.i18n import gettext_now as _
from riskreg.plans.models import Organisation, Plan, PlanAmendment, PlanStatus, Section
from riskreg.risks.models import Risk, RiskAssessment

RISK_FIELDS = (
    "section",
    "title",
    "review_area",
    "regulation",
    "method",
    "probability",
    "consequence",
    "deadline",
    "responsible_unit_id",
)
FIELD_NAMES_SV = {
    "section": "avsnitt",
    "title": "risk",
    "review_area": "granskningsområde",
    "regulation": "berört reglemente/policy/regler",
    "method": "metod för granskning",
    "probability": "sannolikhet",
    "consequence": "konsekvens",
    "deadline": "granskning klar",
    "responsible_unit_id": "ansvarig för granskning",
}


@dataclass(frozen=True)
class RiskData:
    section: str
    title: str
    review_area: str
    regulation: str
    method: str
    probability: int
    consequence: int
    deadline: date | None
    responsible_unit_id: int

    def problems(self) -> list[str]:
        found = []
        if self.section not in {s.value for s in Section}:
            found.append("Okänt avsnitt.")
        if not self.title.strip():
            found.append("Risken måste beskrivas.")
        for name, value in (
            ("Sannolikhet (S)", self.probability),
            ("Konsekvens (K)", self.consequence),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4:
                found.append(f"{name} måste vara ett heltal 1–4.")
        return found


def get_or_create_organisation(session: Session, name: str) -> Organisation:
    name = name.strip()
    if not name:
        raise ServiceError(_("Organisationens namn saknas."))
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name)
        session.add(org)
        session.flush()
    return org


def get_or_create_plan(session: Session, organisation: Organisation, year: int) -> Plan:
    if not 2000 <= year <= 2100:
        raise ServiceError(_("Orimligt planår: %(year)s.", year=year))
    plan = session.scalar(
        select(Plan).where(Plan.organisation_id == organisation.id, Plan.year == year)
    )
    if plan is None:
        plan = Plan(organisation=organisation, year=year)
        session.add(plan)
        session.flush()
    return plan


def _require_reason_if_adopted(plan: Plan, reason: str | None) -> str | None:
    reason = (reason or "").strip() or None
    if plan.is_adopted and not reason:
        raise ServiceError(
            _(
                "Planen är fastställd. Ange skäl för ändringen; den registreras som en ändring "
                "efter fastställande."
            )
        )
    return reason


def _check_version(obj: Risk | Plan, expected_version: int | None) -> None:
    if expected_version is not None and obj.version != expected_version:
        raise StaleObject(
            _(
                "Någon annan har sparat ändringar sedan du öppnade formuläret. Dina ändringar har "
                "inte sparats; jämför med den aktuella versionen nedan."
            )
        )


def create_risk(
    session: Session,
    plan: Plan,
    data: RiskData,
    *,
    actor: User | None,
    now: datetime,
    reason: str | None = None,
) -> Risk:
    problems = data.problems()
    if problems:
        raise ServiceError(problems[0], messages=problems)
    reason = _require_reason_if_adopted(plan, reason)
    position = session.scalar(
        select(func.coalesce(func.max(Risk.position), 0)).where(Risk.plan_id == plan.id)
    )
    with because(reason):
        risk = Risk(plan=plan, position=(position or 0) + 1, **_fields(data))
        session.add(risk)
        session.flush()
        risk.assessments.append(
            RiskAssessment(
                changed_by=actor,
                changed_at=now,
                new_probability=data.probability,
                new_consequence=data.consequence,
                reason=reason or "Första bedömning",
            )
        )
        if plan.is_adopted:
            _amend(session, plan, risk, actor, now, f"Ny risk: {risk.title}", reason or "")
        session.flush()
    return risk


def update_risk(
    session: Session,
    risk: Risk,
    data: RiskData,
    *,
    actor: User | None,
    now: datetime,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Risk:
    _check_version(risk, expected_version)
    problems = data.problems()
    if problems:
        raise ServiceError(problems[0], messages=problems)
    reason = (reason or "").strip() or None
    assessment_changed = (risk.probability, risk.consequence) != (
        data.probability,
        data.consequence,
    )
    if assessment_changed and not reason:
        raise ServiceError(_("Ange varför sannolikhet eller konsekvens ändras."))
    reason = _require_reason_if_adopted(risk.plan, reason)
    changed = [
        FIELD_NAMES_SV[name] for name in RISK_FIELDS if getattr(risk, name) != getattr(data, name)
    ]
    if not changed:
        return risk
    with because(reason):
        if assessment_changed:
            risk.assessments.append(
                RiskAssessment(
                    changed_by=actor,
                    changed_at=now,
                    old_probability=risk.probability,
                    old_consequence=risk.consequence,
                    new_probability=data.probability,
                    new_consequence=data.consequence,
                    reason=reason or "",
                )
            )
        for name, value in _fields(data).items():
            setattr(risk, name, value)
        if risk.plan.is_adopted:
            _amend(
                session, risk.plan, risk, actor, now, "Ändrat: " + ", ".join(changed), reason or ""
            )
        session.flush()
    return risk


def delete_risk(
    session: Session, risk: Risk, *, actor: User | None, now: datetime, reason: str | None = None
) -> None:
    reason = _require_reason_if_adopted(risk.plan, reason)
    with because(reason):
        if risk.plan.is_adopted:
            _amend(
                session, risk.plan, None, actor, now, f"Borttagen risk: {risk.title}", reason or ""
            )
        session.delete(risk)
        session.flush()


def adopt_plan(
    session: Session,
    plan: Plan,
    *,
    actor: User,
    now: datetime,
    decision_date: date,
    decision_body: str,
    decision_paragraph: str,
    diary_number: str,
) -> Plan:
    if plan.is_adopted:
        raise ServiceError(_("Planen är redan fastställd."))
    if not plan.risks:
        raise ServiceError(_("En plan utan risker kan inte fastställas."))
    if not decision_body.strip() or not diary_number.strip() or not decision_paragraph.strip():
        raise ServiceError(_("Ange beslutande organ, paragraf och diarienummer."))
    if decision_date > local_date(now):
        raise ServiceError(_("Beslutsdatum kan inte ligga i framtiden."))
    plan.status = PlanStatus.ADOPTED.value
    plan.decision_date = decision_date
    plan.decision_body = decision_body.strip()
    plan.decision_paragraph = decision_paragraph.strip()
    plan.diary_number = diary_number.strip()
    plan.adopted_by = actor
    plan.adopted_at = now
    session.flush()
    return plan


def _amend(
    session: Session,
    plan: Plan,
    risk: Risk | None,
    actor: User | None,
    now: datetime,
    summary: str,
    reason: str,
) -> None:
    session.add(
        PlanAmendment(
            plan=plan,
            risk_id=risk.id if risk else None,
            changed_by=actor,
            changed_at=now,
            summary=summary,
            reason=reason,
        )
    )


def _fields(data: RiskData) -> dict[str, object]:
    return {name: getattr(data, name) for name in RISK_FIELDS}


# --- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedRow:
    """What the importer hands over: one validated plan row."""

    section: str
    title: str
    review_area: str
    regulation: str
    method: str
    probability: int
    consequence: int
    deadline: date | None
    responsible_code: str


def import_plan_rows(
    session: Session,
    *,
    organisation_name: str,
    year: int,
    rows: Sequence[ImportedRow],
    new_unit_codes: Iterable[str],
    actor: User | None,
    now: datetime,
    replace: bool = False,
    source: str = "",
) -> Plan:
    """Write validated rows as the plan's risks. The caller commits, or rolls back on error."""
    org = get_or_create_organisation(session, organisation_name)
    plan = get_or_create_plan(session, org, year)
    if plan.is_adopted:
        raise ServiceError(
            _("Planen för %(year)s är fastställd och kan inte ersättas genom import.", year=year)
        )
    if plan.risks and not replace:
        raise ServiceError(
            _(
                "Planen för %(year)s har redan %(value)s risker. Välj att ersätta dem om filen ska "
                "gälla i stället.",
                year=year,
                value=len(plan.risks),
            )
        )
    for code in sorted(set(new_unit_codes)):
        session.add(Unit(code=code, name=code))
    session.flush()
    for old in list(plan.risks):
        session.delete(old)
    session.flush()
    units = {u.code.lower(): u for u in session.scalars(select(Unit))}
    for row in rows:
        unit = units.get(row.responsible_code.lower())
        if unit is None:
            raise ServiceError(
                _(
                    "Okänd ansvarig enhet: %(responsible_code)s",
                    responsible_code=row.responsible_code,
                )
            )
        create_risk(
            session,
            plan,
            RiskData(
                section=row.section,
                title=row.title,
                review_area=row.review_area,
                regulation=row.regulation,
                method=row.method,
                probability=row.probability,
                consequence=row.consequence,
                deadline=row.deadline,
                responsible_unit_id=unit.id,
            ),
            actor=actor,
            now=now,
            reason=f"Import {source}".strip(),
        )
    record(session, "import", "plan", plan.id, {"rows": len(rows), "source": source})
    return plan


# --- queries ----------------------------------------------------------------------------------


@dataclass
class RiskFilter:
    plan_id: int | None = None
    year: int | None = None
    section: str | None = None
    unit_id: int | None = None
    level: int | None = None
    probability: int | None = None
    consequence: int | None = None
    text: str | None = None
    sort: str = "position"


SORTS = {
    "position": (Risk.plan_id, Risk.section, Risk.position),
    "risk_value": (Risk.risk_value.desc(), Risk.position),
    "deadline": (Risk.deadline, Risk.position),
    "title": (Risk.title,),
    "unit": (Unit.code, Risk.position),
}


def risk_query(
    flt: RiskFilter,
    visible_units: set[int] | None,
    level_cells: list[tuple[int, int]] | None = None,
) -> Select[Risk]:
    query = (
        select(Risk)
        .join(Risk.plan)
        .join(Risk.responsible_unit)
        .options(
            joinedload(Risk.responsible_unit), joinedload(Risk.plan).joinedload(Plan.organisation)
        )
    )
    if visible_units is not None:
        query = query.where(Risk.responsible_unit_id.in_(visible_units or {-1}))
    if flt.plan_id:
        query = query.where(Risk.plan_id == flt.plan_id)
    if flt.year:
        query = query.where(Plan.year == flt.year)
    if flt.section:
        query = query.where(Risk.section == flt.section)
    if flt.unit_id:
        query = query.where(Risk.responsible_unit_id == flt.unit_id)
    if flt.probability:
        query = query.where(Risk.probability == flt.probability)
    if flt.consequence:
        query = query.where(Risk.consequence == flt.consequence)
    if level_cells is not None:
        query = query.where(
            or_(*[(Risk.probability == p) & (Risk.consequence == k) for p, k in level_cells])
            if level_cells
            else Risk.id == -1
        )
    if flt.text:
        pattern = f"%{flt.text.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Risk.title).like(pattern),
                func.lower(Risk.review_area).like(pattern),
                func.lower(Risk.regulation).like(pattern),
                func.lower(Risk.method).like(pattern),
            )
        )
    return query.order_by(*SORTS.get(flt.sort, SORTS["position"]))


def heat_map_counts(risks: Iterable[Risk]) -> Counter[tuple[int, int]]:
    return Counter((risk.probability, risk.consequence) for risk in risks)


def risk_cell_counts(session: Session, query: Select[Risk]) -> Counter[tuple[int, int]]:
    """The heat map of the risks ``query`` selects, counted by the database (one statement)."""
    ids = query.order_by(None).options().with_only_columns(Risk.id)
    rows = session.execute(
        select(Risk.probability, Risk.consequence, func.count(Risk.id))
        .where(Risk.id.in_(ids))
        .group_by(Risk.probability, Risk.consequence)
    )
    return Counter({(p, k): n for p, k, n in rows})


def latest_plan(session: Session) -> Plan | None:
    return session.scalar(select(Plan).order_by(Plan.year.desc(), Plan.id.desc()).limit(1))
