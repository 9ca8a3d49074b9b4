"""“Mitt arbete” (the open items on the user's desk) and the dashboard's counts per unit.

Moved from riskreg.reminders.services: the reminders only send what is due; what a user sees
on their desk belongs to the dashboard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from riskreg.auth.models import Unit, User
from riskreg.controls.models import (
    ACTION_STATUS_TITLES,
    CONTROL_STATUS_TITLES,
    Action,
    ActionStatus,
    Control,
    ControlStatus,
)
from riskreg.reminders.paths import action_path, control_path, short_title

DUE_SOON_DAYS = 14


@dataclass(frozen=True)
class WorkItem:
    kind: str  # "control" | "action"
    item_id: int
    title: str
    unit_code: str
    due_date: dt.date
    status: str
    status_title: str
    done: bool
    url_path: str
    days_left: int

    @property
    def overdue(self) -> bool:
        return not self.done and self.days_left < 0

    @property
    def due_soon(self) -> bool:
        return not self.done and 0 <= self.days_left <= DUE_SOON_DAYS


def my_work(
    session: Session, user: User, *, today: dt.date, include_done: bool = False
) -> list[WorkItem]:
    """What the user and their units own, sorted by due date (earliest, i.e. most late, first).

    Controls the user is assigned to as controller or whose responsible unit is in the user's
    scope (their units and the units below them); actions whose owner unit is in scope.
    """
    scope = user.scoped_unit_ids()
    work: list[WorkItem] = []
    control_filter: Any = Control.controllers.any(User.id == user.id)
    if scope:
        control_filter = or_(control_filter, Control.responsible_unit_id.in_(scope))
    controls = (
        select(Control.id, Control.title, Unit.code, Control.deadline, Control.status)
        .join(Unit, Unit.id == Control.responsible_unit_id)
        .where(control_filter)
    )
    if not include_done:
        controls = controls.where(Control.status != ControlStatus.APPROVED.value)
    for cid, title, code, deadline, status in session.execute(controls):
        done = status == ControlStatus.APPROVED.value
        work.append(
            WorkItem(
                "control",
                cid,
                short_title(title),
                code,
                deadline,
                status,
                CONTROL_STATUS_TITLES.get(ControlStatus(status), status),
                done,
                control_path(cid),
                (deadline - today).days,
            )
        )
    if scope:
        actions = (
            select(Action.id, Action.description, Unit.code, Action.due_date, Action.status)
            .join(Unit, Unit.id == Action.owner_unit_id)
            .where(Action.owner_unit_id.in_(scope))
        )
        if not include_done:
            actions = actions.where(Action.status != ActionStatus.VERIFIED.value)
        for aid, description, code, due, status in session.execute(actions):
            done = status == ActionStatus.VERIFIED.value
            work.append(
                WorkItem(
                    "action",
                    aid,
                    short_title(description),
                    code,
                    due,
                    status,
                    ACTION_STATUS_TITLES.get(ActionStatus(status), status),
                    done,
                    action_path(aid),
                    (due - today).days,
                )
            )
    work.sort(key=lambda w: (w.done, w.due_date, w.kind, w.item_id))
    return work


@dataclass(frozen=True)
class UnitCounts:
    unit_id: int
    code: str
    name: str
    due_soon: int
    overdue: int
    done: int


def unit_status_counts(
    session: Session, unit_ids: set[int] | None, *, today: dt.date
) -> list[UnitCounts]:
    """Per responsible/owner unit: open items due within 14 days, overdue items, done items.

    ``unit_ids`` None means every unit (for users who read the whole register).
    """
    soon_limit = today + dt.timedelta(days=DUE_SOON_DAYS)
    totals: dict[int, list[int]] = {}

    def add(unit_col: Any, due_col: Any, status_col: Any, done_value: str, model: Any) -> None:
        done = status_col == done_value
        query = (
            select(
                unit_col,
                func.sum(case((and_(~done, due_col >= today, due_col <= soon_limit), 1), else_=0)),
                func.sum(case((and_(~done, due_col < today), 1), else_=0)),
                func.sum(case((done, 1), else_=0)),
            )
            .select_from(model)
            .group_by(unit_col)
        )
        if unit_ids is not None:
            query = query.where(unit_col.in_(sorted(unit_ids)))
        for unit_id, soon, late, finished in session.execute(query):
            row = totals.setdefault(unit_id, [0, 0, 0])
            row[0] += int(soon or 0)
            row[1] += int(late or 0)
            row[2] += int(finished or 0)

    add(
        Control.responsible_unit_id,
        Control.deadline,
        Control.status,
        ControlStatus.APPROVED.value,
        Control,
    )
    add(Action.owner_unit_id, Action.due_date, Action.status, ActionStatus.VERIFIED.value, Action)
    if not totals:
        return []
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(totals)))}
    return sorted(
        (
            UnitCounts(uid, units[uid].code, units[uid].name, *counts)
            for uid, counts in totals.items()
            if uid in units
        ),
        key=lambda c: (-c.overdue, -c.due_soon, c.code),
    )
