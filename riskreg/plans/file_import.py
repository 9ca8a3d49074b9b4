"""Store a plan file: read it (riskreg.tabular), parse it (plan_file.py), save it (services)."""

from __future__ import annotations

from datetime import datetime
from typing import IO, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.auth.models import Unit, User
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.plans.models import Plan
from riskreg.plans.plan_file import PlanRow, Section, parse_plan
from riskreg.plans.services import ImportedRow, import_plan_rows
from riskreg.tabular import TableError, open_table


def import_plan_file(
    session: Session,
    stream: IO[bytes],
    filename: str,
    *,
    organisation: str,
    year: int,
    create_units: bool,
    replace: bool,
    actor: User | None,
    now: datetime,
) -> Plan:
    """Read, validate and store a plan file. Raises ServiceError listing every bad row.

    Nothing is flushed until the whole file has been read and validated, and the caller commits
    once, so a bad file leaves the database exactly as it was.
    """
    known = set(session.scalars(select(Unit.code)))
    try:
        table = open_table(stream, filename)
        result = parse_plan(table, known, create_units)
    except TableError as exc:
        raise ServiceError(_("Filen kunde inte läsas: %(exc)s", exc=exc)) from exc
    if result.errors:
        messages = [str(error) for error in result.errors]
        raise ServiceError(
            _("Filen har %(value)s fel. Inget har sparats.", value=len(messages)), messages=messages
        )
    if not result.rows:
        raise ServiceError(_("Filen innehåller inga risker. Inget har sparats."))
    rows = [
        ImportedRow(
            section=row.section,
            title=row.title,
            review_area=row.review_area,
            regulation=row.regulation,
            method=row.method,
            probability=row.probability,
            consequence=row.consequence,
            deadline=row.deadline,
            responsible_code=row.responsible_code,
        )
        for row in result.rows
    ]
    return import_plan_rows(
        session,
        organisation_name=organisation,
        year=year,
        rows=rows,
        new_unit_codes=result.new_unit_codes,
        actor=actor,
        now=now,
        replace=replace,
        source=filename,
    )


def plan_export_rows(plan: Plan) -> list[PlanRow]:
    """The plan's risks in document order: regional section first, as in the adopted plan."""
    order = {"region": 0, "administration": 1}
    risks = sorted(plan.risks, key=lambda r: (order.get(r.section, 9), r.position))
    return [
        PlanRow(
            line=index + 2,
            # Risks are only created from validated PlanRows, so the column holds a Section.
            section=cast(Section, risk.section),
            title=risk.title,
            review_area=risk.review_area,
            regulation=risk.regulation,
            method=risk.method,
            probability=risk.probability,
            consequence=risk.consequence,
            deadline=risk.deadline,
            responsible_code=risk.responsible_unit.code,
        )
        for index, risk in enumerate(risks)
    ]
