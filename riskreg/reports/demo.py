"""Demo step (runs last in `riskreg demo`): personal certificates, then signed review reports.

Every active signer (controller, approver, administrator) gets a personal signing certificate
from the development CA, as `riskreg keys issue` would make it. Then, for each approved
control of the demo plan that has no report for its current approval, the first assigned
controller signs (certifies) and the approver who approved it co-signs, so a newcomer can log
in as the auditor, download signed reports and check them with any PDF reader or `pdfsig`.
Development keys are created under instance/keys/ when the configured key is the default one
and does not exist yet, so this works on a fresh machine. With no approved control no report
is signed (the certificates are still issued).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.auth.models import Role, Unit, User
from riskreg.controls.models import Control, ControlStatus
from riskreg.plans.models import Plan, Risk
from riskreg.reports.services import (
    KEYS_DIR,
    SigningSettings,
    certificate_organisation,
    cosign_report,
    current_review_report,
    ensure_dev_keys,
    sign_review,
)


def load(
    session: Session,
    *,
    now: datetime,
    users: dict[str, User],
    units: dict[str, Unit],
    plan: Plan,
) -> None:
    approved = session.scalars(
        select(Control)
        .join(Control.risk)
        .where(Risk.plan_id == plan.id, Control.status == ControlStatus.APPROVED.value)
        .order_by(Control.id)
    ).all()
    pending = [c for c in approved if current_review_report(session, c) is None]
    settings = _settings_with_keys(plan)
    _issue_certificates(session, session.scalars(select(User)).all(), settings, plan, now)
    for control in pending:
        controller = next((u for u in control.controllers if u.role == Role.CONTROLLER), None)
        approver = control.approved_by
        if controller is None or approver is None:
            continue
        report = sign_review(session, control, actor=controller, now=now, settings=settings)
        cosign_report(
            session, report, actor=approver, now=now + timedelta(minutes=1), settings=settings
        )


def _issue_certificates(
    session: Session,
    users: Iterable[User],
    settings: SigningSettings,
    plan: Plan,
    now: datetime,
) -> None:
    """A personal certificate for every active signer who has none yet."""
    from riskreg.reports.signers import issue_missing_certificates

    if settings.passphrase is None:
        return
    issue_missing_certificates(
        session,
        users,
        keys_dir=settings.personal_keys_dir,
        passphrase=settings.passphrase,
        organisation=certificate_organisation(plan.organisation.name),
        now=now - timedelta(minutes=10),
    )


def _settings_with_keys(plan: Plan) -> SigningSettings:
    """The configured key; the development key is created first when it is the one missing."""
    from riskreg.reports.keys import PKCS12_FILE

    settings = SigningSettings.from_config(current_app.config, current_app.instance_path)
    dev_keys = Path(current_app.instance_path) / KEYS_DIR
    if settings.pkcs12_path == dev_keys / PKCS12_FILE and not settings.pkcs12_path.exists():
        ensure_dev_keys(dev_keys, plan.organisation.name)
        settings = SigningSettings.from_config(current_app.config, current_app.instance_path)
    return settings
