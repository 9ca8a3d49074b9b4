"""The audit trail anchored outside the database: checkpoints, numbering and reconciliation.

Each test does what someone with write access to the database could do (delete, rewrite and
recompute, insert, change business rows by SQL) and expects `riskreg audit verify` to name it
and exit non-zero. Before checkpoints and reconciliation existed, every one of these left the
old hash-chain check saying "intakt" (asserted where it shows the point).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from riskreg.audit.models import AuditEntry
from riskreg.audit.trail import GENESIS_HASH, chain_hash, verify_chain
from riskreg.extensions import db
from riskreg.reports.services import KEYS_DIR, ensure_dev_keys
from tests.conftest import load_demo_data


@pytest.fixture
def checkpoint_dir(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ensure_dev_keys(Path(app.instance_path) / KEYS_DIR, "Region Test")
    folder = tmp_path / "checkpoints"
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_DIR", str(folder))
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_EMAILS", None)
    monkeypatch.setitem(app.config, "TIMESTAMP_URL", None)
    return folder


@pytest.fixture
def foundation(app: Flask) -> dict[str, str]:
    """Units, users and the adopted plan: a few dozen entries, enough for the chain tests."""
    return load_demo_data(app, ())


def verify(app: Flask, *extra: str) -> Any:
    return app.test_cli_runner().invoke(args=["audit", "verify", *extra])


def checkpoint(app: Flask) -> Any:
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result


def last_id(app: Flask) -> int:
    with app.app_context():
        value = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        assert value is not None
        return value


def sql(app: Flask, statement: str, **params: Any) -> None:
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def recompute_chain_from(app: Flask, first: int) -> None:
    """What an attacker with database access does after editing: re-hash from there on."""
    with app.app_context():
        prev = db.session.scalar(
            select(AuditEntry.hash).where(AuditEntry.id < first).order_by(AuditEntry.id.desc())
            .limit(1)
        ) or GENESIS_HASH  # fmt: skip
        rows = db.session.execute(
            select(AuditEntry.id, AuditEntry.payload).where(AuditEntry.id >= first)
            .order_by(AuditEntry.id)
        ).all()  # fmt: skip
        # Move the old hashes out of the way of the unique constraint first.
        db.session.execute(
            text("UPDATE audit_entry SET hash = 'x' || id WHERE id >= :f"), {"f": first}
        )
        for entry_id, payload in rows:
            digest = chain_hash(prev, payload)
            db.session.execute(
                text("UPDATE audit_entry SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": entry_id},
            )
            prev = digest
        db.session.commit()


def rewrite(app: Flask, entry_id: int, actor_name: str) -> None:
    """Change who did something, in the hashed payload and its column alike."""
    with app.app_context():
        entry = db.session.get(AuditEntry, entry_id)
        assert entry is not None
        data = json.loads(entry.payload)
        data["actor_name"] = actor_name
        payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    sql(app, "UPDATE audit_entry SET payload = :p, actor_name = :a WHERE id = :i",
        p=payload, a=actor_name, i=entry_id)  # fmt: skip


def old_check_says_intact(app: Flask) -> bool:
    with app.app_context():
        return verify_chain(db.session)[1] is None


# --- checkpoints ------------------------------------------------------------------------------


def test_checkpoint_is_signed_by_the_organisation_and_openssl_agrees(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    result = checkpoint(app)
    head = last_id(app)
    assert f"post {head}" in result.output
    [json_file] = checkpoint_dir.glob("checkpoint-*.json")
    document = json.loads(json_file.read_text(encoding="utf-8"))
    with app.app_context():
        head_hash = db.session.scalar(select(AuditEntry.hash).where(AuditEntry.id == head))
    assert (document["entry"], document["hash"]) == (head, head_hash)
    assert document["organisation"]
    signature = json_file.with_name(json_file.name + ".p7s")
    ca = Path(app.instance_path) / KEYS_DIR / "ca.pem"
    openssl = shutil.which("openssl")
    if openssl:
        command = [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
                   "-content", str(json_file), "-CAfile", str(ca), "-purpose", "any",
                   "-out", "/dev/null"]  # fmt: skip
        checked = subprocess.run(command, capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        assert "Verification successful" in checked.stderr
    ok = verify(app)
    assert ok.exit_code == 0, ok.output
    assert "1 kontrollpunkter" in ok.output and "intakt" in ok.output

    # A checkpoint edited afterwards (here: to hide later truncation) is not evidence.
    document["entry"] = 5
    json_file.write_text(json.dumps(document), encoding="utf-8")
    forged = verify(app)
    assert forged.exit_code == 1
    assert f"{json_file.name}: signaturen stämmer inte" in forged.output


def test_an_unreachable_timestamp_service_writes_no_checkpoint(
    app: Flask,
    foundation: dict[str, str],
    checkpoint_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "TIMESTAMP_URL", "http://127.0.0.1:9/tsa")
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1
    assert "Tidsstämpeltjänsten http://127.0.0.1:9/tsa svarade inte" in result.output
    assert not list(checkpoint_dir.glob("checkpoint-*"))


@pytest.mark.parametrize("removed", [1, 50])
def test_deleting_the_newest_entries_is_reported_against_the_checkpoint(
    app: Flask, demo: dict[str, str], checkpoint_dir: Path, removed: int
) -> None:
    checkpoint(app)
    head = last_id(app)
    sql(app, "DELETE FROM audit_entry WHERE id > :n", n=head - removed)
    assert old_check_says_intact(app)  # what the issue found: "intakt"
    result = verify(app, "--no-reconcile")
    assert result.exit_code == 1, result.output
    span = f"post {head}" if removed == 1 else f"posterna {head - removed + 1}–{head}"
    assert f"{span} saknas: kontrollpunkten" in result.output
    assert f"nådde post {head}, nu slutar det vid post {head - removed}" in result.output


def test_a_rewrite_with_the_chain_recomputed_is_reported_against_the_checkpoint(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    checkpoint(app)
    head = last_id(app)
    victim = 12
    rewrite(app, victim, "någon annan")
    recompute_chain_from(app, victim)
    assert old_check_says_intact(app)
    result = verify(app, "--no-reconcile")
    assert result.exit_code == 1, result.output
    assert f"post {head}: hashen skiljer sig från kontrollpunkten" in result.output
    assert f"posterna 1–{head} har skrivits om" in result.output


def test_a_rewrite_between_two_checkpoints_is_narrowed_to_that_span(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path, make_unit: Any
) -> None:
    checkpoint(app)
    first = last_id(app)
    for code in ("N1", "N2", "N3", "N4", "N5", "N6"):
        make_unit(code)
    checkpoint(app)
    second = last_id(app)
    victim = first + 3
    assert second > victim
    rewrite(app, victim, "någon annan")
    recompute_chain_from(app, victim)
    result = verify(app, "--no-reconcile")
    assert result.exit_code == 1
    assert f"posterna {first + 1}–{second} har skrivits om" in result.output
    assert f"post {first}: hashen" not in result.output


def test_a_gap_in_the_numbers_is_reported_even_with_the_chain_recomputed(
    app: Flask, foundation: dict[str, str]
) -> None:
    sql(app, "DELETE FROM audit_entry WHERE id IN (20, 21)")
    recompute_chain_from(app, 22)
    assert old_check_says_intact(app)
    result = verify(app, "--no-reconcile")
    assert result.exit_code == 1
    assert "posterna 20–21 saknas: numreringen hoppar från 19 till 22" in result.output


def test_entry_numbers_have_no_holes_after_a_rolled_back_change(
    app: Flask, foundation: dict[str, str]
) -> None:
    """On PostgreSQL a sequence skips the numbers of rolled-back transactions; the trail's own
    numbering must not, or every rollback would look like a deleted entry."""
    from riskreg.audit.context import acting
    from riskreg.plans.models import Risk

    before = last_id(app)
    with app.app_context(), acting(actor_name="test"):
        risk = db.session.scalar(select(Risk))
        assert risk is not None
        risk.method = "ångras"
        db.session.flush()
        db.session.rollback()
        risk = db.session.scalar(select(Risk))
        assert risk is not None
        risk.method = "sparas"
        db.session.commit()
    assert last_id(app) == before + 1
    assert verify(app).exit_code == 0


def test_a_forged_entry_appended_after_a_checkpoint_and_dated_before_it_is_reported(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    checkpoint(app)
    head = last_id(app)
    with app.app_context():
        previous = db.session.get(AuditEntry, head)
        assert previous is not None
        when = previous.at - timedelta(days=2)
        data = {"action": "update", "actor_id": None, "actor_name": "admin", "ip": None,
                "at": when.isoformat(), "object_type": "risk", "object_id": "1",
                "reason": None, "changes": {}}  # fmt: skip
        payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        db.session.execute(
            AuditEntry.__table__.insert().values(
                id=head + 1, at=when, actor_id=None, actor_name="admin", ip=None,
                action="update", object_type="risk", object_id="1", reason=None,
                payload=payload, prev_hash=previous.hash,
                hash=chain_hash(previous.hash, payload),
            )
        )  # fmt: skip
        db.session.commit()
    assert old_check_says_intact(app)
    result = verify(app)
    assert result.exit_code == 1
    assert f"post {head + 1}: daterad" in result.output
    assert f"som slutade vid post {head}: posten har lagts till i efterhand" in result.output


def test_replacing_the_newest_entries_with_forged_ones_is_caught_by_the_checkpoint(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    """Delete the last entry and append a forged one with a correct hash in its place."""
    checkpoint(app)
    head = last_id(app)
    with app.app_context():
        victim = db.session.get(AuditEntry, head)
        assert victim is not None
        data = json.loads(victim.payload)
        data["reason"] = "förfalskad"
        payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        prev, at = victim.prev_hash, victim.at
        values = {c: getattr(victim, c) for c in ("actor_id", "actor_name", "ip", "action",
                                                  "object_type", "object_id")}  # fmt: skip
        db.session.delete(victim)
        db.session.flush()
        db.session.execute(
            AuditEntry.__table__.insert().values(
                id=head, at=at, reason="förfalskad", payload=payload, prev_hash=prev,
                hash=chain_hash(prev, payload), **values,
            )
        )  # fmt: skip
        db.session.commit()
    assert old_check_says_intact(app)
    result = verify(app, "--no-reconcile")
    assert result.exit_code == 1
    assert f"post {head}: hashen skiljer sig från kontrollpunkten" in result.output


# --- reconciliation ---------------------------------------------------------------------------


def _first_id(app: Flask, query: str) -> int:
    with app.app_context():
        value = db.session.execute(text(query)).scalar()
        assert value is not None, query
        return int(value)


def test_direct_sql_edits_of_business_rows_are_found(app: Flask, demo: dict[str, str]) -> None:
    clean = verify(app)
    assert clean.exit_code == 0, clean.output
    assert "rader jämförda med spåret" in clean.output

    control = _first_id(app, "SELECT id FROM control WHERE status <> 'approved' ORDER BY id")
    sql(app, "UPDATE control SET status = 'approved' WHERE id = :i", i=control)
    item = _first_id(app, "SELECT id FROM sample_item WHERE result IS NOT NULL ORDER BY id")
    sql(app, "UPDATE sample_item SET result = CASE WHEN result = 'ok' THEN 'deviation' "
        "ELSE 'ok' END WHERE id = :i", i=item)  # fmt: skip
    deviation = _first_id(app, "SELECT id FROM deviation ORDER BY id")
    sql(app, "DELETE FROM action WHERE deviation_id = :i", i=deviation)
    sql(app, "DELETE FROM deviation WHERE id = :i", i=deviation)
    assert old_check_says_intact(app)

    result = verify(app)
    assert result.exit_code == 1, result.output
    assert f"control {control}: status stämmer inte med spåret" in result.output
    assert f"sample_item {item}: result stämmer inte med spåret" in result.output
    assert f"deviation {deviation}: raden saknas men spåret har ingen händelse" in result.output


def test_a_row_inserted_by_sql_is_found(app: Flask, foundation: dict[str, str]) -> None:
    sql(app, "INSERT INTO unit (id, code, name, created_at, version) VALUES (9999, 'SMYG', "
        "'Smygenhet', CURRENT_TIMESTAMP, 1)")  # fmt: skip
    result = verify(app)
    assert result.exit_code == 1
    assert "unit 9999: raden finns men spåret har ingen händelse som skapade den" in result.output


@pytest.fixture
def smtp_inbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    from aiosmtpd.controller import Controller

    from tests.reminders.reminders_helpers import free_port

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    monkeypatch.setitem(app.config, "MAIL_DEFAULT_SENDER", "riskreg <riskreg@region.test>")
    try:
        yield received
    finally:
        controller.stop()


def test_checkpoint_is_mailed_to_the_auditors(
    app: Flask,
    foundation: dict[str, str],
    checkpoint_dir: Path,
    smtp_inbox: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from email import message_from_bytes, policy

    monkeypatch.setitem(
        app.config, "AUDIT_CHECKPOINT_EMAILS", "revisor@region.test, revisor2@region.test"
    )
    result = checkpoint(app)
    assert "Skickad till revisor@region.test, revisor2@region.test" in result.output
    [envelope] = smtp_inbox
    assert sorted(envelope.rcpt_tos) == ["revisor2@region.test", "revisor@region.test"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    names = sorted(part.get_filename() for part in message.iter_attachments())
    [json_file] = checkpoint_dir.glob("checkpoint-*.json")
    assert names == [json_file.name, json_file.name + ".p7s"]
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached[json_file.name + ".p7s"] == (
        json_file.with_name(json_file.name + ".p7s").read_bytes()
    )


def test_the_daily_reminder_run_writes_a_checkpoint_when_the_last_is_a_day_old(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["reminders", "send", "--now", "2025-06-23T07:00"])
    assert first.exit_code == 0, first.output
    assert "Kontrollpunkt skriven" in first.output
    assert len(list(checkpoint_dir.glob("checkpoint-*.json"))) == 1
    again = runner.invoke(args=["reminders", "send", "--now", "2025-06-23T08:00"])
    assert again.exit_code == 0, again.output
    assert "Kontrollpunkt skriven" not in again.output
    assert len(list(checkpoint_dir.glob("checkpoint-*.json"))) == 1
    dry = runner.invoke(args=["reminders", "send", "--dry-run"])
    assert "Kontrollpunkt" not in dry.output


def test_a_unit_membership_granted_by_sql_is_found(
    app: Flask, foundation: dict[str, str], make_unit: Any
) -> None:
    """Unit membership decides what a user may read; the trail records it, so a membership
    added behind its back must show, even after the unit's code was changed on the web."""
    from riskreg.audit.context import acting
    from riskreg.auth.models import Unit

    make_unit("HEMLIG")
    with app.app_context(), acting(actor_name="admin"):
        unit = db.session.scalar(select(Unit).where(Unit.code == "HEMLIG"))
        assert unit is not None
        unit.code = "HEMLIG2"
        db.session.commit()
        unit_id = unit.id
    assert verify(app).exit_code == 0
    user = _first_id(app, """SELECT id FROM "user" WHERE username = 'granskare'""")
    sql(app, "INSERT INTO user_unit (user_id, unit_id) VALUES (:u, :i)", u=user, i=unit_id)
    result = verify(app)
    assert result.exit_code == 1
    assert f"user {user}: units stämmer inte med spåret" in result.output


