"""Shared page layout for riskreg's PDF reports: fonts, styles, footer, signature page.

Both reports (review and follow-up) share one page geometry so that the signature boxes sit
at the same, known place on the last page. :func:`signature_box` exposes that place to the
signing code; the PDF draws only a thin frame and a label there and leaves the inside empty,
so a visible signature never covers report text.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from riskreg.money import format_sek

from ._tagging import TaggedParagraph, Tagger, mark_split_parts, table_render_callback
from .data import ExpectedSignature, SignerRole

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 50.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_Y = 28.0

#: Signature boxes on the last page, as (x1, y1, x2, y2) in PDF points from the bottom left.
_SIGNATURE_RECTS: tuple[tuple[float, float, float, float], ...] = (
    (MARGIN, 440.0, MARGIN + 400.0, 510.0),
    (MARGIN, 310.0, MARGIN + 400.0, 380.0),
)
#: The signature page's text frame ends above the first box's label.
_SIGNATURE_FRAME_BOTTOM = 535.0

HEADER_BG = colors.HexColor("#dfe7f0")
GRID = colors.HexColor("#9aa5b1")
ZEBRA = colors.HexColor("#f5f7fa")
DEVIATION_BG = colors.HexColor("#f8d7da")
UNCLEAR_BG = colors.HexColor("#fff3cd")

Box = tuple[int, float, float, float, float]


def signature_box(slot: int) -> Box:
    """Where signature number ``slot`` (0 = controller, 1 = approver) goes.

    Returns ``(page_index, x1, y1, x2, y2)`` with ``page_index == -1`` (the last page), the
    form :func:`riskreg.reports.signing.sign_pdf` takes as ``box``.
    """
    if not 0 <= slot < len(_SIGNATURE_RECTS):
        raise ValueError(f"the signature page has {len(_SIGNATURE_RECTS)} boxes, not {slot + 1}")
    x1, y1, x2, y2 = _SIGNATURE_RECTS[slot]
    return (-1, x1, y1, x2, y2)


def register_fonts() -> None:
    """Register the bundled DejaVu TTFs once; the base-14 fonts cannot show every glyph we need.

    Embedding our own font is what makes å, ä, ö (and –, ×, ≥) render and extract as text
    everywhere, independent of the reader's installed fonts.
    """
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    # No oblique face ships with the app: map italics to the upright faces so <i> cannot fail.
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


def _style(name: str, **kwargs: Any) -> ParagraphStyle:
    base: dict[str, Any] = {"fontName": FONT, "fontSize": 9.5, "leading": 12.5}
    base.update(kwargs)
    return ParagraphStyle(name, alignment=TA_LEFT, **base)


STYLES: dict[str, ParagraphStyle] = {
    "title": _style("title", fontName=FONT_BOLD, fontSize=19, leading=24, spaceAfter=4),
    "subtitle": _style("subtitle", fontSize=12.5, leading=16, spaceAfter=10),
    "h1": _style(
        "h1",
        fontName=FONT_BOLD,
        fontSize=13,
        leading=17,
        spaceBefore=12,
        spaceAfter=5,
        keepWithNext=1,
    ),
    "h2": _style(
        "h2",
        fontName=FONT_BOLD,
        fontSize=10.5,
        leading=14,
        spaceBefore=8,
        spaceAfter=3,
        keepWithNext=1,
    ),
    "body": _style("body", spaceAfter=5),
    "meta": _style("meta", fontSize=9, leading=12, textColor=colors.HexColor("#333333")),
    "cell": _style("cell", fontSize=8, leading=10),
    "cell_bold": _style("cell_bold", fontName=FONT_BOLD, fontSize=8, leading=10),
    "cell_small": _style("cell_small", fontSize=7, leading=9, textColor=colors.HexColor("#444444")),
    "label": _style("label", fontName=FONT_BOLD, fontSize=8.5, leading=11),
}


# ---------------------------------------------------------------- text helpers


def text(value: str) -> str:
    """Escape user text for a Paragraph and keep its line breaks.

    Paragraphs parse a mini-markup, so '&' or '<' in a risk title would otherwise break the
    build or, worse, be interpreted as markup.
    """
    return escape(value).replace("\r\n", "\n").replace("\n", "<br/>")


def para(value: str, style: str = "body") -> Paragraph:
    """A (tagged) Paragraph of plain user text (escaped) in one of :data:`STYLES`."""
    return TaggedParagraph(text(value), STYLES[style])


def markup(value: str, style: str = "body") -> Paragraph:
    """A (tagged) Paragraph of trusted markup written by this module (caller escapes user
    parts)."""
    return TaggedParagraph(value, STYLES[style])


class TaggedTable(Table):
    """A table that tags its rows and cells (see :mod:`riskreg.reports._tagging`); the parts
    of a table split over pages stay one Table element."""

    tag_header_columns: int = 0  # leading columns whose cells head their rows (TH scope Row)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("renderCB", table_render_callback)
        super().__init__(*args, **kwargs)

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        return mark_split_parts(self, super().split(availWidth, availHeight))


def fmt_int(value: int) -> str:
    """Swedish thousands grouping with a non-breaking space: 12 345."""
    return f"{value:,}".replace(",", "\u00a0")


def fmt_ore(ore: int | None) -> str:
    """Öre to kronor as Swedes write it: 1 234 567,89 kr (exact, no float)."""
    if ore is None:
        return "–"
    return format_sek(ore)


def fmt_date(value: date | None) -> str:
    """ISO 8601 date, the Swedish standard form (2025-09-01)."""
    return value.isoformat() if value is not None else "–"


def fmt_datetime(value: datetime | None) -> str:
    """Date and minute in the datetime's own zone (callers pass Europe/Stockholm)."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "–"


