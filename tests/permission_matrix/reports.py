"""Report routes: auditors' list, downloads, signing, follow-up, verification.

The review-report routes need an approved control of CE (worked by granskare, approved by
chef) with a report waiting for chef's co-signature. The demo data on this branch has no
approved control (the sampling demo step that approves one lives on another branch), so
``ids`` builds one with ``tests.reports.scenario`` and has granskare certify its report, but
only when the demo does not already provide such a report.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.controls.models import Control, ControlStatus
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.reports import services
from riskreg.reports.models import Report
from tests.permission_matrix.roles import ADMIN, ALL, READ_ALL, Ids, Matrix

REVIEW_READERS = READ_ALL | {"approver"}  # smittskydd's member must not see a CE control
FOLLOWUP_READERS = READ_ALL | {"approver"}

EXPECTED: Matrix = {
    "reports.index": ("GET", lambda i: "/reports/", ALL),
    "reports.verify": ("GET", lambda i: "/reports/verify", ALL),
    "reports.control": (
        "GET",
        lambda i: f"/reports/controls/{i['report_control']}",
        REVIEW_READERS,
    ),
    "reports.preview": (
        "GET",
        lambda i: f"/reports/controls/{i['report_control']}/preview.pdf",
        REVIEW_READERS,
    ),
    "reports.download": (
        "GET",
        lambda i: f"/reports/{i['review_report']}/download",
        REVIEW_READERS,
    ),
    # Sent without form data: the allowed role is told to confirm, nothing is signed.
    "reports.sign": (
        "POST",
        lambda i: f"/reports/controls/{i['report_control']}/sign",
        {"controller"},
    ),
    "reports.cosign": ("POST", lambda i: f"/reports/{i['review_report']}/cosign", {"approver"}),
    "reports.followup": ("GET", lambda i: f"/reports/plans/{i['plan']}/followup", FOLLOWUP_READERS),
    "reports.followup_preview": (
        "GET",
        lambda i: f"/reports/plans/{i['plan']}/followup/preview.pdf",
        FOLLOWUP_READERS,
    ),
    "reports.followup_xlsx": (
        "GET",
        lambda i: f"/reports/plans/{i['plan']}/followup.xlsx",
        FOLLOWUP_READERS,
    ),
    "reports.followup_sign": ("POST", lambda i: f"/reports/plans/{i['plan']}/followup/sign", ADMIN),
}


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def _demo_report() -> Report | None:
    """A review report of an approved CE control by granskare, co-signed by chef."""
    granskare, chef = _user("granskare"), _user("chef")
    for report in db.session.scalars(select(Report).where(Report.control_id.is_not(None))):
        control = report.control
        if (
            control is not None
            and control.status == ControlStatus.APPROVED
            and control.responsible_unit.code == "CE"
            and control.is_controller(granskare)
            and report.cosigner_id == chef.id
        ):
            return report
    return None


def ids(app: Flask) -> Ids:
    from tests.reports.scenario import build_approved_control

    with app.app_context():
        report = _demo_report()
        if report is None:
            now = now_utc()
            scenario = build_approved_control(db.session, now=now)
            db.session.commit()
            settings = services.SigningSettings.from_config(app.config, app.instance_path)
            plan = db.session.scalar(select(Plan))
            services.ensure_dev_keys(
                settings.pkcs12_path.parent, plan.organisation.name if plan else "riskreg"
            )
            settings = services.SigningSettings.from_config(app.config, app.instance_path)
            control = db.session.get(Control, scenario.control_id)
            assert control is not None
            report = services.sign_review(
                db.session, control, actor=_user("granskare"), now=now, settings=settings
            )
            db.session.commit()
        assert report.control_id is not None
        return {"report_control": report.control_id, "review_report": report.id}
