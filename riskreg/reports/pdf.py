"""Render review and follow-up reports as PDF (ReportLab platypus).

Both builders are pure functions: the same data gives the same bytes (ReportLab's invariant
mode, no clock, no randomness), and nothing is read from Flask or the database. The result
ends with a signature page whose boxes are at :func:`signature_box` positions, ready for
:func:`riskreg.reports.signing.sign_pdf`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from reportlab.platypus import Flowable, PageBreak, Spacer, TableStyle

from riskreg.glossary import CHECK_TYPE, OBJECT_TYPES, OBJECT_TYPES_PLURAL

from ._graphics import HeatMapFlowable, TrafficLightFlowable
from ._layout import (
    CONTENT_WIDTH,
    DEVIATION_BG,
    HEADER_BG,
    UNCLEAR_BG,
    Box,
    build_document,
    fmt_date,
    fmt_datetime,
    fmt_int,
    fmt_ore,
    grid_table,
    header_cells,
    kv_table,
    markup,
    para,
    register_fonts,
    signature_box,
    text,
)
from ._tagging import TaggedFigure
from .data import (
    Control,
    Deviation,
    FollowupReport,
    FollowupRow,
    ItemResult,
    Organisation,
    Population,
    Reproduction,
    ReviewReport,
    Risk,
    SampledItem,
    SamplingPlan,
)

__all__ = [
    "ITEM_TABLE_HEADER",
    "Box",
    "build_followup_report",
    "build_review_report",
    "signature_box",
]

#: Column headers of the sampled-items table; repeated at the top of every page it spans.
ITEM_TABLE_HEADER: tuple[str, ...] = (
    "Nr",
    "Post",
    "Beskrivning",
    "Attributresultat",
    "Resultat",
    "Kommentar",
)
_ITEM_COL_WIDTHS = (22.0, 82.0, 140.0, 110.0, 52.0, CONTENT_WIDTH - 406.0)
_RESULT_LABELS = {
    ItemResult.OK: "OK",
    ItemResult.DEVIATION: "Avvikelse",
    ItemResult.NOT_ASSESSABLE: "Ej bedömbar",
}
_RESULT_BG = {ItemResult.DEVIATION: DEVIATION_BG, ItemResult.NOT_ASSESSABLE: UNCLEAR_BG}


# ============================================================== review report


def build_review_report(data: ReviewReport) -> bytes:
    """Render a completed review (granskning) as an unsigned PDF.

    Sections follow the order an auditor reads a documented sample (ISA 530): plan row and
    risk, the control, the population, the sampling plan, every item, deviations and actions,
    evaluation, conclusion, then the signature page.
    """
    register_fonts()
    story: list[Flowable] = [
        *_review_title(data),
        *_summary_section(data),
        PageBreak(),
        *_risk_section(data.risk),
        *_control_section(data.control),
        *_population_section(data.population),
        *_sampling_section(data.sampling_plan),
        *_reproduction_section(data.reproduction),
        *_items_section(data.items, data.sampling_plan.attributes, data.item_key_label),
        *_deviations_section(data.deviations),
        *_evaluation_section(data),
        para("9. Slutsats", "h1"),
        para(data.conclusion or "–"),
    ]
    return build_document(
        story,
        title=f"Granskningsrapport: {data.control.title}",
        subject=(
            f"Intern kontroll {data.plan_year}, {data.organisation.name}, "
            f"granskning {data.reference}"
        ),
        footer_left=_footer(data.organisation, data.reference),
        signatures=data.signatures,
        created_at=data.generated_at,
    )


def _footer(organisation: Organisation, reference: str) -> str:
    return f"{organisation.name} · {reference}"


def _org_line(organisation: Organisation) -> str:
    if organisation.administration:
        return f"{organisation.name} – {organisation.administration}"
    return organisation.name


def _review_title(data: ReviewReport) -> list[Flowable]:
    return [
        para("Granskningsrapport – intern kontroll", "title"),
        para(data.control.title, "subtitle"),
        kv_table(
            [
                ("Organisation", _org_line(data.organisation)),
                ("Internkontrollplan", f"{data.plan_year} – {data.section_title}"),
                ("Risk", data.risk.title),
                ("Rapport-ID", data.reference),
                ("Rapporten skapad", fmt_datetime(data.generated_at)),
            ]
        ),
    ]


def _summary_section(data: ReviewReport) -> list[Flowable]:
    """Page one for the nämnd: the conclusion, what was found, every action and its status."""
    flow: list[Flowable] = [para("Sammanfattning", "h1")]
    summary = data.summary
    rows = [("Slutsats", data.conclusion or "Ingen slutsats är skriven.")]
    if summary is not None:
        rows += [("Bedömning", summary.verdict), ("Avvikelser", summary.deviations)]
    flow.append(kv_table(rows))
    actions = tuple(action for deviation in data.deviations for action in deviation.actions)
    flow.append(para("Åtgärder", "h2"))
    if not actions:
        flow.append(para("Inga åtgärder är beslutade."))
        return flow
    rows_: list[list[Any]] = [header_cells(["Åtgärd", "Ansvarig enhet", "Klart senast", "Status"])]
    rows_ += [
        [
            para(action.description, "cell"),
            para(action.owner_unit, "cell"),
            para(fmt_date(action.due_date), "cell"),
            para(action.status.value, "cell"),
        ]
        for action in actions
    ]
    flow.append(grid_table(rows_, [220, 120, 60, CONTENT_WIDTH - 400]))
    flow.append(
        para(
            "Status: Öppen = inte besvarad av den ansvariga enheten; Besvarad = besvarad men "
            "ännu inte verifierad av granskaren; Verifierad = genomförd och kontrollerad.",
            "meta",
        )
    )
    return flow


def _risk_section(risk: Risk) -> list[Flowable]:
    return [
        para("1. Risk och kontrollområde", "h1"),
        kv_table(
            [
                ("Risk", risk.title),
                (
                    "Riskbedömning",
                    f"Sannolikhet (S) {risk.probability} × konsekvens (K) "
                    f"{risk.consequence} = risktal {risk.risk_value}",
                ),
                ("Granskningsområde", risk.review_area),
                ("Berört reglemente, policy eller regler", risk.governing_rules),
                ("Metod för granskning", risk.method),
            ]
        ),
    ]


def _control_section(control: Control) -> list[Flowable]:
    flow: list[Flowable] = [
        para("2. Granskning", "h1"),
        kv_table(
            [
                (CHECK_TYPE, control.check_type),
                ("Ansvarig enhet", control.responsible_unit),
                ("Granskare", control.controllers or "–"),
                ("Granskning klar senast", fmt_date(control.deadline)),
                ("Vad räknas som avvikelse", control.deviation_definition),
            ]
        ),
    ]
    if control.status_history:
        rows: list[list[Any]] = [header_cells(["Tidpunkt", "Vem", "Händelse", "Kommentar"])]
        rows += [
            [
                para(fmt_datetime(event.at), "cell"),
                para(event.actor, "cell"),
                para(event.action, "cell"),
                para(event.note, "cell"),
            ]
            for event in control.status_history
        ]
        flow += [para("Händelser", "h2"), grid_table(rows, [78, 120, 140, CONTENT_WIDTH - 338])]
    return flow


def _population_section(population: Population) -> list[Flowable]:
    return [
        para("3. Population", "h1"),
        kv_table(
            [
                ("Källa", population.source),
                (
                    "Period",
                    f"{fmt_date(population.period_start)} – {fmt_date(population.period_end)}",
                ),
                ("Antal poster", fmt_int(population.size)),
                ("Totalt belopp", fmt_ore(population.total_amount_ore)),
                ("Fil", population.file_name),
                ("SHA-256", population.sha256),
                (
                    "Importerad",
                    f"{fmt_datetime(population.imported_at)} av {population.imported_by}",
                ),
            ]
        ),
    ]


def _sampling_section(plan: SamplingPlan) -> list[Flowable]:
    rows = [
        ("Urvalsmetod", plan.method),
        ("Urvalsteknik", plan.selection_method),
        *((figure.label, figure.value) for figure in plan.parameters),
        ("Stickprovets storlek (n)", fmt_int(plan.sample_size)),
    ]
    if plan.allowed_deviations is not None:
        rows.append(
            ("Avvikelser som planen räknar med i urvalet", fmt_int(plan.allowed_deviations))
        )
    rows.append(("Slumpfrö (seed)", plan.seed))
    flow: list[Flowable] = [
        para("4. Urval", "h1"),
        kv_table(rows),
        para("Motivering av urvalets storlek", "h2"),
        para(plan.reasoning or "–"),
    ]
    if plan.attributes:
        listing = "<br/>".join(
            f"{number}. {text(name)}" for number, name in enumerate(plan.attributes, start=1)
        )
        flow += [para("Kontrollerade attribut per post", "h2"), markup(listing)]
    return flow


def _reproduction_section(reproduction: Reproduction | None) -> list[Flowable]:
    flow: list[Flowable] = [para("5. Så återskapas urvalet", "h1")]
    if reproduction is None:
        return [*flow, para("Inget urval är draget.")]
    rows = kv_table([(f.label, f.value) for f in reproduction.rows])
    return [*flow, rows, Spacer(1, 4), para(reproduction.text)]


def _items_section(
    items: Sequence[SampledItem], attributes: Sequence[str], key_label: str = "Post"
) -> list[Flowable]:
    counts = Counter(item.result for item in items)
    summary = kv_table(
        [(_RESULT_LABELS[result], fmt_int(counts[result])) for result in ItemResult]
        + [("Totalt", fmt_int(len(items)))],
        label_width=150,
    )
    flow: list[Flowable] = [para("6. Granskade poster", "h1"), summary, Spacer(1, 6)]
    if not items:
        return [*flow, para("Inga poster granskades.")]
    numbers = {name: number for number, name in enumerate(attributes, start=1)}
    header = list(ITEM_TABLE_HEADER)
    header[1] = key_label
    rows: list[list[Any]] = [header_cells(header)]
    style: list[tuple[Any, ...]] = []
    for index, item in enumerate(items, start=1):
        rows.append(_item_row(index, item, numbers))
        if item.result in _RESULT_BG:
            style.append(("BACKGROUND", (4, index), (4, index), _RESULT_BG[item.result]))
    flow.append(grid_table(rows, _ITEM_COL_WIDTHS, extra_style=style))
    return [*flow, *_evidence_list(items)]


def _evidence_list(items: Sequence[SampledItem]) -> list[Flowable]:
    """Every evidence file per item with its SHA-256, so a file can be matched to the report."""
    with_files = [item for item in items if item.evidence]
    flow: list[Flowable] = [para("Underlag per post", "h2")]
    if not with_files:
        return [*flow, para("Inga underlagsfiler är bifogade.")]
    rows: list[list[Any]] = [header_cells(["Post", "Fil", "SHA-256"])]
    for item in with_files:
        for evidence in item.evidence:
            rows.append(
                [
                    para(item.key, "cell"),
                    para(evidence.file_name, "cell"),
                    para(evidence.sha256, "cell_small"),
                ]
            )
    return [*flow, grid_table(rows, [82, 118, CONTENT_WIDTH - 200])]


def _item_row(index: int, item: SampledItem, numbers: dict[str, int]) -> list[Any]:
    parts = [
        f"{numbers.get(result.attribute, result.attribute)}:\u00a0{result.value}"
        for result in item.attribute_results
    ]
    return [
        para(str(index), "cell"),
        para(item.key, "cell"),
        para(item.description, "cell"),
        para(" · ".join(parts), "cell"),
        para(item.result.value, "cell"),
        para(item.comment, "cell"),
    ]


def _deviations_section(deviations: Sequence[Deviation]) -> list[Flowable]:
    flow: list[Flowable] = [para("7. Avvikelser och åtgärder", "h1")]
    if not deviations:
        return [*flow, para("Inga avvikelser noterades.")]
    rows: list[list[Any]] = [
        header_cells(["Post", "Avvikelse", "Åtgärd", "Ansvarig enhet", "Klart senast", "Status"])
    ]
    for deviation in deviations:
        actions = deviation.actions or (None,)
        for action in actions:
            rows.append(
                [
                    para(deviation.item_key or "–", "cell"),
                    para(deviation.description, "cell"),
                    para(action.description if action else "Ingen åtgärd beslutad", "cell"),
                    para(action.owner_unit if action else "–", "cell"),
                    para(fmt_date(action.due_date) if action else "–", "cell"),
                    para(action.status.value if action else "–", "cell"),
                ]
            )
    return [*flow, grid_table(rows, [58, 120, 130, 82, 55, CONTENT_WIDTH - 445])]


def _evaluation_section(data: ReviewReport) -> list[Flowable]:
    flow: list[Flowable] = [para("8. Utvärdering", "h1")]
    flow += [para(line) for line in data.evaluation_lines]
    if data.evaluation_figures:
        flow.append(kv_table([(f.label, f.value) for f in data.evaluation_figures], 200))
    if len(flow) == 1:
        flow.append(para("–"))
    return flow


# ============================================================== follow-up report


_FOLLOWUP_HEADER = (
    OBJECT_TYPES["control"],
    "Ansvarig enhet",
    "Risktal",
    "Trafikljus",
    "Poster",
    "Avvikelser",
    "Åtgärder ej verifierade / verifierade",
)
_FOLLOWUP_COL_WIDTHS = (160.0, 72.0, 38.0, 58.0, 38.0, 62.0, CONTENT_WIDTH - 428.0)


def build_followup_report(data: FollowupReport) -> bytes:
    """Render the yearly follow-up of the internal control plan for the nämnd.

    Heat map first (where the risks are), then one row per control with its traffic light and
    counts, then every action with its status, then the signature page.
    """
    register_fonts()
    story: list[Flowable] = [
        *_followup_title(data),
        para("Riskkarta", "h1"),
        para("Antal risker per kombination av sannolikhet och konsekvens.", "meta"),
        Spacer(1, 6),
        TaggedFigure(HeatMapFlowable(data.heat_map), _heat_map_alt(data)),
        para(OBJECT_TYPES_PLURAL["control"], "h1"),
        _followup_table(data.rows),
        *_followup_actions(data),
    ]
    return build_document(
        story,
        title=f"Uppföljning av internkontrollplan {data.plan.year}",
        subject=f"{data.plan.title}, {data.organisation.name}, {data.reference}",
        footer_left=_footer(data.organisation, data.reference),
        signatures=data.signatures,
        created_at=data.generated_at,
    )


def _heat_map_alt(data: FollowupReport) -> str:
    """The heat map in words, for the Figure's /Alt."""
    heat = data.heat_map
    cells = [
        f"{heat.probability_labels[p]} × {heat.consequence_labels[c]}: {cell.count}"
        for p, row in enumerate(heat.cells)
        for c, cell in enumerate(row)
        if cell.count
    ]
    return "Riskkarta, antal risker per sannolikhet × konsekvens: " + (
        "; ".join(cells) or "inga risker"
    )


