from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from riskreg.auth.models import Role, User
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk


def test_demo_loads_real_plan_and_every_role_and_is_safe_twice(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "Administratör: användarnamn admin, lösenord" in first.output
    # Each login is printed with its role, so a newcomer knows whom to log in as.
    assert ": Granskare, Karin Åström" in first.output
    assert ": Revisor, Rebecka Revisor" in first.output
    assert ": Godkännare, Göran Förvaltningschef" in first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and "inget ändrat" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Risk.id))) == 7
        assert db.session.scalar(select(func.count(Plan.id))) == 1
        roles = set(db.session.scalars(select(User.role)))
        assert roles == {r.value for r in Role}
        plan = db.session.scalar(select(Plan))
        assert plan.is_adopted
        titles = {r.title for r in plan.risks}
        assert "Risk att passerkort/nycklar används av obehöriga" in titles


def test_full_demo_has_signed_reviews_that_pdfsig_validates(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 5's promise: a newcomer's demo holds completed, double-signed reviews."""
    import subprocess

    from riskreg.controls.models import Control, ControlStatus
    from riskreg.reports.models import Report
    from tests.conftest import load_demo_data, login

    passwords = load_demo_data(app)
    with app.app_context():
        approved = db.session.scalars(
            select(Control).where(Control.status == ControlStatus.APPROVED)
        ).all()
        assert approved, "the demo should contain at least one approved control"
        reports = db.session.scalars(select(Report)).all()
        assert {r.control_id for r in reports} == {c.id for c in approved}
        report_ids = [r.id for r in reports]
    client = app.test_client()
    login(client, "revisor", passwords["revisor"])
    for report_id in report_ids:
        response = client.get(f"/reports/{report_id}/download")
        assert response.status_code == 200
        pdf = tmp_path / f"{report_id}.pdf"
        pdf.write_bytes(response.data)
        out = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True, check=False)
        assert out.stdout.count("Signature Validation: Signature is Valid.") == 2, out.stdout
        assert "Total document signed" in out.stdout
