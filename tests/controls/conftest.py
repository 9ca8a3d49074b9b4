from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Unit, User
from riskreg.controls.services import create_control
from riskreg.extensions import db
from riskreg.risks.models import Risk
from tests.conftest import load_demo_data

NOW = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)


@pytest.fixture()
def demo(app: Flask) -> dict[str, str]:
    """The demo up to the controls step: every control still as the controls demo leaves it."""
    return load_demo_data(app, ("riskreg.controls.demo",))


@pytest.fixture()
def world(app: Flask, demo: dict[str, str]):  # type: ignore[no-untyped-def]
    """A new payments control on the demo plan, planned by admin for ``granskare``; the
    services tests and the guards tests start from it (test_services_ui.py has its own)."""
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        units = {u.code: u for u in db.session.scalars(select(Unit))}
        risk = db.session.scalar(select(Risk).where(Risk.title.contains("privata vårdgivare")))
        control = create_control(
            db.session,
            risk,
            title="Utbetalningar jan–maj 2025",
            check_type="payments",
            responsible_unit=units["CE"],
            controllers=[users["granskare"]],
            deviation_definition="Belopp som inte följer avtalets prislista.",
            actor=users["admin"],
            now=NOW,
        )
        db.session.commit()
        yield users, units, control
