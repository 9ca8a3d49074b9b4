from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select, text

from riskreg.audit.context import acting
from riskreg.audit.models import AuditEntry
from riskreg.audit.trail import verify_chain
from riskreg.extensions import db
from riskreg.risks.models import Risk
from tests.conftest import login


def test_a_web_change_is_logged_with_actor_ip_and_old_and_new_values(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    with app.app_context():
        risk = db.session.scalar(select(Risk).where(Risk.title.contains("remisshantering")))
        form = {
            "section": risk.section,
            "title": risk.title,
            "review_area": risk.review_area,
            "regulation": risk.regulation,
            "method": "Ny metod",
            "probability": 3,
            "consequence": 3,
            "deadline": "2025-08-15",
            "responsible_unit_id": risk.responsible_unit_id,
            "reason": "Metoden förtydligad",
            "version": risk.version,
        }
        risk_id = risk.id
    client.post(f"/risks/{risk_id}/edit", data=form, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.object_type == "risk",
                AuditEntry.object_id == str(risk_id),
                AuditEntry.action == "update",
            )
        ).one()
        payload = json.loads(entry.payload)
        assert entry.actor_name == "admin"
        assert entry.ip == "10.1.2.3"
        assert entry.reason == "Metoden förtydligad"
        assert payload["changes"]["method"] == [
            "Stickprovskontroll för att se följsamhet till övergripande riktlinje",
            "Ny metod",
        ]


def test_passwords_never_reach_the_trail(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        payloads = db.session.scalars(
            select(AuditEntry.payload).where(AuditEntry.object_type == "user")
        ).all()
        assert payloads
        assert not any("argon2" in p for p in payloads)


def test_chain_verifies_and_a_direct_edit_is_caught(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        checked, broken = verify_chain(db.session)
        assert broken is None and checked > 20
        victim = db.session.scalars(
            select(AuditEntry).order_by(AuditEntry.id).offset(10).limit(1)
        ).one()
        tampered = victim.payload.replace('"create"', '"update"', 1)
        db.session.execute(
            text("UPDATE audit_entry SET payload = :p WHERE id = :i"),
            {"p": tampered, "i": victim.id},
        )
        db.session.commit()
        checked, broken = verify_chain(db.session)
        assert broken is not None and f"post {victim.id}" in broken
        assert checked == 11


def test_cli_audit_verify_reports_intact_and_broken_chains(
    app: Flask, demo: dict[str, str]
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intakt" in result.output
    with app.app_context():
        last_id = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        db.session.execute(
            text("UPDATE audit_entry SET ip = '6.6.6.6' WHERE id = :i"), {"i": last_id}
        )
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"post {last_id}" in result.output


def test_a_failed_change_leaves_no_audit_entry(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        before = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        with acting(actor_name="test"):
            risk = db.session.scalar(select(Risk))
            risk.method = "ändrad"
            db.session.flush()
            db.session.rollback()
        after = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        assert after == before
