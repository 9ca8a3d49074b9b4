"""An approved control with a population, a draw and results, built directly with the models.

Built directly with the models rather than through the sampling services, so the report tests
(and the permission matrix, and the benchmark) do not depend on those rules and get, quickly,
what a finished review leaves behind:
a payments control of the demo plan, worked by ``granskare`` and approved by ``chef``.
Import it as ``tests.reports.scenario``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO

from flask import Flask
from flask.testing import FlaskClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.auth.models import Unit, User
from riskreg.controls.models import CheckType, Control, ControlStatus
from riskreg.controls.services import (
    change_status,
    create_control,
    raise_action,
    record_deviation,
    set_conclusion,
)
from riskreg.db import now_utc
from riskreg.reports.services import (
    SigningSettings,
    cosign_report,
    ensure_dev_keys,
    sign_review,
)
from riskreg.risks.models import Risk
from riskreg.sampling import stats
from riskreg.sampling.models import (
    AttributeResult,
    ItemResult,
    Population,
    PopulationItem,
    SampleDraw,
    SampleItem,
    SamplePlan,
)

RISK_FRAGMENT = "privata vårdgivare"
ATTRIBUTES = (
    "Giltigt avtal för perioden",
    "Beloppet stämmer med avtalets prislista",
    "Ingen dubbelutbetalning",
    "Attesterad av behörig person",
)
DEVIATION_DEFINITION = "Utbetalning utan giltigt avtal, med fel belopp, dubbel eller ej attesterad."
CONCLUSION = (
    "Utbetalningarna följer i allt väsentligt avtalen. En utbetalning översteg prislistan; "
    "återkrav är begärt och prislistan i ekonomisystemet rättas."
)


@dataclass(frozen=True)
class Scenario:
    control_id: int
    risk_title: str
    controller: str
    approver: str


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, f"no user {username}; load the demo first"
    return user


def payments_risk(session: Session) -> Risk:
    risk = session.scalar(select(Risk).where(Risk.title.contains(RISK_FRAGMENT)))
    assert risk is not None, "the demo plan's payments risk is missing"
    return risk


def build_approved_control(
    session: Session,
    *,
    now: datetime,
    items: int = 12,
    population: int = 400,
    deviations: tuple[int, ...] = (5,),
    controller: str = "granskare",
    approver: str = "chef",
    admin: str = "admin",
    title: str = "Utbetalningar till privata vårdgivare 2025",
) -> Scenario:
    """An approved payments control: attribute sample of ``items`` from ``population`` rows.

    ``deviations`` are the 1-based positions of the items found deviating (each gets a
    deviation and an action owned by CE). Flushes, does not commit.
    """
    risk = payments_risk(session)
    ce = session.scalar(select(Unit).where(Unit.code == "CE"))
    assert ce is not None
    controller_user, approver_user = _user(session, controller), _user(session, approver)
    start = now - timedelta(days=20)
    control = create_control(
        session,
        risk,
        title=title,
        check_type=CheckType.PAYMENTS,
        responsible_unit=ce,
        controllers=[controller_user],
        deviation_definition=DEVIATION_DEFINITION,
        deadline=risk.deadline,
        actor=_user(session, admin),
        now=start,
    )
    change_status(
        session,
        control,
        ControlStatus.IN_PROGRESS,
        actor=controller_user,
        now=start + timedelta(days=1),
    )
    rows = [
        {
            "betalnings_id": f"UTB-{n:05d}",
            "vårdgivare": f"Vårdcentralen Källbäcken AB {n % 7}",
            "avtal": f"VV-2024-{n % 17:03d}",
            "period": f"2025-{n % 6 + 1:02d}",
        }
        for n in range(1, population + 1)
    ]
    content = json.dumps(rows, ensure_ascii=False).encode()
    pop = Population(
        control=control,
        source="Raindance, leverantörsreskontra",
        period_start=datetime(2025, 1, 1).date(),
        period_end=datetime(2025, 6, 30).date(),
        file_name="utbetalningar_vårdval_2025H1.csv",
        file_sha256=hashlib.sha256(content).hexdigest(),
        row_count=population,
        total_amount_ore=sum(125_000 + n * 10 for n in range(1, population + 1)),
        imported_by=controller_user,
        imported_at=start + timedelta(days=2),
    )
    session.add(pop)
    session.flush()
    population_items = [
        PopulationItem(
            population_id=pop.id,
            line=n + 1,
            record_key=row["betalnings_id"],
            amount_ore=125_000 + n * 10,
            data_json=json.dumps(row, ensure_ascii=False),
        )
        for n, row in enumerate(rows, start=1)
    ]
    session.add_all(population_items)
    planned = stats.plan_attribute_sample(Decimal("0.95"), Decimal("0.05"), Decimal("0.01"))
    plan = SamplePlan(
        control=control,
        method="attribute",
        confidence=Decimal("0.95"),
        tolerable_rate=Decimal("0.05"),
        expected_rate=Decimal("0.01"),
        sample_size=items,
        allowed_deviations=planned.allowed_deviations,
        explanation=planned.explanation,
        justification="Stickprovet följer regionens anvisning för utbetalningskontroller.",
        created_by=controller_user,
        created_at=start + timedelta(days=2, minutes=5),
    )
    draw = SampleDraw(
        control=control,
        population=pop,
        plan=plan,
        seed="20250805",
        selection_method="simple_random",
        sample_size=items,
        status="drawn",
        drawn_by=controller_user,
        drawn_at=start + timedelta(days=2, minutes=10),
    )
    session.add_all([plan, draw])
    session.flush()
    step = max(1, population // items)
    for position in range(1, items + 1):
        deviating = position in deviations
        item = SampleItem(
            draw=draw,
            population_item_id=population_items[(position - 1) * step].id,
            position=position,
            result=(ItemResult.DEVIATION if deviating else ItemResult.OK).value,
            comment="Beloppet överstiger prislistan med 1 250,00 kr." if deviating else "",
            assessed_by=controller_user,
            assessed_at=start + timedelta(days=5),
        )
        item.attribute_results = [
            AttributeResult(
                attribute=name,
                result=(ItemResult.DEVIATION if deviating and index == 1 else ItemResult.OK).value,
            )
            for index, name in enumerate(ATTRIBUTES)
        ]
        session.add(item)
        session.flush()
        if deviating:
            deviation = record_deviation(
                session,
                control,
                description="Ersättning utbetald över avtalad nivå.",
                sample_item_id=item.id,
                recovery_claim_ore=125_000,
                actor=controller_user,
                now=start + timedelta(days=6),
            )
            raise_action(
                session,
                control,
                description="Återkräva mellanskillnaden och rätta prislistan i systemet.",
                owner_unit=ce,
                due_date=(now + timedelta(days=60)).date(),
                deviation=deviation,
                actor=controller_user,
                now=now - timedelta(days=1),
            )
    set_conclusion(session, control, CONCLUSION)
    change_status(
        session,
        control,
        ControlStatus.READY_FOR_REVIEW,
        actor=controller_user,
        now=now - timedelta(hours=3),
    )
    change_status(
        session, control, ControlStatus.APPROVED, actor=approver_user, now=now - timedelta(hours=1)
    )
    session.flush()
    return Scenario(control.id, risk.title, controller, approver)


def approved_control(session: Session, scenario: Scenario) -> Control:
    control = session.get(Control, scenario.control_id)
    assert control is not None
    return control


# ---------------------------------------------------------------- signing helpers


ClientAs = Callable[[str], FlaskClient]
"""The ``client_as`` fixture (tests/reports/conftest.py): a test client signed in as a demo user."""


def settings_for(app: Flask) -> SigningSettings:
    """The app's signing settings, after making sure the dev keys exist in its instance and
    every active signer (controller, approver, admin) has a personal certificate."""
    from riskreg.extensions import db
    from riskreg.reports.signers import issue_missing_certificates

    settings = SigningSettings.from_config(app.config, app.instance_path)
    ensure_dev_keys(settings.personal_keys_dir, "Region Västmanland")
    settings = SigningSettings.from_config(app.config, app.instance_path)
    assert settings.passphrase is not None
    with app.app_context():
        issue_missing_certificates(
            db.session(),
            db.session.scalars(select(User)).all(),
            keys_dir=settings.personal_keys_dir,
            passphrase=settings.passphrase,
            organisation="Region Västmanland",
            now=now_utc() - timedelta(hours=2),
        )
        db.session.commit()
    return settings


def user(session: Session, username: str) -> User:
    return _user(session, username)


def sign_both(app: Flask, scenario: Scenario, *, now: datetime | None = None) -> int:
    """Certify as the controller and co-sign as the approver; commits; returns the report id."""
    from riskreg.extensions import db

    moment = now or now_utc()
    settings = settings_for(app)
    with app.app_context():
        control = approved_control(db.session(), scenario)
        report = sign_review(
            db.session(),
            control,
            actor=_user(db.session(), scenario.controller),
            now=moment,
            settings=settings,
        )
        cosign_report(
            db.session(),
            report,
            actor=_user(db.session(), scenario.approver),
            now=moment + timedelta(minutes=1),
            settings=settings,
        )
        db.session.commit()
        return report.id


def build(app: Flask, **kwargs: object) -> Scenario:
    """``build_approved_control`` in its own app context, committed."""
    from riskreg.extensions import db

    with app.app_context():
        scenario = build_approved_control(db.session, now=now_utc(), **kwargs)  # type: ignore[arg-type]
        db.session.commit()
        return scenario


# ---------------------------------------------------------------- tampering helpers


def flip_byte_in_first_page(content: bytes) -> bytes:
    """Change one byte inside page 1's content stream, which both signatures cover."""
    reader = PdfFileReader(BytesIO(content))
    ref = reader.root["/Pages"]["/Kids"][0].raw_get("/Contents")
    header = re.search(rb"\n%d 0 obj\b" % ref.idnum, content)
    assert header is not None
    start = content.index(b"stream", header.end()) + len(b"stream\n")
    tampered = bytearray(content)
    tampered[start + 40] ^= 0x01
    return bytes(tampered)


def append_text_revision(content: bytes) -> bytes:
    """A new revision that writes text on page 1, leaving every signature's bytes intact."""
    writer = IncrementalPdfFileWriter(BytesIO(content))
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/FT"): writer.add_object(font)}
            )
        }
    )
    stream = generic.StreamObject(stream_data=b"BT /FT 24 Tf 60 420 Td (INGA AVVIKELSER) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream), resources=resources)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
