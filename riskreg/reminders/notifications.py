"""In-app notifications: written when a control changes or a digest is sent, read in the UI."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from riskreg.auth.models import User
from riskreg.reminders.claims import _rowcount
from riskreg.reminders.models import (
    Notification,
)
from riskreg.reminders.paths import TITLE_MAX, action_path, control_path, short_title

# --- notifications ----------------------------------------------------------------------------


def notify_control_event(
    session: Session,
    control: Any,
    recipients: Iterable[User],
    *,
    reason: str,
    title: str,
    now: dt.datetime,
) -> list[Notification]:
    """An in-app notification about ``control`` for each recipient (once per user).

    Used for workflow events the other party must hear of at once (e.g. ``reason`` "reopened"
    when an approved review is opened again), beside the scheduled reminders.
    """
    run_id = f"{reason}-{uuid.uuid4().hex[:20]}"
    created: list[Notification] = []
    seen: set[int] = set()
    for user in recipients:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        notification = Notification(
            user_id=user.id,
            created_at=now,
            run_id=run_id,
            item_kind="control",
            item_id=control.id,
            title=short_title(title, TITLE_MAX * 2),
            unit_code=control.responsible_unit.code if control.responsible_unit else "",
            reason=reason,
            due_date=control.deadline,
            url_path=control_path(control.id),
        )
        session.add(notification)
        created.append(notification)
    session.flush()
    return created


def notify_action_assigned(
    session: Session, action: Any, *, actor: User | None, now: dt.datetime
) -> list[Notification]:
    """Tell the owner unit's active members in the app that an action was raised for their
    unit (the e-mail goes with the next reminder run: riskreg.reminders.decide, "assigned").
    The one who raised it is not told of their own act."""
    unit = action.owner_unit
    run_id = f"assigned-{uuid.uuid4().hex[:20]}"
    created: list[Notification] = []
    for user in sorted(unit.members, key=lambda u: u.id):
        if not user.active or (actor is not None and user.id == actor.id):
            continue
        notification = Notification(
            user_id=user.id,
            created_at=now,
            run_id=run_id,
            item_kind="action",
            item_id=action.id,
            title=short_title(action.description, TITLE_MAX * 2),
            unit_code=unit.code[:40],
            reason="assigned",
            due_date=action.due_date,
            url_path=action_path(action.id),
        )
        session.add(notification)
        created.append(notification)
    session.flush()
    return created


def notifications_for(
    session: Session, user: User, *, unread_only: bool = False, limit: int = 200
) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(
        session.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
        )
    )


def unread_count(session: Session, user: User) -> int:
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(session: Session, user: User, ids: Iterable[int] | None, *, now: dt.datetime) -> int:
    """Mark the user's own notifications ``ids`` (None: all of them) as read. Others' ids are
    ignored, so a forged id reveals and changes nothing."""
    stmt = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        stmt = stmt.where(Notification.id.in_(wanted))
    result = session.execute(stmt.values(read_at=now))
    session.flush()
    return _rowcount(result)
