"""Sample-check routes: population, plan, draw, items, evidence, actions, hygiene, evaluation.

Objects from the demo: the payments control (CE; granskare is its controller; approved), one of
its sampled items and that item's evidence file, and the hygiene control (Smittskydd; another
controller), which the unit member of Smittskydd may read but the CE controller may not.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from riskreg.controls.models import Control
from riskreg.extensions import db
from riskreg.sampling.models import Evidence, SampleDraw, SampleItem
from tests.permission_matrix.roles import ADMIN, ALL, Ids, Matrix

PAYMENTS_VIEW = {"admin", "controller", "approver", "auditor"}
PAYMENTS_WORK = {"admin", "controller"}
HYGIENE_WORK = ADMIN

EXPECTED: Matrix = {
    "sampling.index": ("GET", lambda i: "/sampling/", ALL),
    "sampling.control": ("GET", lambda i: f"/sampling/controls/{i['payments']}", PAYMENTS_VIEW),
    "sampling.population": (
        "GET", lambda i: f"/sampling/controls/{i['payments']}/population", PAYMENTS_WORK
    ),
    "sampling.plan": ("GET", lambda i: f"/sampling/controls/{i['payments']}/plan", PAYMENTS_WORK),
    "sampling.draw": ("GET", lambda i: f"/sampling/controls/{i['payments']}/draw", PAYMENTS_WORK),
    "sampling.extend": (
        "POST", lambda i: f"/sampling/controls/{i['payments']}/extend", PAYMENTS_WORK
    ),
    "sampling.items": (
        "GET", lambda i: f"/sampling/controls/{i['payments']}/items", PAYMENTS_VIEW
    ),
    "sampling.worksheet": (
        "GET", lambda i: f"/sampling/controls/{i['payments']}/worksheet", PAYMENTS_VIEW
    ),
    "sampling.worksheet_xlsx": (
        "GET", lambda i: f"/sampling/controls/{i['payments']}/worksheet.xlsx", PAYMENTS_VIEW
    ),
    "sampling.worksheet_upload": (
        "POST", lambda i: f"/sampling/controls/{i['payments']}/worksheet/upload", PAYMENTS_WORK
    ),
    "sampling.rederivation": (
        "GET", lambda i: f"/sampling/controls/{i['payments']}/rederive.zip", PAYMENTS_VIEW
    ),
    "sampling.item": ("GET", lambda i: f"/sampling/items/{i['payment_item']}", PAYMENTS_VIEW),
    "sampling.evidence_upload": (
        "POST", lambda i: f"/sampling/items/{i['payment_item']}/evidence", PAYMENTS_WORK
    ),
    "sampling.evidence_download": (
        "GET", lambda i: f"/sampling/evidence/{i['evidence']}", PAYMENTS_VIEW
    ),
    "sampling.item_action": (
        "POST", lambda i: f"/sampling/items/{i['payment_item']}/action", PAYMENTS_WORK
    ),
    "sampling.hygiene": (
        "GET", lambda i: f"/sampling/controls/{i['hygiene']}/hygiene", HYGIENE_WORK
    ),
    "sampling.hygiene_import": (
        "GET", lambda i: f"/sampling/controls/{i['hygiene']}/hygiene/import", HYGIENE_WORK
    ),
    "sampling.evaluate": (
        "GET", lambda i: f"/sampling/controls/{i['payments']}/evaluate", PAYMENTS_VIEW
    ),
}


def ids(app: Flask) -> Ids:
    with app.app_context():
        payments = db.session.scalar(
            select(Control).where(Control.check_type == "payments").order_by(Control.id)
        )
        hygiene = db.session.scalar(
            select(Control).where(Control.check_type == "hygiene").order_by(Control.id)
        )
        evidence = db.session.scalar(
            select(Evidence)
            .join(SampleItem, Evidence.item_id == SampleItem.id)
            .join(SampleDraw, SampleItem.draw_id == SampleDraw.id)
            .where(SampleDraw.control_id == payments.id)
        )
        return {
            "payments": payments.id,
            "hygiene": hygiene.id,
            "payment_item": evidence.item_id,
            "evidence": evidence.id,
        }