def _followup_title(data: FollowupReport) -> list[Flowable]:
    plan = data.plan
    adopted = fmt_date(plan.adopted_on) if plan.adopted_on else "ej fastställd"
    if plan.minutes_paragraph:
        adopted += f", {plan.minutes_paragraph}"
    rows = [
        ("Organisation", _org_line(data.organisation)),
        ("Plan", plan.title),
        ("Fastställd", adopted),
        ("Diarienummer", plan.diary_number or "–"),
        ("Rapport-ID", data.reference),
        ("Rapporten skapad", fmt_datetime(data.generated_at)),
    ]
    flow: list[Flowable] = [
        para(f"Uppföljning av internkontrollplanen {plan.year}", "title"),
        para(plan.title, "subtitle"),
        kv_table(rows),
    ]
    if data.summary_lines:
        flow += [para("Sammanfattning", "h1"), *(para(line) for line in data.summary_lines)]
    return flow


def _followup_table(rows: Sequence[FollowupRow]) -> Flowable:
    """One row per control, grouped under a spanning row per plan section."""
    data: list[list[Any]] = [header_cells(_FOLLOWUP_HEADER)]
    style: list[tuple[Any, ...]] = []
    current_section: str | None = None
    for row in rows:
        if row.section_title != current_section:
            current_section = row.section_title
            index = len(data)
            data.append([para(row.section_title, "cell_bold"), "", "", "", "", "", ""])
            style += [
                ("SPAN", (0, index), (-1, index)),
                ("BACKGROUND", (0, index), (-1, index), HEADER_BG),
            ]
        data.append(_followup_row(row))
    if len(data) == 1:
        return para("Planen innehåller inga kontroller.")
    table = grid_table(data, _FOLLOWUP_COL_WIDTHS, extra_style=style)
    table.setStyle(TableStyle([("VALIGN", (3, 1), (3, -1), "MIDDLE")]))
    return table


