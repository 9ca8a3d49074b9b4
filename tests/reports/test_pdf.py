"""The unsigned PDFs: text, page numbering, repeated headers, metadata, determinism."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from report_helpers import page_count, pdftotext, squash
from report_samples import RISK_TITLE, make_review_report

from riskreg.reports.data import (
    FollowupReport,
    HeatCell,
    HeatMap,
    ReviewReport,
    default_heat_map,
)
from riskreg.reports.pdf import (
    ITEM_TABLE_HEADER,
    build_followup_report,
    build_review_report,
    signature_box,
)


@pytest.fixture(scope="module")
def review_pdf(review_data: ReviewReport) -> bytes:
    return build_review_report(review_data)


@pytest.fixture(scope="module")
def followup_pdf(followup_data: FollowupReport) -> bytes:
    return build_followup_report(followup_data)


def test_review_report_is_multipage_pdf(review_pdf: bytes) -> None:
    assert review_pdf.startswith(b"%PDF-")
    assert page_count(review_pdf) >= 5


def test_review_report_swedish_text_extracts_exactly(
    review_pdf: bytes, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    page1 = squash(pdftotext(poppler, review_pdf, tmp_path, 1, 1))
    assert RISK_TITLE in page1
    assert "Region Västmanland – Hälso- och sjukvårdsförvaltningen" in page1
    population = squash(pdftotext(poppler, review_pdf, tmp_path, 2, 3))
    assert "84 512 345,67 kr" in population.replace("\u00a0", " ")


def test_every_page_says_sida_x_av_y(
    review_pdf: bytes, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    total = page_count(review_pdf)
    for page in range(1, total + 1):
        assert f"Sida {page} av {total}" in pdftotext(poppler, review_pdf, tmp_path, page, page)


def test_item_table_header_repeats_on_every_page_with_items(
    review_pdf: bytes, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    total = page_count(review_pdf)

    def item_rows(page: int) -> str:
        """The page's text before the sections after the item table (which name items too)."""
        text = pdftotext(poppler, review_pdf, tmp_path, page, page)
        return re.split(r"Underlag per post|7\. Avvikelser och åtgärder", text)[0]

    pages_with_items = [page for page in range(1, total + 1) if "UTB-0" in item_rows(page)]
    assert len(pages_with_items) >= 4
    header = " ".join(ITEM_TABLE_HEADER)
    for page in pages_with_items:
        assert header in squash(pdftotext(poppler, review_pdf, tmp_path, page, page))


def test_all_items_are_listed(
    review_pdf: bytes, review_data: ReviewReport, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    text = pdftotext(poppler, review_pdf, tmp_path)
    for item in review_data.items:
        assert item.key in text


def test_last_page_is_the_signature_page_with_empty_boxes(
    review_pdf: bytes, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    total = page_count(review_pdf)
    last = pdftotext(poppler, review_pdf, tmp_path, total, total)
    assert "Signaturer" in last
    assert "Granskare: Anna Åström" in last and "Godkännare: Örjan Ängström" in last
    # The boxes are on the page and do not overlap each other.
    _, *first = signature_box(0)
    _, *second = signature_box(1)
    assert first[1] > second[3]


def test_metadata(review_pdf: bytes) -> None:
    info = PdfFileReader(BytesIO(review_pdf)).trailer["/Info"]
    assert str(info["/Author"]) == "riskreg"
    assert str(info["/Title"]) == "Granskningsrapport: Utbetalningar till privata vårdgivare 2025"
    assert "IK-2025-007" in str(info["/Subject"])


def test_builds_are_deterministic(review_data: ReviewReport, review_pdf: bytes) -> None:
    assert build_review_report(review_data) == review_pdf


def test_markup_characters_in_user_text_are_escaped(
    poppler: Callable[[str], str], tmp_path: Path
) -> None:
    data = make_review_report(3)
    tricky = "Kostnad < 5 000 kr & avtal <b>saknas</b>"
    data = replace(data, conclusion=tricky)
    text = squash(pdftotext(poppler, build_review_report(data), tmp_path))
    assert tricky in text


def test_extremely_long_comment_does_not_break_layout(
    poppler: Callable[[str], str], tmp_path: Path
) -> None:
    data = make_review_report(3)
    long_comment = " ".join(["Lång kommentar om underlaget för utbetalningen."] * 400)
    items = (replace(data.items[0], comment=long_comment), *data.items[1:])
    pdf = build_review_report(replace(data, items=items))
    assert "Lång kommentar" in pdftotext(poppler, pdf, tmp_path)


def test_report_without_items_or_deviations(poppler: Callable[[str], str], tmp_path: Path) -> None:
    data = replace(make_review_report(0), deviations=(), evaluation_figures=())
    text = pdftotext(poppler, build_review_report(data), tmp_path)
    assert "Inga poster granskades." in text
    assert "Inga avvikelser noterades." in text


def test_followup_report_content(
    followup_pdf: bytes, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    text = pdftotext(poppler, followup_pdf, tmp_path)
    assert "Uppföljning av internkontrollplanen 2025" in text
    for word in ("Sannolikhet", "Konsekvens", "4 Allvarlig", "1 Osannolik", "Grön", "Gul", "Röd"):
        assert word in text
    assert "Regionövergripande kontrollområden" in text
    assert "Återkräva mellanskillnaden" in text
    total = page_count(followup_pdf)
    assert f"Sida 1 av {total}" in text
    info = PdfFileReader(BytesIO(followup_pdf)).trailer["/Info"]
    assert str(info["/Author"]) == "riskreg"


def test_followup_heat_map_is_drawn_in_colour(followup_pdf: bytes) -> None:
    """The heat map is vector graphics: its fill colours are in the page content stream."""
    page = PdfFileReader(BytesIO(followup_pdf)).root["/Pages"]["/Kids"][0]
    content = page["/Contents"].get_object().data
    # default red band #e57373 as an rg operator, and the red traffic light #c62828
    assert b".898039 .45098 .45098 rg" in content
    assert b".776471 .156863 .156863 rg" in content


def test_heat_map_must_be_square() -> None:
    with pytest.raises(ValueError, match="square"):
        HeatMap(
            cells=((HeatCell(1, "#ffffff"),), ()),
            probability_labels=("a", "b"),
            consequence_labels=("a", "b"),
        )
    with pytest.raises(ValueError, match="axis label"):
        HeatMap(cells=((HeatCell(1, "#ffffff"),),), probability_labels=(), consequence_labels=())


def test_default_heat_map_bands() -> None:
    heat = default_heat_map(((0,) * 4,) * 4)
    assert heat.cells[0][0].colour == heat.cells[0][2].colour  # 1, 3: Låg
    assert heat.cells[1][1].colour == heat.cells[1][3].colour  # 4, 8: Medel
    assert heat.cells[2][2].colour == heat.cells[3][3].colour  # 9, 16: Hög
    assert len({heat.cells[0][0].colour, heat.cells[1][1].colour, heat.cells[3][3].colour}) == 3


def test_signature_box_slots() -> None:
    assert signature_box(0)[0] == -1
    with pytest.raises(ValueError):
        signature_box(2)