def test_bulk_rows_are_checked_against_the_digest_in_their_event(
    app: Flask, demo: dict[str, str]
) -> None:
    """Hygiene observations are not audited row by row; each import or observation event
    carries the digest of the control's observations, so a later SQL change shows."""
    observation, control = 0, 0
    with app.app_context():
        row = db.session.execute(
            text("SELECT id, control_id FROM hygiene_observation ORDER BY id")
        ).first()
        assert row is not None, "the demo has hygiene observations"
        observation, control = row
    assert verify(app).exit_code == 0
    sql(app, "UPDATE hygiene_observation SET steps = 'N,N,N,N,N,N,N,N' WHERE id = :i",
        i=observation)  # fmt: skip
    result = verify(app)
    assert result.exit_code == 1
    assert f"hygiene_observation (control_id={control}): raderna stämmer inte" in result.output


@pytest.fixture
def tsa_url() -> Iterator[str]:
    """An RFC 3161 timestamp service on loopback, answering with its own self-signed TSA
    certificate (pyHanko's DummyTimeStamper does the protocol; the HTTP is real)."""
    import asyncio
    import threading
    from datetime import UTC, datetime
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from asn1crypto import keys, tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's is RSA-only
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test-TSA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    stamper = DummyTimeStamper(
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
    )
    requests: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append(body)
            request = tsp.TimeStampReq.load(body)
            answer = asyncio.run(stamper.async_request_tsa_response(request)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
        assert requests, "the timestamp service was never asked"
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_timestamp_service_stamps_the_checkpoint_signature(
    app: Flask,
    foundation: dict[str, str],
    checkpoint_dir: Path,
    tsa_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from asn1crypto import cms

    monkeypatch.setitem(app.config, "TIMESTAMP_URL", tsa_url)
    checkpoint(app)
    [signature] = checkpoint_dir.glob("checkpoint-*.json.p7s")
    signer_info = cms.ContentInfo.load(signature.read_bytes())["content"]["signer_infos"][0]
    unsigned = {attr["type"].native for attr in signer_info["unsigned_attrs"]}
    assert "signature_time_stamp_token" in unsigned
    assert verify(app).exit_code == 0


def test_the_trail_page_shows_the_newest_checkpoint(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    from tests.conftest import login

    client = app.test_client()
    login(client, "admin", foundation["admin"])
    before = client.get("/audit/").get_data(as_text=True)
    assert "Ingen signerad kontrollpunkt finns ännu" in before
    checkpoint(app)
    head = last_id(app)
    after = client.get("/audit/").get_data(as_text=True)
    assert "Senaste signerade kontrollpunkt:" in after
    assert f"(post {head})" in after


def test_a_checkpoint_without_its_signature_is_a_finding_and_not_evidence(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    checkpoint(app)
    [signature] = checkpoint_dir.glob("checkpoint-*.json.p7s")
    signature.unlink()
    result = verify(app)
    assert result.exit_code == 1
    assert "signaturfil saknas" in result.output
    assert "0 kontrollpunkter" in result.output


def test_checkpoint_if_older_than_writes_only_when_due(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path
) -> None:
    runner = app.test_cli_runner()
    args = ["audit", "checkpoint", "--if-older-than-hours", "20"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0 and "Kontrollpunkt skriven" in first.output
    second = runner.invoke(args=args)
    assert second.exit_code == 0 and "ny nog" in second.output
    assert len(list(checkpoint_dir.glob("checkpoint-*.json"))) == 1


def test_deleting_an_earlier_checkpoint_file_is_reported_by_the_next_one(
    app: Flask, foundation: dict[str, str], checkpoint_dir: Path, make_unit: Any
) -> None:
    """Removing the checkpoint that would expose a truncation does not help: the checkpoint
    written after it names it, under its signature."""
    checkpoint(app)
    make_unit("N1")
    checkpoint(app)
    first, second = sorted(checkpoint_dir.glob("checkpoint-*.json"))
    assert json.loads(second.read_text(encoding="utf-8"))["previous"]["file"] == first.name
    assert verify(app).exit_code == 0
    first.unlink()
    first.with_name(first.name + ".p7s").unlink()
    result = verify(app)
    assert result.exit_code == 1
    assert f"kontrollpunkten {second.name} bygger på {first.name}, som saknas" in result.output
