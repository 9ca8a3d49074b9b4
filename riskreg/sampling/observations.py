"""PPM-BHK hygiene observations of a control: entering one, counting them, the report.

The rules of the measurement (what counts as correct, the minimum group size) are the pure
functions of :mod:`riskreg.sampling.hygiene`; this module stores and reads the rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskreg.audit.digests import DIGEST_KEY, rows_digest_change
from riskreg.audit.trail import record
from riskreg.auth.models import User
from riskreg.controls.models import CheckType, Control
from riskreg.controls.services import (
    require_open_for_testing,
)
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.sampling.hygiene import HygieneObservation as StatsObservation
from riskreg.sampling.hygiene import HygieneReport, evaluate_hygiene
from riskreg.sampling.importing import (
    validate_observation,
)
from riskreg.sampling.models import (
    HygieneObservation,
)


def add_observation(
    session: Session,
    control: Control,
    *,
    unit_name: str,
    profession: str,
    observed_on: date | None,
    kind: str,
    steps: list[str],
    actor: User | None,
    now: datetime,
) -> HygieneObservation:
    require_open_for_testing(control)
    if control.check_type != CheckType.HYGIENE:
        raise ServiceError(_("Observationer hör bara till granskningar av hygienrutiner."))
    parsed = validate_observation(unit_name, profession, observed_on, kind, steps)
    observation = HygieneObservation(
        control_id=control.id,
        unit_name=parsed.unit_name,
        profession=parsed.profession,
        observed_on=parsed.observed_on,
        kind=parsed.kind,
        steps=",".join(parsed.steps),
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    session.add(observation)
    session.flush()
    record(
        session,
        "hygiene.observation",
        "hygiene_observation",
        observation.id,
        {
            # the control's observations as they now stand, for `riskreg audit verify`
            DIGEST_KEY: rows_digest_change(
                session, HygieneObservation.__table__, {"control_id": control.id}
            ),
            "control_id": control.id,
            "unit_name": parsed.unit_name,
            "profession": parsed.profession,
            "observed_on": parsed.observed_on,
            "kind": parsed.kind,
            "steps": observation.steps,
        },
    )
    return observation


def hygiene_count(session: Session, control: Control) -> int:
    return session.scalar(
        select(func.count(HygieneObservation.id)).where(
            HygieneObservation.control_id == control.id
        )
    ) or 0


def hygiene_report(session: Session, control: Control) -> HygieneReport:
    rows = session.execute(
        select(
            HygieneObservation.unit_name, HygieneObservation.profession, HygieneObservation.steps
        )
        .where(HygieneObservation.control_id == control.id)
        .execution_options(yield_per=5000)
    )
    return evaluate_hygiene(
        StatsObservation(unit, profession, tuple(steps.split(","))) for unit, profession, steps
        in rows
    )
