"""Control workflow routes: controls, their status steps, actions.

The demo objects: the CE payments control (planned, controller granskare) and the overdue
action of the CHR control (in progress, controller granskare, owner unit CHR). Smittskydd's
unit member sees neither (404); the approver (HSF, above every unit) sees both.
POSTs are sent without form data: allowed roles get the form back or a redirect and nothing
changes (every form carries the version it was loaded with).
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Unit
from riskreg.controls.models import Action, ActionEvidence, CheckType, Control
from riskreg.extensions import db
from tests.permission_matrix.roles import ALL, Ids, Matrix

WORKERS = {"admin", "controller"}  # admin and the assigned controller (granskare)
READERS = {"admin", "controller", "approver", "auditor"}

EXPECTED: Matrix = {
    "controls.index": ("GET", lambda i: "/controls/", ALL),
    "controls.new": ("GET", lambda i: f"/controls/new?risk={i['payments_risk']}", WORKERS),
    "controls.show": ("GET", lambda i: f"/controls/{i['payments']}", READERS),
    "controls.edit": ("GET", lambda i: f"/controls/{i['payments']}/edit", WORKERS),
    "controls.start": ("POST", lambda i: f"/controls/{i['payments']}/start", WORKERS),
    "controls.submit": ("POST", lambda i: f"/controls/{i['payments']}/submit", WORKERS),
    "controls.approve": ("POST", lambda i: f"/controls/{i['payments']}/approve", {"approver"}),
    "controls.send_back": (
        "POST",
        lambda i: f"/controls/{i['payments']}/send-back",
        {"approver"},
    ),
    # Reopening an approved review: the approver who approved it, or the admin.
    "controls.reopen": (
        "POST",
        lambda i: f"/controls/{i['payments']}/reopen",
        {"admin", "approver"},
    ),
    "controls.new_action": ("GET", lambda i: f"/controls/{i['payments']}/actions/new", WORKERS),
    "controls.actions": ("GET", lambda i: "/controls/actions/", ALL),
    "controls.action": ("GET", lambda i: f"/controls/actions/{i['chr_action']}", READERS),
    # The owner unit (CHR) answers: the approver is above it; the admin may act for anyone.
    "controls.answer": (
        "POST",
        lambda i: f"/controls/actions/{i['chr_action']}/answer",
        {"admin", "approver"},
    ),
    # The unit's evidence of its answer: whoever may read the action.
    "controls.action_evidence": (
        "GET",
        lambda i: f"/controls/actions/evidence/{i['chr_action_evidence']}",
        READERS,
    ),
    "controls.verify": ("POST", lambda i: f"/controls/actions/{i['chr_action']}/verify", WORKERS),
    "controls.due_date": (
        "POST",
        lambda i: f"/controls/actions/{i['chr_action']}/due-date",
        WORKERS,
    ),
}


def ids(app: Flask) -> Ids:
    with app.app_context():
        payments = db.session.scalar(
            select(Control).where(Control.check_type == CheckType.PAYMENTS.value)
        )
        # The CHR control's overdue action: the earliest due of the unit CHR.
        chr_action = db.session.scalars(
            select(Action)
            .join(Action.owner_unit)
            .where(Unit.code == "CHR")
            .order_by(Action.due_date)
        ).first()
        # The demo has no answered action: a row without its file (the download then says
        # the file is gone, after the permission check this matrix is about).
        evidence = ActionEvidence(
            action=chr_action,
            file_name="faktura.pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            stored_name="0" * 64,
        )
        db.session.add(evidence)
        db.session.commit()
        return {
            "payments": payments.id,
            "payments_risk": payments.risk_id,
            "chr_action": chr_action.id,
            "chr_action_evidence": evidence.id,
        }
