"""Plain data describing the reports riskreg renders and signs.

These frozen dataclasses are the contract between the application (Flask views, SQLAlchemy
models) and the PDF builders in :mod:`riskreg.reports.pdf`. They deliberately know nothing of
the ORM or of Flask: the web layer copies what it has into them, and the PDF code only reads
them. That keeps report rendering a pure function of its input, which is what makes a signed
report reproducible and testable.

Conventions:

* Every sequence is a ``tuple`` so the objects stay immutable and hashable.
* Money is held as an ``int`` number of öre, never as a float, so totals are exact.
* Datetimes should be timezone-aware (Europe/Stockholm for display); they are printed as given.
* Values that come from the statistics code (deviation rate, upper limit, …) arrive already
  formatted as text. The PDF renders; it does not re-derive audit figures, so the report can
  never disagree with what the controller saw in the application.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from riskreg.glossary import ACTION_STATES

#: Where the public specification of the selection rules lives (in the source distribution).
SPEC_LOCATION = "docs/sampling.md"
__all__ = [
    "DEFAULT_CONSEQUENCE_LABELS",
    "DEFAULT_PROBABILITY_LABELS",
    "SPEC_LOCATION",
    "Action",
    "ActionStatus",
    "AttributeResult",
    "Control",
    "Deviation",
    "EvidenceFile",
    "ExpectedSignature",
    "Figure",
    "FollowupAction",
    "FollowupReport",
    "FollowupRow",
    "HeatCell",
    "HeatMap",
    "ItemResult",
    "Organisation",
    "PlanInfo",
    "Population",
    "Reproduction",
    "ReviewReport",
    "ReviewSummary",
    "Risk",
    "SampledItem",
    "SamplingPlan",
    "SignerRole",
    "StatusEvent",
    "TrafficLight",
    "default_heat_map",
    "default_risk_colour",
]


class ItemResult(StrEnum):
    """Overall result of one sampled item, using the words the controllers use."""

    OK = "OK"
    DEVIATION = "avvikelse"
    NOT_ASSESSABLE = "ej bedömbar"


class ActionStatus(StrEnum):
    """Where an action (åtgärd) stands. Only ``DONE`` counts as closed in the follow-up.

    The words are the glossary's (``riskreg.glossary.ACTION_STATES``), as in the app: the
    owner answers, the controller verifies.
    """

    NOT_STARTED = ACTION_STATES["open"]
    IN_PROGRESS = ACTION_STATES["answered"]
    DONE = ACTION_STATES["verified"]

    @property
    def is_open(self) -> bool:
        """True while the action still needs work; the follow-up counts open vs closed."""
        return self is not ActionStatus.DONE


class TrafficLight(StrEnum):
    """Traffic light per control in the follow-up report to the nämnd."""

    GREEN = "grön"
    YELLOW = "gul"
    RED = "röd"


class SignerRole(StrEnum):
    """Who signs a report. The controller (for the follow-up: the internal control coordinator)
    certifies first, the approver co-signs."""

    CONTROLLER = "granskare"
    COORDINATOR = "samordnare"  # certifies the yearly follow-up instead of a controller
    APPROVER = "godkännare"


@dataclass(frozen=True)
class Organisation:
    """The organisation the report belongs to, e.g. Region Västmanland / a förvaltning."""

    name: str
    administration: str = ""


@dataclass(frozen=True)
class Risk:
    """The plan row the control comes from (risk- och väsentlighetsanalys + IKP).

    ``risk_value`` is stored, not computed, because the report must show the risktal exactly
    as adopted in the plan, even if a matrix setting changes later.
    """

    title: str
    probability: int
    consequence: int
    risk_value: int
    review_area: str
    governing_rules: str
    method: str


@dataclass(frozen=True)
class StatusEvent:
    """One step in a control's history: who did what, and when (audit trail in the report)."""

    at: datetime
    actor: str
    action: str
    note: str = ""


