"""Realistic report data for the tests (payments to private care providers, 2025)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from riskreg.reports.data import (
    Action,
    ActionStatus,
    AttributeResult,
    Control,
    Deviation,
    ExpectedSignature,
    Figure,
    FollowupAction,
    FollowupReport,
    FollowupRow,
    ItemResult,
    Organisation,
    PlanInfo,
    Population,
    ReviewReport,
    Risk,
    SampledItem,
    SamplingPlan,
    SignerRole,
    StatusEvent,
    TrafficLight,
    default_heat_map,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PASSPHRASE = b"korrekt h\xc3\xa4st batteri"  # "korrekt häst batteri" in UTF-8

RISK_TITLE = (
    "Risk för felaktiga utbetalningar till privata vårdgivare inom vårdval "
    "(LOV) – ersättning utöver avtalad prislista"
)
ATTRIBUTES = (
    "Giltigt avtal för perioden",
    "Beloppet stämmer med avtalets prislista",
    "Ingen dubbelutbetalning",
    "Attesterad av behörig person",
)
CONTROLLER = ExpectedSignature(
    role=SignerRole.CONTROLLER,
    name="Anna Åström",
    title="Controller, Ekonomistaben",
    field_name="Granskare",
)
APPROVER = ExpectedSignature(
    role=SignerRole.APPROVER,
    name="Örjan Ängström",
    title="Förvaltningschef",
    field_name="Godkannare",
)


def _item(number: int) -> SampledItem:
    deviating = number % 37 == 0
    unclear = number % 53 == 0
    results = tuple(
        AttributeResult(name, "Avvikelse" if deviating and i == 1 else "OK")
        for i, name in enumerate(ATTRIBUTES)
    )
    if deviating:
        result = ItemResult.DEVIATION
        comment = "Beloppet överstiger prislistan med 1 250,00 kr; återkrav övervägs."
    elif unclear:
        result = ItemResult.NOT_ASSESSABLE
        comment = "Underlag saknas i ärendehanteringssystemet; begärt från enheten."
    else:
        result = ItemResult.OK
        comment = ""
    return SampledItem(
        key=f"UTB-{number:05d}",
        description=(
            f"Vårdcentralen Källbäcken AB, avtal VV-{2020 + number % 5}-{number % 17:03d}, "
            f"period 2025-{number % 12 + 1:02d}"
        ),
        attribute_results=results,
        result=result,
        comment=comment,
    )


def make_review_report(n_items: int = 150) -> ReviewReport:
    """A realistic, multi-page review report (payments to private care providers)."""
    items = tuple(_item(n) for n in range(1, n_items + 1))
    deviations = tuple(
        Deviation(
            description="Ersättning utbetald över avtalad nivå.",
            item_key=item.key,
            actions=(
                Action(
                    description="Återkräva mellanskillnaden och stämma av prislistan i systemet.",
                    owner_unit="Vårdvalsenheten",
                    due_date=date(2025, 12, 15),
                    status=ActionStatus.IN_PROGRESS,
                ),
            ),
        )
        for item in items
        if item.result is ItemResult.DEVIATION
    )
    return ReviewReport(
        reference="IK-2025-007",
        organisation=Organisation("Region Västmanland", "Hälso- och sjukvårdsförvaltningen"),
        plan_year=2025,
        section_title="Förvaltningens kontrollområden",
        risk=Risk(
            title=RISK_TITLE,
            probability=3,
            consequence=4,
            risk_value=12,
            review_area="Utbetalningar till privata vårdgivare",
            governing_rules="Regionens attestreglemente; avtal enligt lagen om valfrihetssystem",
            method="Stickprov av utbetalningar; kontroll mot avtal och prislista",
        ),
        control=Control(
            title="Utbetalningar till privata vårdgivare 2025",
            check_type="Utbetalningar (vårdval/LOV)",
            responsible_unit="Ekonomistaben",
            deadline=date(2025, 10, 31),
            deviation_definition=(
                "Utbetalning utan giltigt avtal, med fel belopp, dubbel eller ej attesterad."
            ),
            status_history=(
                StatusEvent(
                    datetime(2025, 8, 4, 9, 15, tzinfo=STOCKHOLM), "Anna Åström", "Planerad"
                ),
                StatusEvent(
                    datetime(2025, 8, 5, 10, 2, tzinfo=STOCKHOLM),
                    "Anna Åström",
                    "Population importerad",
                ),
                StatusEvent(
                    datetime(2025, 8, 5, 10, 7, tzinfo=STOCKHOLM),
                    "Anna Åström",
                    "Urval draget",
                    "Monetary-unit sampling, seed 20250805",
                ),
                StatusEvent(
                    datetime(2025, 9, 1, 13, 55, tzinfo=STOCKHOLM), "Anna Åström", "Granskning klar"
                ),
            ),
        ),
        population=Population(
            source="Raindance, leverantörsreskontra",
            period_start=date(2025, 1, 1),
            period_end=date(2025, 6, 30),
            size=12_480,
            total_amount_ore=84_512_345_67,
            file_name="utbetalningar_vårdval_2025H1.csv",
            sha256="3f" * 32,
            imported_by="Anna Åström",
            imported_at=datetime(2025, 8, 5, 10, 2, tzinfo=STOCKHOLM),
        ),
        sampling_plan=SamplingPlan(
            method="Beloppsurval, MUS (statistiskt)",
            parameters=(
                Figure("Konfidensnivå", "95 %"),
                Figure("Tolerabel avvikelsefrekvens", "5 %"),
                Figure("Förväntad avvikelsefrekvens", "1 %"),
            ),
            sample_size=n_items,
            allowed_deviations=3,
            reasoning=(
                "Storleken ger 95 % säkerhet att avvikelsefrekvensen understiger 5 % om högst "
                "tre avvikelser påträffas. Större belopp får högre urvalssannolikhet."
            ),
            seed="20250805",
            selection_method="Systematiskt urval med slumpmässig start",
            attributes=ATTRIBUTES,
        ),
        items=items,
        deviations=deviations,
        evaluation_lines=(
            "Avvikelserna gäller ersättningsnivåer där prislistan ändrades under perioden.",
        ),
        evaluation_figures=(
            Figure("Avvikelsefrekvens i urvalet", "2,7 %"),
            Figure("Övre gräns (95 %)", "6,2 %"),
        ),
        conclusion=(
            "Kontrollen visar brister i uppdateringen av prislistor. Åtgärder är beslutade och "
            "följs upp i nästa års internkontrollplan."
        ),
        signatures=(CONTROLLER, APPROVER),
        generated_at=datetime(2025, 9, 1, 14, 0, tzinfo=STOCKHOLM),
    )


def make_followup_report() -> FollowupReport:
    """A follow-up report with both plan sections and all three traffic lights."""
    rows = (
        FollowupRow(
            "Regionövergripande kontrollområden",
            "Löneändringar utanför löneöversyn",
            "CHR",
            9,
            date(2025, 10, 31),
            "Genomförd",
            TrafficLight.GREEN,
            40,
            0,
            0,
            0,
        ),
        FollowupRow(
            "Regionövergripande kontrollområden",
            "Direktupphandlingar och avtalstrohet",
            "Staben",
            12,
            date(2025, 11, 30),
            "Genomförd",
            TrafficLight.YELLOW,
            60,
            3,
            1,
            2,
            "Tre köp utan avtal; rutin för inköp ses över.",
        ),
        FollowupRow(
            "Förvaltningens kontrollområden",
            "Utbetalningar till privata vårdgivare",
            "Ekonomistaben",
            12,
            date(2025, 10, 31),
            "Genomförd",
            TrafficLight.RED,
            150,
            4,
            4,
            0,
            "Återkrav pågår.",
        ),
        FollowupRow(
            "Förvaltningens kontrollområden",
            "Basala hygienrutiner och klädregler",
            "Smittskydd",
            16,
            date(2025, 12, 15),
            "Pågående",
            TrafficLight.YELLOW,
            310,
            41,
            2,
            0,
            "Följsamhet 86,5 % (mål 90 %).",
        ),
    )
    actions = (
        FollowupAction(
            "Utbetalningar till privata vårdgivare",
            "Återkräva mellanskillnaden",
            "Vårdvalsenheten",
            date(2025, 12, 15),
            ActionStatus.IN_PROGRESS,
        ),
        FollowupAction(
            "Direktupphandlingar och avtalstrohet",
            "Uppdatera inköpsrutinen",
            "Staben",
            date(2026, 3, 31),
            ActionStatus.NOT_STARTED,
        ),
    )
    return FollowupReport(
        reference="UPF-2025",
        organisation=Organisation("Region Västmanland", "Hälso- och sjukvårdsförvaltningen"),
        plan=PlanInfo(
            2025,
            "Internkontrollplan 2025 för hälso- och sjukvårdsförvaltningen",
            date(2024, 12, 10),
            "§ 187",
            "RV 2024-01234",
        ),
        rows=rows,
        heat_map=default_heat_map(((2, 1, 0, 0), (1, 3, 2, 1), (0, 2, 4, 2), (0, 1, 1, 3))),
        summary_lines=("Av fyra kontroller är tre genomförda; en pågår.",),
        signatures=(CONTROLLER, APPROVER),
        generated_at=datetime(2026, 1, 20, 9, 30, tzinfo=STOCKHOLM),
        actions=actions,
    )
