"""Object histories (audit/_history.html), the /audit/ trail page, its filters and export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select, text

from riskreg.audit.context import acting
from riskreg.audit.models import AuditEntry
from riskreg.audit.services import TrailFilter, history_for, trail_page
from riskreg.audit.trail import chain_hash, verify_chain
from riskreg.auth.models import Unit, User
from riskreg.db import local_date, now_utc
from riskreg.extensions import db
from riskreg.plans.models import Plan, Risk
from tests.conftest import login


def _risk_form(risk: Risk, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "section": risk.section,
        "title": risk.title,
        "review_area": risk.review_area,
        "regulation": risk.regulation,
        "method": risk.method,
        "probability": risk.probability,
        "consequence": risk.consequence,
        "deadline": risk.deadline.isoformat() if risk.deadline else "",
        "responsible_unit_id": risk.responsible_unit_id,
        "reason": "Förtydligat",
        "version": risk.version,
    }
    form.update(changes)
    return form


def test_history_for_holds_create_and_update_with_the_real_id(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    with app.app_context():
        risk = db.session.scalar(select(Risk).order_by(Risk.id))
        risk_id, form = risk.id, _risk_form(risk, method="Ny metod")
    client.post(f"/risks/{risk_id}/edit", data=form, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    with app.app_context():
        history = history_for(db.session, "risk", risk_id)
        assert [e.action for e in history] == ["update", "create"]  # newest first
        update, create = history
        assert update.actor_name == "admin" and update.ip == "10.9.8.7"
        assert update.reason == "Förtydligat"
        method = next(c for c in update.changes if c.field == "method")
        assert method.label == "Metod för granskning" and method.new_text == "Ny metod"
        assert create.object_id == str(risk_id)
        assert "id" not in {c.field for c in create.changes}


def test_unit_membership_changes_are_in_the_trail(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context(), acting(actor_name="test"):
        user = db.session.scalar(select(User).where(User.username == "ce"))
        staben = db.session.scalar(select(Unit).where(Unit.code == "Staben"))
        user.units = [*user.units, staben]
        db.session.commit()
        change = history_for(db.session, "user", user.id)[0]
        units = next(c for c in change.changes if c.field == "units")
        assert units.old == ["CE"] and units.new == ["CE", "Staben"]
        assert units.label == "Enheter"
        created = history_for(db.session, "user", user.id)[-1]
        assert next(c for c in created.changes if c.field == "units").new == ["CE"]


def _page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_object_pages_show_the_history_to_admins_and_auditors_only(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.app_context():
        risk = db.session.scalar(select(Risk).order_by(Risk.id))
        plan = db.session.scalar(select(Plan))
        ce = db.session.scalar(select(Unit).where(Unit.code == "CE"))
        user = db.session.scalar(select(User).where(User.username == "ce"))
        pages = [f"/risks/{risk.id}", f"/plans/{plan.id}"]
        admin_pages = [f"/admin/units/{ce.id}/edit", f"/admin/users/{user.id}/edit"]
        ce_risk = db.session.scalar(select(Risk).where(Risk.responsible_unit_id == ce.id))
    for username in ("admin", "revisor"):
        client = app.test_client()
        login(client, username, demo[username])
        for url in pages + (admin_pages if username == "admin" else []):
            html = _page(client, url)
            assert 'data-testid="audit-history"' in html, (username, url)
            assert "Ändringshistorik" in html and 'data-testid="history-entry"' in html
    for username in ("granskare", "chef", "ce"):
        client = app.test_client()
        login(client, username, demo[username])
        for url in (f"/risks/{ce_risk.id}", f"/plans/{plan.id}"):
            html = _page(client, url)
            assert 'data-testid="audit-history"' not in html, (username, url)
            assert "Bedömningshistorik" in html or "plans" in url  # their history remains


def test_plan_history_shows_import_and_adoption(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    with app.app_context():
        plan_id = db.session.scalar(select(Plan.id))
    html = _page(client, f"/plans/{plan_id}")
    history = html.split('data-testid="audit-history"')[1]
    assert "Import" in history and "Ändrad" in history and "Skapad" in history
    assert "internkontrollplan-2025.csv" in history


def test_trail_page_filters(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "admin", demo["admin"])
    with app.app_context():
        risk = db.session.scalar(select(Risk).order_by(Risk.id))
        risk_id, form = risk.id, _risk_form(risk, method="Filtrerad")
    client.post(f"/risks/{risk_id}/edit", data=form)
    html = _page(client, "/audit/?type=risk&action=update&user=ADMIN")
    assert html.count('data-testid="trail-entry"') == 1 and "Filtrerad" in html
    assert f'href="/risks/{risk_id}"' in html
    assert 'data-testid="chain-head"' in html
    with app.app_context(), acting(actor_name="test"):
        unit = db.session.scalar(select(Unit).where(Unit.code == "CE"))
        for number in range(80):
            unit.name = f"Centrum för ekonomi {number}"
            db.session.commit()
    everything = _page(client, "/audit/")
    assert everything.count('data-testid="trail-entry"') == 100  # one page
    assert 'data-testid="older"' in everything
    today = local_date(now_utc())  # the filter's dates are Swedish days
    assert 'data-testid="trail-entry"' in _page(client, f"/audit/?from={today}&to={today}")
    future = today + timedelta(days=2)
    assert 'data-testid="trail-entry"' not in _page(client, f"/audit/?from={future}")
    past = today - timedelta(days=2)
    assert 'data-testid="trail-entry"' not in _page(client, f"/audit/?to={past}")
    bad = _page(client, "/audit/?from=igår&before=x")
    assert "Ange datum som ÅÅÅÅ-MM-DD" in bad


def test_trail_pages_chain_together(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        total = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        seen: list[int] = []
        before = None
        while True:
            entries, before = trail_page(db.session, TrailFilter(), before_id=before, size=40)
            seen += [e.id for e in entries]
            if before is None:
                break
        assert seen == sorted(seen, reverse=True) and len(seen) == total == len(set(seen))


def test_export_csv_and_xlsx_follow_the_filter_and_let_anyone_recheck_the_chain(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    response = client.get("/audit/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                               delimiter=";"))
    with app.app_context():
        assert len(rows) == db.session.query(AuditEntry).count()
    previous = "0" * 64
    for row in rows:  # recomputed from the export alone
        assert row["Föregående hash"] == previous
        post = bytes.fromhex(row["Hashad post (UTF-8, hex)"]).decode("utf-8")
        assert chain_hash(previous, post) == row["Hash"]
        previous = row["Hash"]
    users_only = client.get("/audit/export.csv?type=user").get_data(as_text=True)
    body = list(csv.DictReader(io.StringIO(users_only.lstrip("\ufeff")), delimiter=";"))
    assert body and {r["Objekttyp"] for r in body} == {"Användare"}
    book = load_workbook(io.BytesIO(client.get("/audit/export.xlsx?type=user").data))
    sheet = book.active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["Post", "Tid", "Användare"]
    assert sheet.max_row == len(body) + 1
    assert client.get("/audit/export.pdf").status_code == 404
    bad = client.get("/audit/export.csv?from=2025-13-01")
    assert bad.status_code == 302


def test_a_row_deleted_from_the_middle_or_the_start_is_caught(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.app_context():
        ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
        middle = ids[len(ids) // 2]
        db.session.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": middle})
        db.session.commit()
        checked, broken = verify_chain(db.session)
        following = ids[len(ids) // 2 + 1]
        assert broken is not None and f"post {following}" in broken and "kedjan bruten" in broken
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"post {following}" in result.output
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": ids[0]})
        db.session.commit()
        checked, broken = verify_chain(db.session)
        assert checked == 1 and broken is not None and f"post {ids[1]}" in broken


def test_a_row_inserted_or_reordered_is_caught(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        first, second = entries[3], entries[4]
        # Swap two payloads (and their hashes): each row is self-consistent, the order is not.
        db.session.execute(
            text("UPDATE audit_entry SET payload = :p, hash = :h WHERE id = :i"),
            {"p": second.payload, "h": "x" * 64, "i": first.id},
        )
        db.session.commit()
        _checked, broken = verify_chain(db.session)
        assert broken is not None and f"post {first.id}" in broken


def test_lockout_and_logout_entries_read_well(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "ce", demo["ce"])
    client.post("/logout")
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == "ce"))
        entry = history_for(db.session, "user", user_id)[0]
        assert entry.action_label == "Utloggning" and entry.actor_name == "ce"
        raw = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "logout")).one()
        assert json.loads(raw.payload)["changes"] == {}


def test_feature_pages_show_their_objects_history_in_words(
    app: Flask, demo: dict[str, str]
) -> None:
    """A control, its action, a sampled item and its sample check, and the reminder rules each
    show their trail, with Swedish field names (not column names), to admins and auditors."""
    from riskreg.controls.models import Action, Control
    from riskreg.sampling.models import SampleItem

    with app.app_context():
        control = db.session.scalar(
            select(Control).where(Control.check_type == "payments").limit(1)
        )
        action = db.session.scalar(select(Action).order_by(Action.id).limit(1))
        item = db.session.scalar(
            select(SampleItem).where(SampleItem.result.is_not(None)).order_by(SampleItem.id)
        )
        assert control is not None and action is not None and item is not None
        expectations = {
            f"/controls/{control.id}": ("Avvikelsedefinition", "Statusändring"),
            f"/controls/actions/{action.id}": ("Sista dag", "Åtgärd"),
            f"/sampling/items/{item.id}": ("Helhetsbedömning", "Attributbedömning"),
            f"/sampling/controls/{control.id}": ("Urvalsteknik", "Urvalsplan"),
            "/reminders/policy": ("Dagar före sista dag",),
        }
    for username in ("admin", "revisor"):
        client = app.test_client()
        login(client, username, demo[username])
        for url, words in expectations.items():
            if url == "/reminders/policy" and username == "revisor":
                continue  # the rules page is the administrator's
            html = _page(client, url)
            assert 'data-testid="audit-history"' in html, (username, url)
            history = html[html.index('data-testid="audit-history"') :]
            for word in words:
                assert word in history, (url, word)
            labels = re.findall(r'<span class="fw-semibold">([^<]*)</span>', history)
            assert labels, url
            raw = [label for label in labels if re.fullmatch(r"[a-z0-9_]+", label)]
            assert raw == [], (url, raw)  # every field named in words, none as its column
    client = app.test_client()
    login(client, "granskare", demo["granskare"])
    assert 'data-testid="audit-history"' not in _page(client, f"/controls/{control.id}")


def test_audit_csv_runs_no_formula_under_either_separator_and_still_rechecks(
    app: Flask, make_unit, make_user  # type: ignore[no-untyped-def]
) -> None:
    make_unit("EK", name="Kostnad,=1+1;@SUM(1+1)")
    make_user("revisor2", role="auditor")
    client = app.test_client()
    login(client, "revisor2")
    body = client.get("/audit/export.csv").get_data(as_text=True).lstrip("\ufeff")
    assert "Kostnad" in body
    for separator in (";", ","):  # Swedish Excel reads ';', most others ','
        for row in csv.reader(io.StringIO(body), delimiter=separator):
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row
    previous = "0" * 64
    for row in csv.DictReader(io.StringIO(body), delimiter=";"):
        post = bytes.fromhex(row["Hashad post (UTF-8, hex)"]).decode("utf-8")
        assert chain_hash(previous, post) == row["Hash"]
        previous = row["Hash"]
