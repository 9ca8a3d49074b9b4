"""What is open (controls and actions with a due date) and who gets reminded about it."""

from __future__ import annotations

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session, selectinload

from riskreg.auth.models import Unit
from riskreg.controls.models import (
    Action,
    ActionStatus,
    Control,
    ControlStatus,
)
from riskreg.db import local_date
from riskreg.reminders.decide import (
    Recipient,
    ReminderItem,
)
from riskreg.reminders.paths import action_path, control_path, short_title

# --- what is open -----------------------------------------------------------------------------


def open_items(session: Session) -> list[ReminderItem]:
    """Controls that are not approved and actions that are not verified, with owner units."""
    items: list[ReminderItem] = []
    controls = session.execute(
        select(Control.id, Control.title, Control.responsible_unit_id, Unit.code, Control.deadline)
        .join(Unit, Unit.id == Control.responsible_unit_id)
        .where(Control.status != ControlStatus.APPROVED.value)
    )
    for cid, title, unit_id, code, deadline in controls:
        items.append(
            ReminderItem(
                "control",
                cid,
                short_title(title),
                unit_id,
                code,
                deadline,
                False,
                control_path(cid),
            )
        )
    actions = session.execute(
        select(
            Action.id,
            Action.description,
            Action.owner_unit_id,
            Unit.code,
            Action.due_date,
            Action.created_at,
        )
        .join(Unit, Unit.id == Action.owner_unit_id)
        # Only open actions: once the unit has answered, the next step is the controller's,
        # and reminding the unit about work it reported done would teach it to ignore mail.
        .where(Action.status == ActionStatus.OPEN.value)
    )
    for aid, description, unit_id, code, due, created in actions:
        items.append(
            ReminderItem(
                "action",
                aid,
                short_title(description),
                unit_id,
                code,
                due,
                False,
                action_path(aid),
                assigned_on=local_date(created) if created is not None else None,
            )
        )
    return items


class RecipientDirectory:
    """Who gets the reminders of a unit, loaded once per run.

    * Unit reminders: the unit's functional mailbox (Swedish) and its active members (users who
      have the unit among their units; each in the language they chose).
    * Escalations: the unit's manager; if the unit has no (active) manager, the manager of the
      nearest unit above it. A unit without any manager up the tree gets no escalations.

    Addresses that are not usable e-mail addresses are skipped and listed in ``problems``.
    """

    def __init__(self, session: Session) -> None:
        self.problems: list[str] = []
        units = session.scalars(
            select(Unit).options(selectinload(Unit.members), selectinload(Unit.manager))
        ).all()
        self._units: dict[int, Unit] = {u.id: u for u in units}
        self._recipients: dict[int, list[Recipient]] = {}
        self._managers: dict[int, Recipient | None] = {}

    def _recipient(
        self, address: str | None, name: str, locale: str, user_id: int | None, unit_id: int
    ) -> Recipient | None:
        if not address:
            return None
        try:
            return Recipient(address.strip(), name, locale, user_id, unit_id)
        except ValueError:
            self.problems.append(f"ogiltig e-postadress hoppas över: {address!r}")
            return None

    def recipients_for_unit(self, unit_id: int) -> list[Recipient]:
        if unit_id not in self._recipients:
            unit = self._units.get(unit_id)
            found: list[Recipient] = []
            if unit is not None:
                mailbox = self._recipient(unit.email, unit.name, "sv", None, unit.id)
                if mailbox is not None:
                    found.append(mailbox)
                for member in unit.members:
                    if member.active:
                        r = self._recipient(
                            member.email, member.full_name, member.locale, member.id, unit.id
                        )
                        if r is not None:
                            found.append(r)
            self._recipients[unit_id] = found
        return self._recipients[unit_id]

    def manager_for_unit(self, unit_id: int) -> Recipient | None:
        if unit_id not in self._managers:
            found: Recipient | None = None
            unit = self._units.get(unit_id)
            seen: set[int] = set()
            while unit is not None and unit.id not in seen:
                seen.add(unit.id)
                boss = unit.manager
                if boss is not None and boss.active:
                    found = self._recipient(
                        boss.email, boss.full_name, boss.locale, boss.id, unit_id
                    )
                    if found is not None:
                        break
                unit = self._units.get(unit.parent_id) if unit.parent_id else None
            self._managers[unit_id] = found
        return self._managers[unit_id]
