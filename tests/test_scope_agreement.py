"""The SQL scope of every list agrees with the Python predicate it mirrors (issue 15).

riskreg/permissions.py keeps each object predicate (``can_view_control``…) beside a SQL twin
(``scope_controls``…) that the list pages filter with. On generated data (a unit tree, users of
every role with one, several or no units, objects of every unit and state, actions owned by
another unit than their control's), every user must get exactly the same rows from the twin
as from the predicate, for every kind of object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask_login import AnonymousUserMixin
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from riskreg import permissions
from riskreg.audit.models import AuditEntry
from riskreg.auth.models import Role, User
from riskreg.controls.models import Action, Control, Deviation
from riskreg.extensions import db
from riskreg.reports.models import Report
from riskreg.risks.models import Risk
from riskreg.sampling.models import Population, SampleDraw, SampleItem
from tests import scale_data

#: Users by name: role and unit codes (REG at the top, A1 below A).
PEOPLE: dict[str, tuple[Role, tuple[str, ...]]] = {
    "admin": (Role.ADMIN, ()),
    "auditor": (Role.AUDITOR, ()),
    "controller_1": (Role.CONTROLLER, ("A",)),
    "controller_2": (Role.CONTROLLER, ()),
    "controller_idle": (Role.CONTROLLER, ("B",)),
    "member_a": (Role.UNIT_MEMBER, ("A",)),
    "member_a1": (Role.UNIT_MEMBER, ("A1",)),
    "member_a1_b": (Role.UNIT_MEMBER, ("A1", "B")),
    "member_region": (Role.UNIT_MEMBER, ("REG",)),
    "member_none": (Role.UNIT_MEMBER, ()),
    "approver_b": (Role.APPROVER, ("B",)),
    "approver_a_c": (Role.APPROVER, ("A", "C")),
}


@pytest.fixture()
def world(app: Flask) -> Iterator[Session]:
    with app.app_context():
        session = db.session()
        units = scale_data.units(
            session, [("REG", None), ("A", "REG"), ("A1", "A"), ("B", "REG"), ("C", None)]
        )
        people = {
            name: scale_data.user(session, name, role, [units[c] for c in codes])
            for name, (role, codes) in PEOPLE.items()
        }
        unit_ids = list(units.values())
        for year, start in ((2025, 0), (2026, 100)):
            plan_id = scale_data.plan(session, year)
            scale_data.register(
                session,
                plan_id=plan_id,
                unit_ids=unit_ids,
                controllers=[people["controller_1"].id, people["controller_2"].id],
                n=40,
                start=start,
            )
            scale_data.followup_report(session, plan_id)
        # Some audit entries, through the ORM so the trail writes them.
        people["admin"].full_name = "Administratören"
        session.commit()
        yield session


def _everyone(session: Session) -> list[Any]:
    users: list[Any] = list(session.scalars(select(User).order_by(User.username)))
    return [*users, AnonymousUserMixin()]


KINDS: dict[str, tuple[Any, Callable[[Any], Any], Callable[[Any, Any], bool]]] = {
    "risks": (Risk, permissions.scope_risks, permissions.can_view_risk),
    "controls": (Control, permissions.scope_controls, permissions.can_view_control),
    "actions": (Action, permissions.scope_actions, permissions.can_view_action),
    "deviations": (
        Deviation,
        permissions.scope_deviations,
        lambda u, d: permissions.can_view_control(u, d.control),
    ),
    "reports": (Report, permissions.scope_reports, permissions.can_download_any_report),
    "populations": (
        Population,
        lambda u: permissions.scope_samples(u, Population),
        lambda u, p: permissions.can_view_control(u, p.control),
    ),
    "draws": (
        SampleDraw,
        permissions.scope_samples,
        lambda u, d: permissions.can_view_control(u, d.control),
    ),
    "sample items": (
        SampleItem,
        permissions.scope_sample_items,
        lambda u, i: permissions.can_view_control(u, i.draw.control),
    ),
    "follow-up controls": (
        Control,
        lambda u: permissions.scope_followup(u) if permissions.scope_followup(u) is not None
        else true(),
        lambda u, c: (scope := permissions.followup_scope(u)) is None or scope(c),
    ),
    "audit entries": (
        AuditEntry,
        permissions.scope_audit_entries,
        lambda u, _e: permissions.can_view_audit_trail(u),
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_sql_scope_selects_what_the_predicate_allows(world: Session, kind: str) -> None:
    model, clause, predicate = KINDS[kind]
    rows = list(world.scalars(select(model)))
    assert rows, f"no {kind} generated"
    seen_some = seen_none = seen_part = False
    for viewer in _everyone(world):
        by_sql = set(world.scalars(select(model.id).where(clause(viewer))))
        by_python = {row.id for row in rows if predicate(viewer, row)}
        name = getattr(viewer, "username", "anonymous")
        assert by_sql == by_python, (
            f"{kind} for {name}: only SQL {sorted(by_sql - by_python)[:10]}, "
            f"only Python {sorted(by_python - by_sql)[:10]}"
        )
        seen_some |= bool(by_sql)
        seen_none |= not by_sql
        seen_part |= 0 < len(by_sql) < len(rows)
    # The data must tell the rules apart: someone sees all or some, someone nothing.
    assert seen_some and seen_none
    if kind != "audit entries":
        assert seen_part, f"no user sees only part of the {kind}"


def test_unit_members_see_the_units_below_theirs(world: Session) -> None:
    """The hierarchy in the SQL scope: a member of A sees A1's controls, A1's member not A's."""
    member_a = world.scalar(select(User).where(User.username == "member_a"))
    member_a1 = world.scalar(select(User).where(User.username == "member_a1"))
    assert member_a is not None and member_a1 is not None
    seen_by_a = set(world.scalars(select(Control.id).where(permissions.scope_controls(member_a))))
    seen_by_a1 = set(
        world.scalars(select(Control.id).where(permissions.scope_controls(member_a1)))
    )
    assert seen_by_a1 and seen_by_a1 < seen_by_a
