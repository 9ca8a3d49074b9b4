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

from riskreg import permissions
from riskreg.auth.models import Role, Unit, User
from riskreg.controls.models import (
    ACTION_STATUS_TITLES,
    CONTROL_STATUS_TITLES,
    Action,
    ActionStatus,
    Control,
    ControlStatus,
)
from riskreg.i18n import N_
from riskreg.plans.models import Plan, PlanStatus
from riskreg.reminders.paths import action_path, control_path, short_title
from riskreg.reports.models import Report, ReportKind, ReportState

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


# --- the task list: what waits for this user, in the order they should take it ---------------

#: Task groups in the order "Mitt arbete" shows them: approving first (an approver's desk
#: starts with what waits for their approval), then signing, co-signing, verifying, answering.
TASK_GROUPS: dict[str, str] = {
    "approve": N_("Att godkänna"),
    "sign": N_("Att signera"),
    "cosign": N_("Att medsignera"),
    "verify": N_("Att verifiera"),
    "answer": N_("Att besvara"),
}

#: Why each task is on the user's desk (shown under its title).
TASK_REASONS: dict[str, str] = {
    "approve": N_("Granskningen är klar för granskning och väntar på ditt godkännande."),
    "sign": N_("Granskningen är godkänd och väntar på din signatur som granskare."),
    "cosign": N_("Rapporten är signerad och väntar på din medsignatur."),
    "cosign_followup": N_(
        "Uppföljningen är signerad av samordnaren och väntar på din medsignatur."
    ),
    "verify": N_("Ansvarig enhet har besvarat åtgärden; verifiera att den är genomförd."),
    "answer": N_("Åtgärden är din enhets; beskriv vad som är gjort."),
}


@dataclass(frozen=True)
class Task:
    group: str  # a key of TASK_GROUPS
    reason: str  # a key of TASK_REASONS
    title: str
    url_path: str
    unit_code: str
    due_date: dt.date | None
    days_left: int | None

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


def _days(due: dt.date | None, today: dt.date) -> int | None:
    return None if due is None else (due - today).days


def my_tasks(session: Session, user: User, *, today: dt.date) -> list[Task]:
    """What waits for ``user`` to act, grouped in TASK_GROUPS order, each group by due date.

    SQL narrows each group to the rows the permission predicates can accept (status, role,
    assignment, unit scope); the predicate in riskreg.permissions then decides each row, so
    this list never offers a task the page behind its link would refuse.
    """
    scope = sorted(user.scoped_unit_ids())
    tasks: list[Task] = []
    assigned = Control.controllers.any(User.id == user.id)

    def control_task(group: str, control: Control, reason: str | None = None) -> Task:
        return Task(
            group,
            reason or group,
            short_title(control.title),
            control_path(control.id),
            control.responsible_unit.code,
            control.deadline,
            _days(control.deadline, today),
        )

    # Att godkänna: ready for review, of the approver's units, not their own work.
    if user.role == Role.APPROVER and scope:
        for control in session.scalars(
            select(Control).where(
                Control.status == ControlStatus.READY_FOR_REVIEW.value,
                Control.responsible_unit_id.in_(scope),
                ~assigned,
            )
        ):
            if permissions.can_approve_control(user, control):
                tasks.append(control_task("approve", control))

    # Att signera: approved controls of this controller without a report for the approval.
    if user.role == Role.CONTROLLER:
        reported = (
            select(Report.id)
            .where(
                Report.control_id == Control.id,
                Report.subject_approved_at == Control.approved_at,
            )
            .exists()
        )
        for control in session.scalars(
            select(Control).where(
                Control.status == ControlStatus.APPROVED.value, assigned, ~reported
            )
        ):
            if permissions.can_sign_review(user, control):
                tasks.append(control_task("sign", control))

    # Att medsignera: certified reports naming this user as co-signer.
    for report in session.scalars(
        select(Report)
        .where(Report.state == ReportState.CERTIFIED.value, Report.cosigner_id == user.id)
        .order_by(Report.certified_at)
    ):
        if report.kind == ReportKind.REVIEW and report.control is not None:
            control = report.control
            still_current = (
                control.status == ControlStatus.APPROVED
                and control.approved_at == report.subject_approved_at
            )
            if still_current and permissions.can_cosign_review(user, control):
                tasks.append(control_task("cosign", control))
        elif (
            report.kind == ReportKind.FOLLOWUP
            and report.plan is not None
            and permissions.can_cosign_followup(user)
        ):
            tasks.append(
                Task(
                    "cosign",
                    "cosign_followup",
                    f"{report.plan.organisation.name} {report.plan.year}",
                    f"/reports/plans/{report.plan.id}/followup",
                    "",
                    None,
                    None,
                )
            )

    def action_task(group: str, action: Action) -> Task:
        return Task(
            group,
            group,
            short_title(action.description),
            action_path(action.id),
            action.owner_unit.code,
            action.due_date,
            _days(action.due_date, today),
        )

    # Att verifiera: answered actions of the controls this user is assigned to.
    for action in session.scalars(
        select(Action)
        .join(Control, Control.id == Action.control_id)
        .where(Action.status == ActionStatus.ANSWERED.value, assigned)
    ):
        if permissions.can_verify_action(user, action):
            tasks.append(action_task("verify", action))

    # Att besvara: open actions owned by the user's units.
    if scope:
        for action in session.scalars(
            select(Action).where(
                Action.status == ActionStatus.OPEN.value, Action.owner_unit_id.in_(scope)
            )
        ):
            if permissions.can_answer_action(user, action):
                tasks.append(action_task("answer", action))

    order = {group: n for n, group in enumerate(TASK_GROUPS)}
    tasks.sort(
        key=lambda t: (order[t.group], t.due_date is None, t.due_date or today, t.title)
    )
    return tasks


def task_count(session: Session, user: User, *, today: dt.date) -> int:
    """How many tasks wait for the user (the menu badge)."""
    return len(my_tasks(session, user, today=today))


# --- the dashboard's plan -----------------------------------------------------------------------


def plan_years(session: Session) -> list[int]:
    """Every year that has a plan, newest first (the dashboard's year selector)."""
    return list(session.scalars(select(Plan.year).distinct().order_by(Plan.year.desc())))


def dashboard_plan(session: Session, *, year: int | None, today: dt.date) -> Plan | None:
    """The plan the overview shows: of ``year`` (or the current one), the adopted plan first.

    A draft for next year must not replace everyone's overview of the plan in force (issue
    14): without a chosen year the overview shows this year's adopted plan, else the newest
    adopted plan of an earlier year, and only when nothing is adopted the newest plan at all.
    Within a year an adopted plan comes before a draft.
    """
    adopted_first = case((Plan.status == PlanStatus.ADOPTED.value, 0), else_=1)
    if year is not None:
        return session.scalar(
            select(Plan).where(Plan.year == year).order_by(adopted_first, Plan.id.desc()).limit(1)
        )
    adopted = session.scalar(
        select(Plan)
        .where(Plan.status == PlanStatus.ADOPTED.value, Plan.year <= today.year)
        .order_by(Plan.year.desc(), Plan.id.desc())
        .limit(1)
    )
    if adopted is not None:
        return adopted
    return session.scalar(
        select(Plan).order_by(adopted_first, Plan.year.desc(), Plan.id.desc()).limit(1)
    )
