"""Register rows built fast for the scale tests (scope agreement, statement counts).

Rows go in through the models with SQLAlchemy's ORM bulk INSERT (one statement per table and
batch, no flush per object), so a thousand controls take a fraction of a second. Bulk inserts
skip the audit trail's flush hook, which is what these tests want: they count the statements
of reading pages, not of writing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from riskreg.auth.models import Role, Unit, User, user_units
from riskreg.controls.models import (
    Action,
    ActionStatus,
    Control,
    ControlStatus,
    Deviation,
    control_controllers,
)
from riskreg.plans.models import Organisation, Plan
from riskreg.reports.models import Report, ReportKind
from riskreg.risks.models import Risk
from riskreg.sampling.models import Population, PopulationItem, SampleDraw, SampleItem

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
CONTROL_STATUSES = [s.value for s in ControlStatus]
ACTION_STATUSES = [s.value for s in ActionStatus]


def _ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    return list(session.scalars(insert(model).returning(model.id), rows))


def units(session: Session, codes: Sequence[tuple[str, str | None]]) -> dict[str, int]:
    """Units by code; each given with its parent's code (or None)."""
    found: dict[str, int] = {}
    for code, parent in codes:
        unit = Unit(code=code, name=f"Enhet {code}", parent_id=found[parent] if parent else None)
        session.add(unit)
        session.flush()
        found[code] = unit.id
    return found


def user(session: Session, username: str, role: Role, unit_ids: Sequence[int] = ()) -> User:
    person = User(
        username=username,
        email=f"{username}@example.org",
        full_name=username.title(),
        password_hash="x",
        role=role.value,
    )
    session.add(person)
    session.flush()
    if unit_ids:
        session.execute(
            insert(user_units), [{"user_id": person.id, "unit_id": u} for u in unit_ids]
        )
    return person


def members(session: Session, numbers: range, unit_ids: Sequence[int]) -> None:
    """Unit members ``person0000``…, one unit each (bulk: the admin lists grow with them)."""
    ids = _ids(
        session,
        User,
        [
            {
                "username": f"person{i:04d}",
                "email": f"person{i:04d}@example.org",
                "full_name": f"Person {i:04d}",
                "password_hash": "x",
                "role": Role.UNIT_MEMBER.value,
                "created_at": NOW,
            }
            for i in numbers
        ],
    )
    if ids:
        session.execute(
            insert(user_units),
            [{"user_id": u, "unit_id": unit_ids[j % len(unit_ids)]} for j, u in enumerate(ids)],
        )


def more_units(session: Session, numbers: range, *, parent: int) -> None:
    """Units ``X0000``… below ``parent`` (bulk, for the admin list of units)."""
    _ids(
        session,
        Unit,
        [
            {"code": f"X{i:04d}", "name": f"Enhet {i:04d}", "parent_id": parent, "created_at": NOW}
            for i in numbers
        ],
    )


def plan(session: Session, year: int, organisation: str = "Hälso- och sjukvårdsförv.") -> int:
    org = session.scalar(select(Organisation).where(Organisation.name == organisation))
    if org is None:
        org = Organisation(name=organisation)
        session.add(org)
        session.flush()
    row = Plan(organisation_id=org.id, year=year)
    session.add(row)
    session.flush()
    return row.id


@dataclass
class Built:
    risks: list[int]
    controls: list[int]
    actions: list[int]
    deviations: list[int]
    reports: list[int]
    draws: list[int]
    items: list[int]