# ---------------------------------------------------------------- tables


def grid_table(
    rows: Sequence[Sequence[Any]],
    col_widths: Sequence[float],
    *,
    header_rows: int = 1,
    extra_style: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A bordered table whose header repeats on every page it spans (``repeatRows``)."""
    table = TaggedTable(
        list(rows),
        colWidths=list(col_widths),
        repeatRows=header_rows,
        splitInRow=_split_in_row(rows, col_widths),
        hAlign="LEFT",
    )
    style: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("ROWBACKGROUNDS", (0, header_rows), (-1, -1), [colors.white, ZEBRA]),
    ]
    if header_rows:
        style.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), HEADER_BG))
    style.extend(extra_style)
    table.setStyle(TableStyle(style))
    return table


#: A row taller than this cannot be moved whole to a fresh page (A4 frame is ~742 pt high).
_MAX_UNSPLIT_ROW = 600.0


def _split_in_row(rows: Sequence[Sequence[Any]], col_widths: Sequence[float]) -> int:
    """Allow splitting inside a row only when some row would not fit on any page.

    ReportLab otherwise raises LayoutError for such a row (a pasted, very long comment), but
    allowing in-row splits everywhere also cuts ordinary rows at page ends, which reads badly.
    """
    for row in rows:
        for cell, width in zip(row, col_widths, strict=False):
            if isinstance(cell, Paragraph) and cell.wrap(width - 6, 1e6)[1] > _MAX_UNSPLIT_ROW:
                return 1
    return 0


def header_cells(labels: Sequence[str]) -> list[Paragraph]:
    """Bold, wrapping header cells."""
    return [para(label, "cell_bold") for label in labels]


def kv_table(rows: Sequence[tuple[str, str]], label_width: float = 150.0) -> Table:
    """Two-column label/value table for the descriptive parts of a report."""
    data = [[para(label, "cell_bold"), para(value, "cell")] for label, value in rows]
    widths = [label_width, CONTENT_WIDTH - label_width]
    table = TaggedTable(
        data, colWidths=widths, splitInRow=_split_in_row(data, widths), hAlign="LEFT"
    )
    table.tag_header_columns = 1  # the labels head their rows
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (0, -1), ZEBRA),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


# ---------------------------------------------------------------- canvas and pages


class NumberedCanvas(Canvas):
    """Canvas that writes "Sida X av Y" in every footer.

    Y is unknown until the whole story has been laid out, so each page's drawing state is kept
    and the footers are drawn at :meth:`save` time (the usual two-pass trick for ReportLab).
    """

    def __init__(self, *args: Any, footer_left: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_states: list[dict[str, Any]] = []
        self._footer_left = footer_left
        self.tagger = Tagger()

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # Canvas internal the stubs omit

    def save(self) -> None:
        total = len(self._page_states)
        for index, state in enumerate(self._page_states):
            self.__dict__.update(state)
            self._draw_footer(total)
            self.tagger.bookmark_page(self, index)
            super().showPage()
        self.tagger.outline(self)
        self.tagger.finish(self._doc, total)  # type: ignore[attr-defined]  # as above
        super().save()

    def _draw_footer(self, total: int) -> None:
        self.tagger.begin_artifact(self)
        self.saveState()
        self.setStrokeColor(GRID)
        self.setLineWidth(0.4)
        self.line(MARGIN, FOOTER_Y + 11, PAGE_WIDTH - MARGIN, FOOTER_Y + 11)
        self.setFont(FONT, 8)
        self.setFillColor(colors.HexColor("#444444"))
        self.drawString(MARGIN, FOOTER_Y, self._footer_left)
        page = self._pageNumber  # type: ignore[attr-defined]  # Canvas internal, no stub
        self.drawRightString(PAGE_WIDTH - MARGIN, FOOTER_Y, f"Sida {page} av {total}")
        self.restoreState()
        self.tagger.end_artifact(self)


def _signature_page_painter(
    signatures: Sequence[ExpectedSignature],
) -> Callable[[Canvas, BaseDocTemplate], None]:
    """onPage callback drawing a labelled, empty frame per expected signature."""

    def paint(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        # The boxes and their labels are page furniture: the story's table names the signers.
        tagger = getattr(canvas, "tagger", None)
        if tagger is not None:
            tagger.begin_artifact(canvas)
        canvas.saveState()
        for slot, expected in enumerate(signatures[: len(_SIGNATURE_RECTS)]):
            x1, y1, x2, y2 = _SIGNATURE_RECTS[slot]
            canvas.setFont(FONT_BOLD, 9)
            canvas.setFillColor(colors.black)
            canvas.drawString(x1, y2 + 6, _signature_label(expected))
            canvas.setStrokeColor(GRID)
            canvas.setDash(2, 2)
            canvas.setLineWidth(0.6)
            canvas.rect(x1, y1, x2 - x1, y2 - y1, stroke=1, fill=0)
            canvas.setDash()
        canvas.restoreState()
        if tagger is not None:
            tagger.end_artifact(canvas)

    return paint


ROLE_LABELS = {
    SignerRole.CONTROLLER: "Granskare",
    SignerRole.COORDINATOR: "Samordnare",
    SignerRole.APPROVER: "Godkännare",
}


def _signature_label(expected: ExpectedSignature) -> str:
    role = ROLE_LABELS[expected.role]
    detail = f" ({expected.title})" if expected.title else ""
    return f"{role}: {expected.name}{detail}"


def build_document(
    story: list[Flowable],
    *,
    title: str,
    subject: str,
    footer_left: str,
    signatures: Sequence[ExpectedSignature],
    created_at: datetime | None = None,
) -> bytes:
    """Lay out ``story`` on A4 pages and append the signature page; return the PDF bytes.

    ``invariant=1`` removes the random document ID, so the same data gives the same bytes:
    tests can compare builds and a re-generated report hashes the same. The creation and
    modification dates in the document information are ``created_at`` (the report's own
    "Rapporten skapad" time), not ReportLab's invariant 2000-01-01.
    """
    if len(signatures) > len(_SIGNATURE_RECTS):
        raise ValueError(f"at most {len(_SIGNATURE_RECTS)} signatures fit on the signature page")
    register_fonts()
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author="riskreg",
        subject=subject,
        creator="riskreg",
        invariant=1,
        lang="sv-SE",
        displayDocTitle=1,
    )
    body_frame = Frame(
        MARGIN, MARGIN, CONTENT_WIDTH, PAGE_HEIGHT - 2 * MARGIN, id="body", showBoundary=0
    )
    sig_frame = Frame(
        MARGIN,
        _SIGNATURE_FRAME_BOTTOM,
        CONTENT_WIDTH,
        PAGE_HEIGHT - MARGIN - _SIGNATURE_FRAME_BOTTOM,
        id="signatures",
    )
    doc.addPageTemplates(
        [
            PageTemplate(id="body", frames=[body_frame]),
            PageTemplate(
                id="signatures", frames=[sig_frame], onPage=_signature_page_painter(signatures)
            ),
        ]
    )
    full_story = [
        *story,
        NextPageTemplate("signatures"),
        PageBreak(),
        *_signature_story(signatures),
    ]

    def canvasmaker(*args: Any, **kwargs: Any) -> NumberedCanvas:
        canvas = NumberedCanvas(*args, footer_left=footer_left, **kwargs)
        if created_at is not None:
            canvas._doc._timeStamp = _timestamp(created_at)  # type: ignore[attr-defined]  # no stub
        return canvas

    doc.build(full_story, canvasmaker=canvasmaker)
    return buffer.getvalue()


def _timestamp(moment: datetime) -> TimeStamp:
    """ReportLab's TimeStamp for a given aware datetime (it only knows "now" or 2000-01-01)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the creation time must be timezone-aware")
    stamp = TimeStamp(invariant=1)
    offset = int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]
    hours, minutes = divmod(abs(offset) // 60, 60)
    stamp.t = moment.timestamp()
    stamp.lt = moment.timetuple()
    stamp.YMDhms = tuple(moment.timetuple())[:6]
    stamp.dhh = hours if offset >= 0 else -hours
    stamp.dmm = minutes
    stamp.tzname = moment.tzname() or "UTC"
    return stamp


def _signature_story(signatures: Sequence[ExpectedSignature]) -> list[Flowable]:
    """Text above the signature boxes: what the signatures mean and who is expected."""
    story: list[Flowable] = [
        para("Signaturer", "h1"),
        para(
            "Var och en signerar rapporten elektroniskt (PAdES) med ett personligt certifikat "
            "som namnger personen; signaturens stämpel anger vem som signerade och vilken "
            "utfärdare (CA) som utfärdade certifikatet. Den första signaturen certifierar "
            "dokumentet; därefter får endast godkännarens medsignatur läggas till. Varje "
            "senare ändring av filen upptäcks när signaturerna "
            "kontrolleras i en PDF-läsare eller i riskreg."
        ),
        Spacer(1, 4),
    ]
    if signatures:
        rows: list[list[Any]] = [header_cells(["Roll", "Namn", "Enhet"])]
        for expected in signatures:
            role = ROLE_LABELS[expected.role]
            rows.append(
                [para(role, "cell"), para(expected.name, "cell"), para(expected.title, "cell")]
            )
        story.append(grid_table(rows, [110, 180, CONTENT_WIDTH - 290]))
    return story