@dataclass(frozen=True)
class Control:
    """The check (granskning) itself as planned in the IKP."""

    title: str
    check_type: str
    responsible_unit: str
    deadline: date
    deviation_definition: str
    status_history: tuple[StatusEvent, ...] = ()
    controllers: str = ""


@dataclass(frozen=True)
class Population:
    """The population the sample was drawn from, so anyone can re-draw the same sample.

    ``sha256`` is the hex digest of the imported file; together with the seed it pins the
    selection down completely. Unknown dates (a population without a stated period, a
    hygiene review made of observations rather than an imported file) are ``None`` and print
    as "–".
    """

    source: str
    period_start: date | None
    period_end: date | None
    size: int
    total_amount_ore: int | None
    file_name: str
    sha256: str
    imported_by: str
    imported_at: datetime | None


@dataclass(frozen=True)
class Figure:
    """A labelled, already formatted number, e.g. ("Konfidensnivå", "95 %")."""

    label: str
    value: str


@dataclass(frozen=True)
class SamplingPlan:
    """How the sample was chosen and why (ISA 530).

    ``attributes`` lists what is checked on each item, in order; the item table refers to
    them by their 1-based number to keep the table readable.
    """

    method: str
    parameters: tuple[Figure, ...]
    sample_size: int
    allowed_deviations: int | None
    reasoning: str
    seed: str
    selection_method: str
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvidenceFile:
    """A file attached to a sampled item as evidence, pinned by its SHA-256."""

    file_name: str
    sha256: str


@dataclass(frozen=True)
class AttributeResult:
    """Result of one attribute on one item, e.g. ("Giltigt avtal", "OK") or ("Handsprit", "J")."""

    attribute: str
    value: str


@dataclass(frozen=True)
class SampledItem:
    """One sampled item: its key in the population and what the controller found."""

    key: str
    description: str
    attribute_results: tuple[AttributeResult, ...]
    result: ItemResult
    comment: str = ""
    evidence: tuple[EvidenceFile, ...] = ()


@dataclass(frozen=True)
class Action:
    """An action (åtgärd) decided because of a deviation."""

    description: str
    owner_unit: str
    due_date: date
    status: ActionStatus


@dataclass(frozen=True)
class Deviation:
    """A deviation found in the review, with the actions taken on it.

    ``item_key`` is empty for deviations that concern the routine rather than one item.
    """

    description: str
    item_key: str = ""
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class ExpectedSignature:
    """A signature the report expects, drawn as a labelled box on the signature page.

    ``field_name`` is the name of the PDF signature field that ``sign_pdf`` fills (keep it
    ASCII, e.g. "Granskare", "Godkannare": some readers mangle non-ASCII field names); the
    order of the report's ``signatures`` decides which box (slot 0, 1) belongs to whom.
    """

    role: SignerRole
    name: str
    title: str
    field_name: str


@dataclass(frozen=True)
class ReviewSummary:
    """The first page, for the nämnd: the verdict and what was found, in words (the page
    also lists every action of the report's deviations with its status)."""

    verdict: str
    deviations: str


@dataclass(frozen=True)
class Reproduction:
    """ "Så återskapas urvalet": what anyone needs to draw the same sample again."""

    rows: tuple[Figure, ...]
    text: str


@dataclass(frozen=True)
class ReviewReport:
    """Everything a signed review report (granskningsrapport) shows."""

    reference: str
    organisation: Organisation
    plan_year: int
    section_title: str
    risk: Risk
    control: Control
    population: Population
    sampling_plan: SamplingPlan
    items: tuple[SampledItem, ...]
    deviations: tuple[Deviation, ...]
    evaluation_lines: tuple[str, ...]
    evaluation_figures: tuple[Figure, ...]
    conclusion: str
    signatures: tuple[ExpectedSignature, ...]
    generated_at: datetime
    summary: ReviewSummary | None = None
    reproduction: Reproduction | None = None
    item_key_label: str = "Post"


