"""Helpers for the reminder runs: a recording SMTP handler and a small region.

The region (``world``), dates chosen around Monday 1 September 2025:

* HSF (manager: chef) with CE (mailbox ce@region.test, manager cechef) and Smittskydd (mailbox
  smittskydd@region.test, no manager: escalations go to HSF's manager) below it.
* CE members: anna (sv), bob (en), cechef (sv), vilande (inactive); Smittskydd: maria.
* Control C1 (CE) due Thu 2025-09-04, action A1 (CE) due Mon 2025-09-15, action A2
  (Smittskydd) due Mon 2025-09-01.

So a run on 2025-09-01 sends: C1 "3 days before", A1 "14 days before" to the four CE addresses
and A2 "due today" to the two Smittskydd addresses: six digests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Role, Unit, User
from riskreg.auth.services import create_unit, create_user
from riskreg.controls.services import create_control, raise_action
from riskreg.extensions import db
from riskreg.plans.services import (
    RiskData,
    create_risk,
    get_or_create_organisation,
    get_or_create_plan,
)
from riskreg.reminders.models import SentReminder

STHLM = ZoneInfo("Europe/Stockholm")
PASSWORD = "korrekt-häst-batteri-47"
SETUP_NOW = dt.datetime(2025, 6, 2, 8, 0, tzinfo=STHLM)
C1_DUE = dt.date(2025, 9, 4)
A1_DUE = dt.date(2025, 9, 15)
A2_DUE = dt.date(2025, 9, 1)


# --- SMTP server ------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class MailHandler:
    """Keeps every accepted message; refuses the recipients in ``refuse_rcpt``."""

    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def by_rcpt(self) -> dict[str, Received]:
        found: dict[str, Received] = {}
        for r in self.received:
            assert r.to not in found, f"two messages to {r.to}"
            found[r.to] = r
        return found

    def take(self) -> list[Received]:
        """The messages received so far; forgets them."""
        got, self.received = self.received, []
        return got


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the region -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    units: dict[str, int]
    users: dict[str, int]
    control: int
    action_ce: int
    action_smitta: int


def build_world(session: Any) -> World:
    hsf = create_unit(session, code="HSF", name="Hälso- och sjukvårdsförvaltningen", parent=None)
    ce = create_unit(
        session, code="CE", name="Centrum för ekonomi", parent=hsf, email="ce@region.test"
    )
    smitta = create_unit(
        session,
        code="Smittskydd",
        name="Smittskydd och vårdhygien",
        parent=hsf,
        email="smittskydd@region.test",
    )

    def user(name: str, full: str, role: Role, units: list[Unit], **kw: Any) -> User:
        return create_user(
            session,
            username=name,
            email=f"{name}@region.test",
            full_name=full,
            password=PASSWORD,
            role=role,
            units=units,
            **kw,
        )

    users = {
        "admin": user("admin", "Ingrid Samordnare", Role.ADMIN, [hsf]),
        "granskare": user("granskare", "Karin Åström", Role.CONTROLLER, []),
        "anna": user("anna", "Anna Ekonom", Role.UNIT_MEMBER, [ce]),
        "bob": user("bob", "Bob Builder", Role.UNIT_MEMBER, [ce], locale="en"),
        "cechef": user("cechef", "Cecilia Chef", Role.APPROVER, [ce]),
        "vilande": user("vilande", "Ville Vilande", Role.UNIT_MEMBER, [ce]),
        "maria": user("maria", "Maria Hygien", Role.UNIT_MEMBER, [smitta]),
        "chef": user("chef", "Göran Förvaltningschef", Role.APPROVER, [hsf]),
        "revisor": user("revisor", "Rebecka Revisor", Role.AUDITOR, []),
    }
    users["vilande"].active = False
    hsf.manager = users["chef"]
    ce.manager = users["cechef"]
    org = get_or_create_organisation(session, "Region Test")
    plan = get_or_create_plan(session, org, 2025)
    risk = create_risk(
        session,
        plan,
        RiskData(
            section="administration",
            title="Felaktiga utbetalningar till privata vårdgivare",
            review_area="Utbetalningar",
            regulation="LOV",
            method="Stickprov",
            probability=3,
            consequence=4,
            deadline=C1_DUE,
            responsible_unit_id=ce.id,
        ),
        actor=users["admin"],
        now=SETUP_NOW,
    )
    control = create_control(
        session,
        risk,
        title="Utbetalningar till privata vårdgivare 2025",
        check_type="payments",
        responsible_unit=ce,
        controllers=[users["granskare"]],
        deviation_definition="Belopp som inte följer avtalet.",
        actor=users["granskare"],
        now=SETUP_NOW,
    )
    a1 = raise_action(
        session,
        control,
        description="Återkräv felaktiga utbetalningar från vårdgivaren",
        owner_unit=ce,
        due_date=A1_DUE,
        actor=users["granskare"],
        now=SETUP_NOW,
    )
    a2 = raise_action(
        session,
        control,
        description="Uppdatera rutinen för basala hygienrutiner",
        owner_unit=smitta,
        due_date=A2_DUE,
        actor=users["granskare"],
        now=SETUP_NOW,
    )
    session.flush()
    return World(
        units={u.code: u.id for u in (hsf, ce, smitta)},
        users={name: u.id for name, u in users.items()},
        control=control.id,
        action_ce=a1.id,
        action_smitta=a2.id,
    )


# --- running the command ----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


def log_rows(app: Flask) -> list[SentReminder]:
    with app.app_context():
        rows = list(db.session.scalars(select(SentReminder).order_by(SentReminder.dedup_key)))
        db.session.expunge_all()
        return rows


def sent_keys(app: Flask) -> list[str]:
    return [r.dedup_key for r in log_rows(app) if r.state == "sent"]
