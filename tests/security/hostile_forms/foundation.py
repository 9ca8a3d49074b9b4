"""The foundation's forms, for the hostile-input properties (tests/security/hostile.py)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Unit, User
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk
from tests.security.hostile import FormValue, HostileForm

# Accepted hostile edits rename things, so objects are found by creation order (the demo's),
# never by a name a form can change. New objects from the "new" forms come after these.
DEMO_UNITS = ("HSF", "CE", "CHR", "Staben", "Smittskydd", "POU staben")
DEMO_USERS = ("admin", "granskare", "granskare2", "ce", "staben", "smittskydd", "chef", "revisor")


def _demo_plan(app: Flask) -> Plan:
    plan = db.session.scalar(select(Plan).order_by(Plan.id).limit(1))
    assert plan is not None
    return plan


def _unit(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).order_by(Unit.id).offset(DEMO_UNITS.index(code)))
    assert unit is not None
    return unit


def _risk(app: Flask) -> Risk:
    """The demo plan's first risk (the "Att ta bort" risk and new ones come later)."""
    risk = db.session.scalar(
        select(Risk).where(Risk.plan_id == _demo_plan(app).id).order_by(Risk.id).limit(1)
    )
    assert risk is not None
    return risk


def _risk_values(risk: Risk) -> dict[str, FormValue]:
    return {
        "section": risk.section,
        "title": risk.title,
        "review_area": risk.review_area,
        "regulation": risk.regulation,
        "method": risk.method,
        "probability": str(risk.probability),
        "consequence": str(risk.consequence),
        "deadline": risk.deadline.isoformat() if risk.deadline else "",
        "responsible_unit_id": str(risk.responsible_unit_id),
        "reason": "Förtydligande",
        "version": str(risk.version),
    }


RISK_FIELDS = (
    "section", "title", "review_area", "regulation", "method", "probability", "consequence",
    "deadline", "responsible_unit_id", "reason",
)


def risk_new_url(app: Flask) -> str:
    with app.app_context():
        return f"/risks/new?plan={_demo_plan(app).id}"


def risk_new_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {
            "section": "administration",
            "title": "Ny risk",
            "review_area": "Område",
            "regulation": "Regel",
            "method": "Stickprov",
            "probability": "2",
            "consequence": "3",
            "deadline": "2025-10-31",
            "responsible_unit_id": str(_unit("CE").id),
            "reason": "Tillagd under året",
        }


def risk_edit_url(app: Flask) -> str:
    with app.app_context():
        return f"/risks/{_risk(app).id}/edit"


def risk_edit_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return _risk_values(_risk(app))


def risk_delete_url(app: Flask) -> str:
    """A risk made for the purpose, so an accepted deletion costs the other forms nothing."""
    from riskreg.db import now_utc
    from riskreg.plans.services import RiskData, create_risk

    with app.app_context():
        existing = db.session.scalar(select(Risk).where(Risk.title == "Att ta bort"))
        if existing is None:
            existing = create_risk(
                db.session,
                _demo_plan(app),
                RiskData("region", "Att ta bort", "", "", "", 1, 1, None, _unit("CE").id),
                actor=None,
                now=now_utc(),
                reason="Testrisk",
            )
            db.session.commit()
        return f"/risks/{existing.id}/delete"


def unit_edit_url(app: Flask) -> str:
    with app.app_context():
        return f"/admin/units/{_unit('Staben').id}/edit"


def unit_edit_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        unit = _unit("Staben")
        return {
            "code": unit.code,
            "name": unit.name,
            "parent_id": str(unit.parent_id or 0),
            "email": unit.email or "",
            "manager_id": str(unit.manager_id or 0),
            "version": str(unit.version),
        }


def _user(username: str) -> User:
    user = db.session.scalar(select(User).order_by(User.id).offset(DEMO_USERS.index(username)))
    assert user is not None
    return user


def user_edit_url(app: Flask) -> str:
    with app.app_context():
        return f"/admin/users/{_user('staben').id}/edit"


def user_edit_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        user = _user("staben")
        return {
            "username": user.username,
            "full_name": user.full_name,
            "email": user.email,
            "role": user.role,
            "unit_ids": [str(u.id) for u in user.units],
            "locale": user.locale,
            "active": "y",
            "password": "",
            "version": str(user.version),
        }


def draft_plan_url(app: Flask) -> str:
    """A draft plan to adopt (the demo plan is adopted already)."""
    from riskreg.plans.services import get_or_create_organisation, get_or_create_plan

    with app.app_context():
        organisation = get_or_create_organisation(db.session, "Utkastförvaltningen")
        plan = get_or_create_plan(db.session, organisation, 2030)
        db.session.commit()
        return f"/plans/{plan.id}/adopt"


