"""Demo sample checks: realistic small populations, plans, draws, results and conclusions.

Runs after the controls demo step, which plans one control per 2025 risk; the controls are
found by check type (and created here only if that step has not made them). Everything is
deterministic: the populations come from a fixed random seed and the draws use fixed seeds
(a real draw takes its seed from the CSPRNG).

End state: payments approved (ready to be signed), passcards ready for review, hygiene in
progress with 120 observations, referrals planned.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from riskreg.auth.models import Role, Unit, User
from riskreg.controls.models import CheckType, Control, ControlStatus
from riskreg.controls.services import change_status, create_control, set_conclusion
from riskreg.money import format_kronor, format_sek
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk
from riskreg.sampling import drawing, importing, item_results, lookups, planning
from riskreg.sampling.checktypes import attributes_for
from riskreg.sampling.evaluation import evaluate
from riskreg.sampling.evidence import ALLOWED_KINDS, evidence_dir, store_evidence
from riskreg.sampling.models import ItemResult, SampleItem, SamplingMethod, SelectionMethod
from riskreg.uploads import check_upload

POPULATION_SEED = 20250531
PAYMENTS_SEED = "demo0000000000000000000000000001"
PASSCARDS_SEED = "demo0000000000000000000000000002"

CONTROL_DEFAULTS = {
    CheckType.PAYMENTS: (
        "privata vårdgivare",
        "Utbetalningar till privata vårdgivare januari–maj 2025",
        "granskare",
        "En utbetalning som saknar giltigt avtal för perioden, avviker från avtalets "
        "prislista, är en dubbelutbetalning eller inte är attesterad av behörig person.",
    ),
    CheckType.PASSCARDS: (
        "passerkort",
        "Passerkort och nycklar: behörigheter 2025",
        "granskare2",
        "Ett aktivt kort vars innehavare inte längre är anställd eller har uppdrag, vars "
        "zoner inte motsvarar rollen eller som inte är kvitterat.",
    ),
    CheckType.HYGIENE: (
        "hygienrutiner",
        "Basala hygienrutiner och klädregler, PPM-BHK 2025",
        "granskare2",
        "En observation där något av de åtta stegen inte följs (N).",
    ),
    CheckType.REFERRALS: (
        "remisshantering",
        "Remisshantering enligt SOSFS 2004:11",
        "granskare2",
        "En remiss som inte registrerats, bedömts, besvarats eller meddelats patienten "
        "enligt föreskriften och den regionala riktlinjen.",
    ),
}

PROVIDERS = (
    ("Vårdcentralen Kungsgärdet AB", "VV-2023-011"),
    ("Capio Vårdcentral Västerås City", "VV-2022-004"),
    ("Praktikertjänst Vårdcentralen Skiljebo", "VV-2021-017"),
    ("Läkarhuset Köping AB", "VV-2023-021"),
    ("Citykliniken Sala", "VV-2024-002"),
    ("Vårdcentralen Bäckby Hälsan AB", "VV-2022-013"),
    ("Kry Västmanland vårdcentral", "VV-2024-009"),
    ("Familjeläkarna i Arboga", "VV-2021-006"),
    ("Hälsocentralen Fagersta Norra", "VV-2023-030"),
    ("Närakuten Västerås AB", "LOV-2024-001"),
    ("Fysio Mälardalen AB", "LOV-2022-014"),
    ("Ögonkliniken Västerås HB", "LOV-2023-007"),
)
PAYMENT_KINDS = (
    ("Kapitering listade", 180_000, 950_000),
    ("Besöksersättning", 8_000, 140_000),
    ("Målrelaterad ersättning", 5_000, 60_000),
    ("Tolkkostnader", 1_000, 18_000),
)
FIRST_NAMES = ("Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Mikael", "Sara",
               "Per", "Lena", "Anders", "Emma", "Nils", "Ingrid", "Oskar", "Elin", "Gustav")
LAST_NAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson",
              "Olsson", "Persson", "Svensson", "Gustafsson", "Lindqvist", "Åberg", "Öberg")
CARD_UNITS = (
    ("Akutmottagningen", "Entré, Akuten, Läkemedelsrum"),
    ("Avd 21 Medicin", "Entré, Avd 21, Läkemedelsrum"),
    ("Avd 43 Kirurgi", "Entré, Avd 43, Operation"),
    ("Röntgen", "Entré, Röntgen"),
    ("Förvaltningsstaben", "Entré, Kontor plan 5"),
)
HYGIENE_UNITS = (("Avd 21 Medicin", 45), ("Avd 43 Kirurgi", 50), ("Akutmottagningen", 25))
HYGIENE_PROFESSIONS = ("Undersköterska", "Sjuksköterska", "Läkare", "Övrig personal")


def load(
    session: Session,
    *,
    now: datetime,
    users: dict[str, User],
    units: dict[str, Unit],
    plan: Plan,
) -> None:
    rng = random.Random(POPULATION_SEED)
    controls = {
        check_type: _control(session, plan, check_type, users, now)
        for check_type in CONTROL_DEFAULTS
    }
    _payments(session, controls[CheckType.PAYMENTS], users, units, now, rng)
    _passcards(session, controls[CheckType.PASSCARDS], users, units, now, rng)
    _hygiene(session, controls[CheckType.HYGIENE], now, rng)


def _control(
    session: Session, plan: Plan, check_type: CheckType, users: dict[str, User], now: datetime
) -> Control:
    words, title, controller, definition = CONTROL_DEFAULTS[check_type]
    existing = session.scalar(
        select(Control)
        .join(Risk, Control.risk_id == Risk.id)
        .where(Control.check_type == check_type.value, Risk.plan_id == plan.id)
        .order_by(Control.id)
    )
    if existing is not None:
        if not existing.deviation_definition.strip():
            existing.deviation_definition = definition
        return existing
    risk = next(r for r in plan.risks if words in r.title.casefold())
    return create_control(
        session,
        risk,
        title=title,
        check_type=check_type,
        responsible_unit=risk.responsible_unit,
        controllers=[users[controller]],
        deviation_definition=definition,
        actor=users["admin"],
        now=now,
    )


def _worker(control: Control, users: dict[str, User]) -> User:
    return control.controllers[0] if control.controllers else users["admin"]


def _start(session: Session, control: Control, actor: User, now: datetime) -> None:
    if control.status == ControlStatus.PLANNED:
        change_status(session, control, ControlStatus.IN_PROGRESS, actor=actor, now=now)


def _csv(header: list[str], rows: list[list[str]]) -> io.BytesIO:
    """Semicolon CSV in Windows-1252, as Excel on a Swedish Windows writes it."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode("cp1252"))