def register(
    session: Session,
    *,
    plan_id: int,
    unit_ids: Sequence[int],
    controllers: Sequence[int],
    n: int,
    start: int = 0,
    samples: bool = True,
) -> Built:
    """``n`` risks, each with one control, one deviation, one action and (when ``samples``) a
    population of two rows and a draw of one item; every third approved control has a review
    report. Units, controllers, statuses and owner units rotate so every combination occurs."""
    k = len(unit_ids)
    risks = _ids(
        session,
        Risk,
        [
            {
                "plan_id": plan_id,
                "position": start + i,
                "section": "region" if i % 2 else "administration",
                "title": f"Risk {start + i}",
                "probability": 1 + i % 4,
                "consequence": 1 + (i // 4) % 4,
                "deadline": dt.date(2026, 1 + i % 12, 1 + i % 28) if i % 5 else None,
                "responsible_unit_id": unit_ids[i % k],
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in range(n)
        ],
    )
    statuses = [CONTROL_STATUSES[i % len(CONTROL_STATUSES)] for i in range(n)]
    controls = _ids(
        session,
        Control,
        [
            {
                "risk_id": risks[i],
                "title": f"Granskning {start + i}",
                "check_type": "generic",
                "responsible_unit_id": unit_ids[(i + i // k) % k],
                "deadline": dt.date(2026, 1 + i % 12, 1 + (i * 7) % 28),
                "status": statuses[i],
                "created_at": NOW,
                "approved_at": NOW - dt.timedelta(minutes=i)
                if statuses[i] == ControlStatus.APPROVED.value
                else None,
            }
            for i in range(n)
        ],
    )
    if controllers:
        links = [
            {"control_id": c, "user_id": controllers[j % len(controllers)]}
            for j, c in enumerate(controls)
            if j % 3 != 2
        ]
        if links:
            session.execute(insert(control_controllers), links)
    deviations = _ids(
        session,
        Deviation,
        [{"control_id": c, "description": f"Avvikelse {c}", "created_at": NOW} for c in controls],
    )
    actions = _ids(
        session,
        Action,
        [
            {
                "control_id": controls[i],
                "deviation_id": deviations[i],
                # Owner unit differs from the control's unit for every other action.
                "owner_unit_id": unit_ids[(i + (i % 2)) % k],
                "description": f"Åtgärd {start + i}",
                "due_date": dt.date(2026, 1 + i % 12, 15),
                "status": ACTION_STATUSES[i % len(ACTION_STATUSES)],
                "created_at": NOW,
            }
            for i in range(n)
        ],
    )
    approved = [(i, c) for i, c in enumerate(controls) if statuses[i] == "approved"]
    reports = _ids(
        session,
        Report,
        [
            {
                "kind": ReportKind.REVIEW.value,
                "control_id": c,
                "number": 1,
                "reference": f"GR-{c}-1",
                "subject_approved_at": NOW - dt.timedelta(minutes=i),
                "content_sha256": "0" * 64,
                "certified_file": f"r{c}.pdf",
                "certified_sha256": f"{c:064d}",
                "certified_by_name": "Granskare",
                "certified_role": "Granskare",
                "cosigner_name": "",
                "cosigned_role": "",
            }
            for i, c in approved[::3]
        ],
    )
    draws: list[int] = []
    items: list[int] = []
    if samples:
        populations = _ids(
            session,
            Population,
            [
                {
                    "control_id": c,
                    "file_name": "p.csv",
                    "file_sha256": "0" * 64,
                    "row_count": 2,
                    "imported_at": NOW,
                }
                for c in controls
            ],
        )
        pop_items = _ids(
            session,
            PopulationItem,
            [
                {"population_id": p, "line": line, "record_key": f"{p}-{line}"}
                for p in populations
                for line in (1, 2)
            ],
        )
        draws = _ids(
            session,
            SampleDraw,
            [
                {
                    "control_id": c,
                    "population_id": populations[i],
                    "seed": "1",
                    "selection_method": "random",
                    "sample_size": 1,
                    "drawn_at": NOW,
                }
                for i, c in enumerate(controls)
            ],
        )
        items = _ids(
            session,
            SampleItem,
            [
                {
                    "draw_id": d,
                    "population_item_id": pop_items[2 * i],
                    "position": 1,
                    "result": "ok" if i % 2 else None,
                }
                for i, d in enumerate(draws)
            ],
        )
    return Built(risks, controls, actions, deviations, reports, draws, items)


def followup_report(session: Session, plan_id: int) -> int:
    return _ids(
        session,
        Report,
        [
            {
                "kind": ReportKind.FOLLOWUP.value,
                "plan_id": plan_id,
                "number": 1,
                "reference": f"UPP-{plan_id}-1",
                "content_sha256": "0" * 64,
                "certified_file": f"u{plan_id}.pdf",
                "certified_sha256": f"u{plan_id:063d}",
                "certified_by_name": "Samordnare",
                "certified_role": "Samordnare",
                "cosigner_name": "",
                "cosigned_role": "",
            }
        ],
    )[0]
