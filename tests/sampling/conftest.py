"""A small world for the sample-check tests: units, one user per role, a plan with one risk
per check type and a planned control of each type (without the demo's data)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from riskreg.auth.models import Role, User
from riskreg.auth.services import create_unit, create_user
from riskreg.controls.models import CheckType, Control, ControlStatus
from riskreg.controls.services import change_status, create_control
from riskreg.extensions import db
from riskreg.plans.models import Organisation, Plan, Risk
from tests.conftest import TEST_PASSWORD

NOW = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)


@dataclass
class World:
    controls: dict[str, int]
    users: dict[str, int]
    units: dict[str, int]

    def control(self, check_type: str) -> Control:
        control = db.session.get(Control, self.controls[check_type])
        assert control is not None
        return control

    def user(self, username: str) -> User:
        user = db.session.get(User, self.users[username])
        assert user is not None
        return user


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with app.app_context():
        hsf = create_unit(db.session, code="HSF", name="Hälso- och sjukvårdsförvaltningen")
        units = {"HSF": hsf}
        for code in ("CE", "Staben", "Smittskydd"):
            units[code] = create_unit(db.session, code=code, name=code, parent=hsf)
        users = {}
        for username, role, unit in (
            ("admin", Role.ADMIN, "HSF"),
            ("granskare", Role.CONTROLLER, "CE"),
            ("granskare2", Role.CONTROLLER, "Staben"),
            ("smittskydd", Role.UNIT_MEMBER, "Smittskydd"),
            ("ce", Role.UNIT_MEMBER, "CE"),
            ("chef", Role.APPROVER, "HSF"),
            ("revisor", Role.AUDITOR, None),
        ):
            users[username] = create_user(
                db.session,
                username=username,
                email=f"{username}@example.org",
                full_name=username.title(),
                password=TEST_PASSWORD,
                role=role,
                units=[units[unit]] if unit else [],
            )
        org = Organisation(name="Region Test")
        plan = Plan(organisation=org, year=2025)
        db.session.add(plan)
        controls = {}
        for position, (check_type, unit) in enumerate(
            (("payments", "CE"), ("passcards", "CE"), ("hygiene", "CE"), ("referrals", "CE"),
             ("generic", "CE"))
        ):
            risk = Risk(
                plan=plan,
                position=position,
                section="region",
                title=f"Risk {check_type}",
                probability=3,
                consequence=4,
                deadline=date(2025, 8, 15),
                responsible_unit=units[unit],
            )
            db.session.add(risk)
            db.session.flush()
            control = create_control(
                db.session,
                risk,
                title=f"Granskning {check_type}",
                check_type=CheckType(check_type),
                responsible_unit=units[unit],
                controllers=[users["granskare"]],
                deviation_definition="Det som inte följer rutinen.",
                attributes_text="Beslut finns\nAttesterat" if check_type == "generic" else "",
                actor=users["admin"],
                now=NOW,
            )
            # Started: the deviation definition is locked before any population or draw.
            change_status(
                db.session, control, ControlStatus.IN_PROGRESS, actor=users["granskare"], now=NOW
            )
            controls[check_type] = control.id
        db.session.commit()
        made = World(
            controls,
            {name: user.id for name, user in users.items()},
            {code: unit.id for code, unit in units.items()},
        )
    # No app context stays pushed: requests of the test client must get their own (and so
    # their own flask.g, where Flask-Login keeps the signed-in user).
    yield made


def csv_bytes(
    header: list[str], rows: list[list[str]], *, delimiter: str = ";", encoding: str = "cp1252"
) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode(encoding)


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


Counter = Callable[[type], int]