@dataclass(frozen=True)
class PlanInfo:
    """The internal control plan a follow-up reports on, with its adoption decision."""

    year: int
    title: str
    adopted_on: date | None = None
    minutes_paragraph: str = ""
    diary_number: str = ""


@dataclass(frozen=True)
class FollowupRow:
    """One control in the follow-up report: status in a word, a light and the counts."""

    section_title: str
    control_title: str
    responsible_unit: str
    risk_value: int
    deadline: date
    status: str
    traffic_light: TrafficLight
    items_checked: int
    deviations: int
    actions_open: int
    actions_closed: int
    comment: str = ""
    deviation_rate: str = ""
    upper_limit: str = ""
    verdict: str = ""


@dataclass(frozen=True)
class FollowupAction:
    """An action listed in the follow-up, so the nämnd sees the status of every action."""

    control_title: str
    description: str
    owner_unit: str
    due_date: date
    status: ActionStatus


@dataclass(frozen=True)
class HeatCell:
    """One cell of the risk matrix: how many risks sit there and its colour (``#rrggbb``)."""

    count: int
    colour: str


@dataclass(frozen=True)
class HeatMap:
    """An n×n risk matrix (4×4 by default).

    ``cells[p][c]`` is the cell for sannolikhet ``p + 1`` and konsekvens ``c + 1``; the PDF
    draws probability on the vertical axis (highest at the top) and consequence horizontally.
    """

    cells: tuple[tuple[HeatCell, ...], ...]
    probability_labels: tuple[str, ...]
    consequence_labels: tuple[str, ...]

    def __post_init__(self) -> None:
        size = len(self.cells)
        if size == 0 or any(len(row) != size for row in self.cells):
            raise ValueError("heat map cells must form a non-empty square grid")
        if len(self.probability_labels) != size or len(self.consequence_labels) != size:
            raise ValueError("heat map needs one axis label per row and per column")

    @property
    def size(self) -> int:
        """Number of levels on each axis."""
        return len(self.cells)


@dataclass(frozen=True)
class FollowupReport:
    """The yearly follow-up (uppföljning av internkontrollplanen) sent to the nämnd."""

    reference: str
    organisation: Organisation
    plan: PlanInfo
    rows: tuple[FollowupRow, ...]
    heat_map: HeatMap
    summary_lines: tuple[str, ...]
    signatures: tuple[ExpectedSignature, ...]
    generated_at: datetime
    actions: tuple[FollowupAction, ...] = ()


DEFAULT_PROBABILITY_LABELS: tuple[str, ...] = (
    "Osannolik",
    "Mindre sannolik",
    "Möjlig",
    "Sannolik",
)
DEFAULT_CONSEQUENCE_LABELS: tuple[str, ...] = ("Försumbar", "Lindrig", "Kännbar", "Allvarlig")

_LOW_COLOUR = "#8bc34a"
_MEDIUM_COLOUR = "#ffd54f"
_HIGH_COLOUR = "#e57373"


def default_risk_colour(risk_value: int) -> str:
    """Colour of the default bands: 1–3 Låg (green), 4–8 Medel (yellow), 9–16 Hög (red)."""
    if risk_value <= 3:
        return _LOW_COLOUR
    if risk_value <= 8:
        return _MEDIUM_COLOUR
    return _HIGH_COLOUR


def default_heat_map(counts: tuple[tuple[int, ...], ...]) -> HeatMap:
    """Build a 4×4 heat map with the default labels and colours from a grid of counts.

    ``counts[p][c]`` is the number of risks with sannolikhet ``p + 1``, konsekvens ``c + 1``.
    Organisations with their own matrix build :class:`HeatMap` directly instead.
    """
    cells = tuple(
        tuple(
            HeatCell(count=count, colour=default_risk_colour((p + 1) * (c + 1)))
            for c, count in enumerate(row)
        )
        for p, row in enumerate(counts)
    )
    return HeatMap(
        cells=cells,
        probability_labels=DEFAULT_PROBABILITY_LABELS,
        consequence_labels=DEFAULT_CONSEQUENCE_LABELS,
    )