def _followup_row(row: FollowupRow) -> list[Any]:
    details = f"Klart senast {fmt_date(row.deadline)} · {text(row.status)}"
    if row.verdict:
        measure = f"övre gräns {row.upper_limit}" if row.upper_limit else ""
        if row.deviation_rate:
            measure = f"avvikelsefrekvens {row.deviation_rate}" + (
                f", {measure}" if measure else ""
            )
        details += f"<br/>{text(row.verdict)}" + (f" ({text(measure)})" if measure else "")
    if row.comment:
        details += f"<br/>{text(row.comment)}"
    return [
        [para(row.control_title, "cell_bold"), markup(details, "cell_small")],
        para(row.responsible_unit, "cell"),
        para(str(row.risk_value), "cell"),
        TrafficLightFlowable(row.traffic_light),
        para(fmt_int(row.items_checked), "cell"),
        para(fmt_int(row.deviations), "cell"),
        para(f"{row.actions_open} / {row.actions_closed}", "cell"),
    ]


def _followup_actions(data: FollowupReport) -> list[Flowable]:
    flow: list[Flowable] = [para("Åtgärder", "h1")]
    if not data.actions:
        return [*flow, para("Inga åtgärder är registrerade.")]
    rows: list[list[Any]] = [
        header_cells(
            [OBJECT_TYPES["control"], "Åtgärd", "Ansvarig enhet", "Klart senast", "Status"]
        )
    ]
    rows += [
        [
            para(action.control_title, "cell"),
            para(action.description, "cell"),
            para(action.owner_unit, "cell"),
            para(fmt_date(action.due_date), "cell"),
            para(action.status.value, "cell"),
        ]
        for action in data.actions
    ]
    return [*flow, grid_table(rows, [130, 170, 75, 58, CONTENT_WIDTH - 433])]