def _sek(ore: int) -> str:
    """An amount column as the region's exports write it: 1 234,56 (riskreg.money)."""
    return format_kronor(ore)


# --- payments -----------------------------------------------------------------------------------


def payment_rows(rng: random.Random, count: int = 400) -> list[list[str]]:
    rows = []
    for number in range(1, count + 1):
        provider, contract = PROVIDERS[rng.randrange(len(PROVIDERS))]
        month = rng.randint(1, 5)
        kind, low, high = PAYMENT_KINDS[rng.randrange(len(PAYMENT_KINDS))]
        amount = rng.randint(low * 100, high * 100)
        day = rng.randint(1, 28)
        rows.append(
            [
                f"UTB-2025-{number:05d}",
                provider,
                contract,
                f"2025-{month:02d} {kind}",
                _sek(amount),
                date(2025, month, day).isoformat(),
            ]
        )
    return rows


def _payments(
    session: Session,
    control: Control,
    users: dict[str, User],
    units: dict[str, Unit],
    now: datetime,
    rng: random.Random,
) -> None:
    if control.status != ControlStatus.PLANNED:
        return
    actor = _worker(control, users)
    _start(session, control, actor, now)
    header = ["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp", "Betalningsdatum"]
    importing.import_population(
        session,
        control,
        _csv(header, payment_rows(rng)),
        "utbetalningar-vardval-jan-maj-2025.csv",
        actor=actor,
        now=now,
        source="Ekonomisystemet, rapport Utbetalningar vårdval (demo)",
        period_start=date(2025, 1, 1),
        period_end=date(2025, 5, 31),
    )
    population = importing.current_population(session, control)
    assert population is not None and population.total_amount_ore
    # Tolerable 7 % and expected 1 % of the book value, in whole thousands of kronor.
    tolerable = population.total_amount_ore * 7 // 100
    expected = population.total_amount_ore // 100
    planning.plan_sample(
        session,
        control,
        method=SamplingMethod.MUS,
        actor=actor,
        now=now,
        confidence=Decimal("0.95"),
        tolerable_misstatement_ore=tolerable - tolerable % 100_000,
        expected_misstatement_ore=expected - expected % 100_000,
    )
    draw = drawing.draw_sample(
        session,
        control,
        selection_method=SelectionMethod.MUS_FIXED_INTERVAL,
        seed=PAYMENTS_SEED,
        actor=actor,
        now=now,
    )
    attributes = attributes_for(control)
    deviating = draw.items[min(2, len(draw.items) - 1)]
    for item in draw.items:
        book = item.population_item.amount_ore or 0
        if item is deviating:
            wrong = min(1_250_000, book // 10)
            results = dict.fromkeys(attributes, ItemResult.OK.value)
            results[attributes[1]] = ItemResult.DEVIATION.value
            item_results.record_result(
                session,
                item,
                attribute_results=results,
                overall=ItemResult.DEVIATION.value,
                actor=actor,
                now=now,
                comment="Besöksersättningen är beräknad med 2024 års prislista.",
                audited_amount_ore=book - wrong,
                deviation_description=(
                    "Utbetalningen följer inte avtalets prislista för 2025; "
                    f"{format_sek(wrong)} för mycket har betalats ut."
                ),
                recovery_claim_ore=wrong,
            )
            _demo_evidence(item, actor, now, wrong)
            item_results.raise_item_action(
                session,
                item,
                description="Återkräv det felaktigt utbetalda beloppet och uppdatera prislistan "
                "i ersättningssystemet.",
                owner_unit=units["CE"],
                due_date=now.date() + timedelta(days=60),
                actor=actor,
                now=now,
            )
        else:
            _all_ok(session, item, attributes, actor, now, audited=book)
    evaluation = evaluate(session, control)
    assert evaluation.mus is not None
    set_conclusion(
        session,
        control,
        "En av de granskade utbetalningarna var felaktig (fel prislista); beloppet återkrävs. "
        f"{evaluation.mus.explanation} Kontrollen bedöms fungera, men prislistorna i "
        "ersättningssystemet ska stämmas av vid varje årsskifte.",
    )
    change_status(session, control, ControlStatus.READY_FOR_REVIEW, actor=actor, now=now)
    approver = users["chef"]
    if approver.role == Role.APPROVER and not control.is_controller(approver):
        change_status(session, control, ControlStatus.APPROVED, actor=approver, now=now)


def _demo_evidence(item: SampleItem, actor: User, now: datetime, wrong: int) -> None:
    """A small PDF as evidence of the deviating payment (only with an app: it needs the
    instance folder)."""
    from flask import current_app, has_app_context
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    if not has_app_context():
        return
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle("Utbetalningsunderlag (demo)")
    key = item.population_item.record_key
    lines = (
        f"Utbetalningsunderlag {key} (demo)",
        "Prislista enligt avtal 2025: besöksersättning 1 045 kr per besök.",
        "Utbetalt enligt prislista 2024: 1 020 kr per besök.",
        f"Felaktigt utbetalt: {format_sek(wrong)}.",
    )
    for row, text in enumerate(lines):
        canvas.drawString(72, 770 - 20 * row, text)
    canvas.save()
    buffer.seek(0)
    upload = check_upload(
        FileStorage(buffer, filename=f"underlag-{key}.pdf"),
        allowed=ALLOWED_KINDS,
        max_bytes=int(current_app.config["EVIDENCE_MAX_BYTES"]),
    )
    with upload:
        store_evidence(
            item,
            upload,
            storage=evidence_dir(current_app.instance_path),
            actor=actor,
            now=now,
        )


def _all_ok(
    session: Session,
    item: SampleItem,
    attributes: tuple[str, ...],
    actor: User,
    now: datetime,
    audited: int | None = None,
) -> None:
    item_results.record_result(
        session,
        item,
        attribute_results=dict.fromkeys(attributes, ItemResult.OK.value),
        overall=ItemResult.OK.value,
        actor=actor,
        now=now,
        audited_amount_ore=audited,
    )


# --- passcards ----------------------------------------------------------------------------------


def passcard_rows(rng: random.Random, count: int = 300) -> list[list[str]]:
    rows = []
    for number in range(1, count + 1):
        unit, zones = CARD_UNITS[rng.randrange(len(CARD_UNITS))]
        holder = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        valid_to = date(2026, rng.randint(1, 12), rng.randint(1, 28))
        ended = ""
        if number % 12 == 0:  # about 25 leavers in the first half of 2025
            ended = date(2025, rng.randint(1, 6), rng.randint(1, 28)).isoformat()
        rows.append([f"K-{100000 + number}", holder, unit, zones, valid_to.isoformat(), ended])
    return rows


def _passcards(
    session: Session,
    control: Control,
    users: dict[str, User],
    units: dict[str, Unit],
    now: datetime,
    rng: random.Random,
) -> None:
    if control.status != ControlStatus.PLANNED:
        return
    actor = _worker(control, users)
    _start(session, control, actor, now)
    header = ["Kortnummer", "Innehavare", "Enhet", "Behörighetszoner", "Giltig till",
              "Anställning upphör"]
    importing.import_population(
        session,
        control,
        _csv(header, passcard_rows(rng)),
        "passerkort-2025-06-30.csv",
        actor=actor,
        now=now,
        source="Passersystemet, export aktiva kort (demo)",
        period_start=date(2025, 1, 1),
        period_end=date(2025, 6, 30),
    )
    planning.plan_sample(
        session,
        control,
        method=SamplingMethod.ATTRIBUTE,
        actor=actor,
        now=now,
        confidence=Decimal("0.95"),
        tolerable_rate=Decimal("0.10"),
        expected_rate=Decimal("0.01"),
    )
    population = importing.current_population(session, control)
    assert population is not None
    counts = lookups.stratum_counts(session, population)
    leavers = min(20, counts.get("avslutade", 0))
    draw = drawing.draw_sample(
        session,
        control,
        selection_method=SelectionMethod.STRATIFIED,
        seed=PASSCARDS_SEED,
        actor=actor,
        now=now,
        strata_sizes={"avslutade": leavers, "övriga": 50 - leavers},
    )
    attributes = attributes_for(control)
    deviating = next((i for i in draw.items if i.stratum == "avslutade"), draw.items[0])
    for item in draw.items:
        if item is deviating:
            results = dict.fromkeys(attributes, ItemResult.OK.value)
            results[attributes[0]] = ItemResult.DEVIATION.value
            item_results.record_result(
                session,
                item,
                attribute_results=results,
                overall=ItemResult.DEVIATION.value,
                actor=actor,
                now=now,
                comment="Kortet var aktivt två månader efter att anställningen upphörde.",
                deviation_description="Passerkortet spärrades inte när anställningen upphörde.",
            )
            item_results.raise_item_action(
                session,
                item,
                description="Spärra kortet och inför avstämning mot HR-systemets "
                "avslutade anställningar varje månad.",
                owner_unit=control.responsible_unit,
                due_date=now.date() + timedelta(days=45),
                actor=actor,
                now=now,
            )
        else:
            _all_ok(session, item, attributes, actor, now)
    set_conclusion(
        session,
        control,
        "Ett kort i urvalet tillhörde en person vars anställning hade upphört. Med de "
        "avslutade anställningarna översamplade kan en avvikelsefrekvens över den tolerabla "
        "inte uteslutas för hela populationen; avstämningen mot avslutade anställningar behöver "
        "göras varje månad.",
    )
    change_status(session, control, ControlStatus.READY_FOR_REVIEW, actor=actor, now=now)


# --- hygiene ------------------------------------------------------------------------------------


def hygiene_rows(rng: random.Random) -> list[list[str]]:
    rows = []
    for unit, count in HYGIENE_UNITS:
        for _ in range(count):
            steps = []
            for index in range(8):
                # gloves and aprons are often not needed (EA)
                not_needed = {2: 0.35, 3: 0.5}.get(index, 0.0)
                if rng.random() < not_needed:
                    steps.append("EA")
                else:
                    steps.append("N" if rng.random() < 0.025 else "J")
            rows.append(
                [
                    unit,
                    rng.choice(HYGIENE_PROFESSIONS),
                    date(2025, 3, rng.randint(3, 14)).isoformat(),
                    "Observation" if rng.random() < 0.8 else "Självskattning",
                    *steps,
                ]
            )
    return rows


def _hygiene(session: Session, control: Control, now: datetime, rng: random.Random) -> None:
    if control.status != ControlStatus.PLANNED:
        return
    actor = control.controllers[0] if control.controllers else None
    if actor is None:
        return
    _start(session, control, actor, now)
    planning.plan_sample(
        session,
        control,
        method=SamplingMethod.NON_STATISTICAL,
        actor=actor,
        now=now,
        sample_size=120,
        justification="PPM-BHK: minst 30 observationer per enhet under mätveckorna i mars.",
    )
    header = ["Enhet", "Yrke", "Datum", "Typ", *(f"Steg {i}" for i in range(1, 9))]
    importing.import_observations(
        session,
        control,
        _csv(header, hygiene_rows(rng)),
        "ppm-bhk-mars-2025.csv",
        actor=actor,
        now=now,
    )