def matrix_values(app: Flask) -> dict[str, FormValue]:
    from riskreg.risks.matrix import load_matrix, matrix_version
    from riskreg.risks.models import MATRIX_SIZE

    with app.app_context():
        matrix = load_matrix(db.session)
    values: dict[str, FormValue] = {"version": matrix_version(matrix)}
    for i, level in enumerate(matrix.levels):
        values[f"levels-{i}-name"] = level.name
        values[f"levels-{i}-colour"] = level.colour
        values[f"levels-{i}-min_value"] = str(level.min_value)
        values[f"levels-{i}-max_value"] = str(level.max_value)
    for i in range(MATRIX_SIZE):
        values[f"probability_labels-{i}-label"] = matrix.probability_labels[i + 1]
        values[f"consequence_labels-{i}-label"] = matrix.consequence_labels[i + 1]
    for p in range(1, MATRIX_SIZE + 1):
        for k in range(1, MATRIX_SIZE + 1):
            position, colour = matrix.cells[(p, k)]
            index = (p - 1) * MATRIX_SIZE + (k - 1)
            values[f"cells-{index}-level"] = str(position)
            values[f"cells-{index}-colour"] = colour
    return values


FORMS = [
    HostileForm(
        name="login",
        url=lambda app: "/login",
        valid=lambda app: {"username": "admin", "password": "fel-lösenord-123", "next": "/"},
        attack=("username", "password", "next"),
        login="",
    ),
    HostileForm(
        name="language",
        url=lambda app: "/language",
        valid=lambda app: {"locale": "en", "next": "/risks/"},
        attack=("locale", "next"),
        # A choice that is not a language is ignored: back to the page, nothing changed.
        quiet_refusal=frozenset({302}),
    ),
    HostileForm(
        name="change password",
        url=lambda app: "/account/password",
        valid=lambda app: {
            "current_password": "fel-lösenord-123",
            "new_password": "ett-helt-nytt-lösenord-9",
            "confirm": "ett-helt-nytt-lösenord-9",
        },
        attack=("current_password", "new_password", "confirm"),
    ),
    HostileForm(
        name="risk new", url=risk_new_url, valid=risk_new_values, attack=RISK_FIELDS
    ),
    HostileForm(
        name="risk edit",
        url=risk_edit_url,
        valid=risk_edit_values,
        attack=(*RISK_FIELDS, "version"),
    ),
    HostileForm(
        name="risk delete",
        url=risk_delete_url,
        valid=lambda app: {"reason": "Dubblett"},
        attack=("reason",),
        # risks.delete answers a bad form by going back to the risk with a flashed error.
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="unit new",
        url=lambda app: "/admin/units/new",
        valid=lambda app: {
            "code": "NY", "name": "Ny enhet", "parent_id": "0", "email": "", "manager_id": "0",
        },
        attack=("code", "name", "parent_id", "email", "manager_id"),
    ),
    HostileForm(
        name="unit edit",
        url=unit_edit_url,
        valid=unit_edit_values,
        attack=("code", "name", "parent_id", "email", "manager_id", "version"),
    ),
    HostileForm(
        name="user new",
        url=lambda app: "/admin/users/new",
        valid=lambda app: {
            "username": "ny.anvandare",
            "full_name": "Ny Användare",
            "email": "ny.anvandare@example.org",
            "role": "auditor",
            "locale": "sv",
            "active": "y",
            "password": "ett-helt-nytt-lösenord-9",
        },
        attack=("username", "full_name", "email", "role", "unit_ids", "locale", "password"),
    ),
    HostileForm(
        name="user edit",
        url=user_edit_url,
        valid=user_edit_values,
        attack=("full_name", "email", "role", "unit_ids", "locale", "password", "version"),
    ),
    HostileForm(
        name="plan new",
        url=lambda app: "/plans/new",
        valid=lambda app: {"organisation": "Ny förvaltning", "year": "2031"},
        attack=("organisation", "year"),
    ),
    HostileForm(
        name="plan adopt",
        url=draft_plan_url,
        valid=lambda app: {
            "decision_date": "2030-01-15",
            "decision_body": "Hälso- och sjukvårdsnämnden",
            "decision_paragraph": "§ 12",
            "diary_number": "HSN 2030/12",
        },
        attack=("decision_date", "decision_body", "decision_paragraph", "diary_number"),
    ),
    HostileForm(
        name="risk matrix",
        url=lambda app: "/admin/matrix",
        valid=matrix_values,
        attack=(
            "levels-0-name", "levels-0-colour", "levels-0-min_value", "levels-2-max_value",
            "probability_labels-0-label", "consequence_labels-3-label", "cells-0-level",
            "cells-5-colour", "cells-15-level", "version",
        ),
    ),
]
