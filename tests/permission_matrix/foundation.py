"""Foundation routes: accounts, plans, risks, heat map, administration."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Unit, User
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk
from tests.permission_matrix.roles import ADMIN, ALL, PUBLIC, READ_ALL, Ids, Matrix

EXPECTED: Matrix = {
    "static": ("GET", lambda i: "/static/css/riskreg.css", PUBLIC),
    "auth.login": ("GET", lambda i: "/login", PUBLIC),
    "auth.logout": ("POST", lambda i: "/logout", ALL),
    "auth.language": ("POST", lambda i: "/language", PUBLIC),
    "auth.change_password": ("GET", lambda i: "/account/password", ALL),
    "dashboard.index": ("GET", lambda i: "/", ALL),
    "dashboard.my_work": ("GET", lambda i: "/reminders/my-work", ALL),
    "dashboard.accessibility": ("GET", lambda i: "/tillganglighet", PUBLIC),
    "plans.index": ("GET", lambda i: "/plans/", ALL),
    "plans.show": ("GET", lambda i: f"/plans/{i['plan']}", ALL),
    "plans.new": ("GET", lambda i: "/plans/new", ADMIN),
    "plans.adopt": ("GET", lambda i: f"/plans/{i['plan']}/adopt", ADMIN),
    "plans.import_file": ("GET", lambda i: "/plans/import", ADMIN),
    "plans.export": ("GET", lambda i: f"/plans/{i['plan']}/export.csv", READ_ALL),
    "risks.index": ("GET", lambda i: "/risks/", ALL),
    "risks.heatmap": ("GET", lambda i: "/risks/heatmap", ALL),
    "risks.matrix_css": ("GET", lambda i: "/risks/matrix.css", ALL),
    # The CE risk: unit members of Smittskydd must not see it; the approver (HSF) may.
    "risks.show": ("GET", lambda i: f"/risks/{i['ce_risk']}", READ_ALL | {"approver"}),
    "risks.new": ("GET", lambda i: f"/risks/new?plan={i['plan']}", ADMIN),
    "risks.edit": ("GET", lambda i: f"/risks/{i['ce_risk']}/edit", ADMIN),
    "risks.delete": ("POST", lambda i: f"/risks/{i['ce_risk']}/delete", ADMIN),
    "admin.units": ("GET", lambda i: "/admin/units", ADMIN),
    "admin.edit_unit": ("GET", lambda i: f"/admin/units/{i['unit']}/edit", ADMIN),
    "admin.users": ("GET", lambda i: "/admin/users", ADMIN),
    "admin.edit_user": ("GET", lambda i: f"/admin/users/{i['user']}/edit", ADMIN),
    "admin.matrix": ("GET", lambda i: "/admin/matrix", ADMIN),
}


def ids(app: Flask) -> Ids:
    with app.app_context():
        plan = db.session.scalar(select(Plan))
        ce = db.session.scalar(select(Unit).where(Unit.code == "CE"))
        ce_risk = db.session.scalar(select(Risk).where(Risk.responsible_unit_id == ce.id))
        user = db.session.scalar(select(User).where(User.username == "ce"))
        return {"plan": plan.id, "ce_risk": ce_risk.id, "unit": ce.id, "user": user.id}
