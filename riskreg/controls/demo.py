"""Demo controls: one per risk of the 2025 plan, with their deviation definitions written.

All are left planned except the CHR control (salary changes), which is in progress with a
draft conclusion, a deviation and two actions: one overdue, one due in two weeks, so that the
reminders and "Mitt arbete" have something to show. The sampling demo runs after this one and
takes the payments, passcards, hygiene and referrals controls further (it finds them by check
type). Dates of the in-progress work are relative to `now`, so the demo runs on any day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk


@dataclass(frozen=True)
class DemoControl:
    risk_contains: str  # a part of the risk's title in the plan file
    title: str
    check_type: CheckType
    unit: str
    controller: str
    deviation_definition: str
    attributes: tuple[str, ...] = ()


CONTROLS = (
    DemoControl(
        "privata vårdgivare",
        "Utbetalningar till privata vårdgivare januari–maj 2025",
        CheckType.PAYMENTS,
        "CE",
        "granskare",
        "En utbetalning är en avvikelse om det saknas giltigt avtal för perioden, om beloppet "
        "inte följer avtalets prislista, om den är en dubbelbetalning eller om den inte är "
        "attesterad av en behörig person. Varje fel belopp räknas, oavsett storlek.",
    ),
    DemoControl(
        "passerkort",
        "Behörighet för passerkort och nycklar 2025",
        CheckType.PASSCARDS,
        "Staben",
        "granskare2",
        "Ett kort eller en nyckel är en avvikelse om innehavaren inte längre är anställd eller "
        "uppdragstagare, om behörighetszonerna går utöver vad rollen kräver, eller om det "
        "saknas kvittens på att kortet eller nyckeln har kvitterats ut.",
    ),
    DemoControl(
        "basala hygienrutiner",
        "Följsamhet till basala hygienrutiner och klädregler (PPM-BHK) 2025",
        CheckType.HYGIENE,
        "Smittskydd",
        "granskare2",
        "En observation är en avvikelse om något av de åtta stegen (handdesinfektion före och "
        "efter, handskar, förkläde/skyddsrock, kortärmad arbetsdräkt, inga ringar/klockor/"
        "armband, korta naglar utan lack, kort eller uppsatt hår) är bedömt N. Steg som "
        "bedömts EA (ej aktuellt) räknas inte.",
    ),
    DemoControl(
        "remisshantering",
        "Remisshantering enligt SOSFS 2004:11 och regional riktlinje 2025",
        CheckType.REFERRALS,
        "POU staben",
        "granskare2",
        "En remiss är en avvikelse om den inte registrerats i tid, inte bedömts av behörig "
        "person, saknar dokumenterat beslut, saknar remissvar, om patienten inte informerats "
        "eller om vårdgarantins tid inte hållits.",
    ),
    DemoControl(
        "Avtal gällande personal",
        "Ny lön vid byte från tillsvidareanställning till timanställning",
        CheckType.GENERIC,
        "CHR",
        "granskare",
        "En anställning är en avvikelse om lönen efter bytet inte följer gällande avtal och "
        "riktlinjer, om lönebeslutet saknar attest av behörig chef, eller om ändringen inte "
        "registrerats före första utbetalningen.",
        (
            "Lönen efter bytet följer gällande avtal och riktlinjer",
            "Lönebeslutet är attesterat av behörig chef",
            "Ändringen är registrerad i lönesystemet före första utbetalningen",
        ),
    ),
    DemoControl(
        "kemiska arbetsmiljö",
        "Bedömning av kemiska arbetsmiljö- och miljörisker 2025",
        CheckType.GENERIC,
        "Staben",
        "granskare2",
        "En kemisk produkt är en avvikelse om riskbedömning saknas, om den inte gjorts enligt "
        "fastställd rutin, eller om åtgärder som bedömningen kräver inte är genomförda.",
        (
            "Riskbedömning finns för produkten",
            "Riskbedömningen följer fastställd rutin och är signerad",
            "Aktuellt säkerhetsdatablad finns tillgängligt",
            "Skyddsåtgärder som bedömningen kräver är genomförda",
        ),
    ),
    DemoControl(
        "avtalstrohet",
        "Avtalstrohet vid inköp 2025",
        CheckType.GENERIC,
        "CE",
        "granskare",
        "Ett inköp är en avvikelse om det gjorts hos annan än upphandlad leverantör utan "
        "tillåten direktupphandling, om artikeln inte ingår i avtalet, eller om priset "
        "avviker från avtalets.",
        (
            "Leverantören är upphandlad, eller inköpet är en tillåten direktupphandling",
            "Artikeln ingår i avtalet",
            "Priset följer avtalet",
        ),
    ),
)

IN_PROGRESS = "Avtal gällande personal"  # the CHR control taken further below


def _risk(plan: Plan, contains: str) -> Risk:
    found = [r for r in plan.risks if contains.lower() in r.title.lower()]
    if len(found) != 1:
        raise LookupError(f"the demo plan has {len(found)} risks matching {contains!r}")
    return found[0]


def load(
    session: Session,
    *,
    now: datetime,
    users: dict[str, User],
    units: dict[str, Unit],
    plan: Plan,
) -> dict[str, Control]:
    """Create the demo controls; returns them by the part of the risk title used to find them."""
    created: dict[str, Control] = {}
    for spec in CONTROLS:
        risk = _risk(plan, spec.risk_contains)
        in_progress = spec.risk_contains == IN_PROGRESS
        created[spec.risk_contains] = create_control(
            session,
            risk,
            title=spec.title,
            check_type=spec.check_type,
            responsible_unit=units[spec.unit],
            controllers=[users[spec.controller]],
            deviation_definition=spec.deviation_definition,
            attributes_text="\n".join(spec.attributes),
            actor=users["admin"],
            # The control taken further was planned some weeks ago; the others today.
            now=now - timedelta(days=40) if in_progress else now,
        )
    _take_further(session, created[IN_PROGRESS], now=now, users=users, units=units)
    return created


def _take_further(
    session: Session,
    control: Control,
    *,
    now: datetime,
    users: dict[str, User],
    units: dict[str, Unit],
) -> None:
    controller = users["granskare"]
    change_status(
        session, control, ControlStatus.IN_PROGRESS, actor=controller, now=now - timedelta(days=35)
    )
    deviation = record_deviation(
        session,
        control,
        description=(
            "Två av 25 kontrollerade anställningar fick efter bytet till timanställning samma "
            "timlön som tidigare månadslön omräknad, i stället för avtalets timlön."
        ),
        actor=controller,
        now=now - timedelta(days=30),
    )
    raise_action(
        session,
        control,
        description=(
            "Rätta lönen för de två anställningarna och reglera mellanskillnaden retroaktivt."
        ),
        owner_unit=units["CHR"],
        due_date=(now - timedelta(days=5)).date(),  # overdue
        actor=controller,
        now=now - timedelta(days=30),
        deviation=deviation,
    )
    raise_action(
        session,
        control,
        description=(
            "Komplettera lönerutinen med hur lönen sätts vid byte från tillsvidare- till "
            "timanställning i samma uppdrag, och informera lönehandläggarna."
        ),
        owner_unit=units["CHR"],
        due_date=(now + timedelta(days=14)).date(),
        actor=controller,
        now=now - timedelta(days=2),
        deviation=deviation,
    )
    set_conclusion(
        session,
        control,
        "Utkast: 2 avvikelser av 25 (8 %). Rutinen för lönesättning vid byte av "
        "anställningsform följs i huvudsak men är otydlig; se åtgärderna. Slutlig bedömning "
        "när åtgärderna har besvarats.",
    )
