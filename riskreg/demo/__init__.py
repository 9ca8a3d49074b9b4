"""Demo data: the real 2025 plan of Region Västmanland's Hälso- och sjukvårdsförvaltning,
its units and one user of every role. Safe to load twice."""

from __future__ import annotations

import importlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.auth.models import Role, Unit, User
from riskreg.auth.services import create_unit, create_user, password_problems
from riskreg.plans.file_import import import_plan_file
from riskreg.plans.models import Organisation, Plan
from riskreg.plans.services import adopt_plan

PLAN_FILE = Path(__file__).with_name("internkontrollplan-2025.csv")
ORGANISATION = "Region Västmanland – Hälso- och sjukvårdsförvaltningen"
PLAN_YEAR = 2025

UNITS = (
    # code, name, parent, functional mailbox
    ("HSF", "Hälso- och sjukvårdsförvaltningen", None, "hsf@example.org"),
    ("CE", "Centrum för ekonomi", "HSF", "ce@example.org"),
    ("CHR", "Centrum för HR", "HSF", "chr@example.org"),
    ("Staben", "Förvaltningsstaben", "HSF", "staben@example.org"),
    ("Smittskydd", "Smittskydd och vårdhygien", "HSF", "smittskydd@example.org"),
    ("POU staben", "Planering och uppföljning, staben", "HSF", "pou@example.org"),
)

USERS = (
    # username, full name, role, units
    ("admin", "Ingrid Samordnare", Role.ADMIN, ("HSF",)),
    ("granskare", "Karin Åström", Role.CONTROLLER, ("CE",)),
    ("granskare2", "Östen Lindqvist", Role.CONTROLLER, ("Staben",)),
    ("ce", "Erik Ekonom", Role.UNIT_MEMBER, ("CE",)),
    ("staben", "Sara Stab", Role.UNIT_MEMBER, ("Staben",)),
    ("smittskydd", "Maria Hygien", Role.UNIT_MEMBER, ("Smittskydd",)),
    ("chef", "Göran Förvaltningschef", Role.APPROVER, ("HSF",)),
    ("revisor", "Rebecka Revisor", Role.AUDITOR, ()),
)


@dataclass(frozen=True)
class DemoResult:
    created: bool
    passwords: dict[str, str]


def demo_password(username: str) -> str:
    while True:
        password = secrets.token_urlsafe(12)
        if not password_problems(password, username=username):
            return password


def load_demo(
    session: Session, *, now: datetime, feature_demos: tuple[str, ...] | None = None
) -> DemoResult:
    """Create the demo organisation once; a second call changes nothing and reports that."""
    if session.scalar(select(Organisation).where(Organisation.name == ORGANISATION)):
        return DemoResult(created=False, passwords={})
    units: dict[str, Unit] = {u.code: u for u in session.scalars(select(Unit))}
    for code, name, parent, email in UNITS:
        if code not in units:
            units[code] = create_unit(
                session, code=code, name=name, parent=units.get(parent or ""), email=email
            )
    passwords: dict[str, str] = {}
    users: dict[str, User] = {}
    for username, full_name, role, unit_codes in USERS:
        existing = session.scalar(select(User).where(User.username == username))
        if existing:
            users[username] = existing
            continue
        password = demo_password(username)
        users[username] = create_user(
            session,
            username=username,
            email=f"{username}@example.org",
            full_name=full_name,
            password=password,
            role=role,
            units=[units[c] for c in unit_codes],
        )
        passwords[username] = password
    units["HSF"].manager = users["chef"]
    units["CE"].manager = users["ce"]
    with PLAN_FILE.open("rb") as stream:
        plan = import_plan_file(
            session,
            stream,
            PLAN_FILE.name,
            organisation=ORGANISATION,
            year=PLAN_YEAR,
            create_units=False,
            replace=False,
            actor=users["admin"],
            now=now,
        )
    adopt_demo_plan(session, plan, users["admin"], now)
    for step in FEATURE_DEMOS if feature_demos is None else feature_demos:
        module = _optional_module(step)
        if module is not None:
            module.load(session, now=now, users=users, units=units, plan=plan)
    return DemoResult(created=True, passwords=passwords)


# Each feature that has demo data provides riskreg/<feature>/demo.py with
# load(session, *, now, users, units, plan); they run in this order.
FEATURE_DEMOS = (
    "riskreg.controls.demo",
    "riskreg.sampling.demo",
    "riskreg.reminders.demo",
    "riskreg.reports.demo",
)


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def adopt_demo_plan(session: Session, plan: Plan, admin: User, now: datetime) -> None:
    adopt_plan(
        session,
        plan,
        actor=admin,
        now=now,
        decision_date=min(date(2024, 11, 27), now.date()),
        decision_body="Hälso- och sjukvårdsnämnden",
        decision_paragraph="§ 1 (demo)",
        diary_number="DEMO-2024-0001",
    )
