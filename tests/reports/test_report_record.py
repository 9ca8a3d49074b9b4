"""The signed review report as a document of record, on the demo's real sample checks.

One evaluation: the control's evaluation page, the review PDF (read back with pdftotext) and
the follow-up XLSX show the same deviation count, rate, upper limit and verdict. Values as
imported: no internal column keys and no öre in the PDF. Plus the first-page summary,
"Så återskapas urvalet", evidence hashes, Swedish method titles and the real creation time.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from riskreg.controls.models import CheckType, Control
from riskreg.extensions import db
from riskreg.reports import assemble
from riskreg.reports.pdf import build_followup_report, build_review_report
from riskreg.reports.services import SigningSettings, followup_data, load_review_inputs
from riskreg.sampling.models import Evidence, SampleDraw, SampleItem
from tests.conftest import load_demo_data, login
from tests.reports.report_helpers import pdftotext, squash

GENERATED = datetime(2025, 9, 1, 10, 30, tzinfo=UTC)


@pytest.fixture()
def demo(app: Flask) -> dict[str, str]:
    """The demo up to its sample checks: payments approved (MUS), passcards (attribute,
    stratified) ready for review, hygiene in progress."""
    return load_demo_data(app, ("riskreg.controls.demo", "riskreg.sampling.demo"))


def _client(app: Flask, demo: dict[str, str], username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, demo[username]).status_code == 302
    return client


def _control(check_type: CheckType) -> Control:
    control = db.session.scalar(select(Control).where(Control.check_type == check_type.value))
    assert control is not None
    return control


def _review_pdf(app: Flask, control: Control) -> bytes:
    settings = SigningSettings.from_config(app.config, app.instance_path)
    data = assemble.review_report(
        load_review_inputs(db.session, control),
        reference="GR-TEST",
        organisation="Region Västmanland",
        controller=assemble.Signer("Karin Åström", "Centrum för ekonomi"),
        approver=assemble.Signer("Göran Förvaltningschef", "Hälso- och sjukvårdsförvaltningen"),
        generated_at=GENERATED,
        tz=settings.timezone,
    )
    return build_review_report(data)


def _flat(text: str) -> str:
    return squash(text.replace("\u00a0", " ").replace("\u202f", " "))


def _testid(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</dd>', html, re.S)
    assert match, f"no {testid} on the evaluation page"
    return _flat(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def _page_values(client: FlaskClient, control_id: int) -> dict[str, str]:
    response = client.get(f"/sampling/controls/{control_id}/evaluate")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    limit = "upper-limit" if 'data-testid="upper-limit"' in html else "upper-misstatement"
    return {
        "deviations": _testid(html, "deviation-count"),
        "rate": _testid(html, "deviation-rate"),
        # The figure itself ("9,2 %", "3 767 203,94 kr"), without a note after it.
        "limit": re.match(r"[\d ,]+ (?:%|kr)", _testid(html, limit)).group(0),  # type: ignore[union-attr]
        "verdict": _testid(html, "verdict"),
    }


def _xlsx_row(client: FlaskClient, plan_id: int, title: str) -> dict[str, Any]:
    response = client.get(f"/reports/plans/{plan_id}/followup.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data))["Uppföljning"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    for row in rows[1:]:
        if row[header.index("Granskning")] == title:
            return dict(zip(header, row, strict=True))
    raise AssertionError(f"{title} is not in the follow-up workbook")


@pytest.mark.parametrize("check_type", [CheckType.PAYMENTS, CheckType.PASSCARDS])
def test_page_pdf_and_xlsx_show_one_evaluation(
    app: Flask,
    demo: dict[str, str],
    poppler: Callable[[str], str],
    tmp_path: Path,
    check_type: CheckType,
) -> None:
    with app.app_context():
        control = _control(check_type)
        control_id, title, plan_id = control.id, control.title, control.risk.plan_id
        pdf = _flat(pdftotext(poppler, _review_pdf(app, control), tmp_path))
    auditor = _client(app, demo, "revisor")
    page = _page_values(auditor, control_id)
    workbook = _xlsx_row(auditor, plan_id, title)

    assert f"Avvikelser {page['deviations']}" in pdf
    assert f"Avvikelsefrekvens i urvalet {page['rate']}" in pdf
    assert page["limit"] in pdf and page["verdict"] in pdf
    assert f"Bedömning {page['verdict']}" in pdf
    # The summary on page one says the same.
    assert f"Bedömning {page['verdict']} (övre gräns {page['limit']})" in pdf

    count = int(page["deviations"].split()[0])
    assert workbook["Avvikelser"] == count
    assert _flat(workbook["Avvikelsefrekvens i urvalet"]) == page["rate"]
    assert _flat(workbook["Övre gräns"]) == page["limit"]
    assert workbook["Bedömning"] == page["verdict"]


def test_unassessed_items_leave_the_report_preliminary_like_the_page(
    app: Flask, demo: dict[str, str], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    """The report used to count an item without a result as a deviation; the page did not."""
    with app.app_context():
        control = _control(CheckType.PASSCARDS)
        draw = db.session.scalar(
            select(SampleDraw).where(
                SampleDraw.control_id == control.id, SampleDraw.superseded.is_(False)
            )
        )
        assert draw is not None
        item = db.session.scalar(
            select(SampleItem)
            .where(SampleItem.draw_id == draw.id, SampleItem.result == "ok")
            .order_by(SampleItem.position)
        )
        assert item is not None
        item.result = None
        db.session.commit()
        control_id = control.id
        text = _flat(pdftotext(poppler, _review_pdf(app, control), tmp_path))
    page = _page_values(_client(app, demo, "revisor"), control_id)
    assert "preliminär" in text
    assert f"Avvikelser {page['deviations']}" in text
    assert f"Avvikelsefrekvens i urvalet {page['rate']}" in text
    assert "räknas som avvikelse i utvärderingen" not in text


def test_the_review_pdf_shows_values_as_imported_and_how_to_redraw(
    app: Flask, demo: dict[str, str], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    with app.app_context():
        control = _control(CheckType.PAYMENTS)
        pdf = _review_pdf(app, control)
        inputs = load_review_inputs(db.session, control)
        assert inputs.draw is not None and inputs.population is not None
        seed, fingerprint = inputs.draw.seed, inputs.population.file_sha256
        evidence = db.session.scalars(select(Evidence)).all()
        assert evidence, "the demo attaches evidence to the deviating payment"
        hashes = [e.sha256 for e in evidence]
        first_item = inputs.items[0].population_item
        amounts = [i.population_item.amount_ore for i in inputs.items]
    text = pdftotext(poppler, pdf, tmp_path)
    flat = _flat(text)

    # No internal column keys, no amounts in öre.
    for key in ("payment_id", "provider", "contract", "amount", "payment_date", "c1:", "c3:"):
        assert key not in text
    for ore in amounts:
        assert not re.search(rf"(?<![0-9a-f]){ore}(?![0-9a-f])", flat), f"{ore} öre printed"
    # The file's own headings and kronor in Swedish format.
    assert "Utbetalnings-id" in flat and "Vårdgivare:" in flat
    assert first_item.amount_ore is not None
    kronor, ore = divmod(first_item.amount_ore, 100)
    assert f"Belopp: {kronor:,}".replace(",", " ") + f",{ore:02d} kr" in flat
    # The sampling package's Swedish titles.
    assert "Beloppsurval, MUS (statistiskt)" in flat and "MUS med fast intervall" in flat
    assert "Monetary-unit" not in flat and "Tillåtet antal avvikelser" not in flat
    assert "Förväntad felsumma" in flat
    # How to draw the same sample again.
    assert "Så återskapas urvalet" in flat
    assert seed in flat and fingerprint in flat and "docs/sampling.md" in flat
    # Evidence per item with its SHA-256.
    for digest in hashes:
        assert digest in flat
    # Labels say what they mean.
    assert "Ansvarig enhet Centrum för ekonomi (CE)" in flat
    assert "Ansvarig för granskning" not in flat and "Befattning" not in flat


def test_page_one_is_the_summary_for_the_namnd(
    app: Flask, demo: dict[str, str], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    with app.app_context():
        control = _control(CheckType.PAYMENTS)
        pdf = _review_pdf(app, control)
        conclusion = control.conclusion
        actions = [(a.description, a.status) for a in control.actions]
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    command = [poppler("pdftotext"), "-f", "1", "-l", "1", str(path), "-"]
    page1 = _flat(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    assert "Sammanfattning" in page1
    assert _flat(conclusion) in page1
    assert "1 avvikelse bland 58 granskade poster" in page1
    assert actions
    for description, status in actions:
        assert _flat(description) in page1
        assert {"open": "Öppen", "answered": "Besvarad", "verified": "Verifierad"}[status] in page1


def test_metadata_carry_the_creation_time_and_the_language(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.app_context():
        pdf = _review_pdf(app, _control(CheckType.PAYMENTS))
    reader = PdfFileReader(io.BytesIO(pdf))
    info = reader.trailer["/Info"]
    # 2025-09-01 10:30 UTC is 12:30 in Stockholm (summer time), as printed in the report.
    assert str(info["/CreationDate"]) == "D:20250901123000+02'00'"
    assert str(info["/ModDate"]) == "D:20250901123000+02'00'"
    assert str(reader.root["/Lang"]) == "sv-SE"
    assert reader.root["/ViewerPreferences"]["/DisplayDocTitle"]


def test_the_followup_pdf_states_each_controls_evaluation_in_words(
    app: Flask, demo: dict[str, str], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    with app.app_context():
        control = _control(CheckType.PAYMENTS)
        settings = SigningSettings.from_config(app.config, app.instance_path)
        data = followup_data(
            db.session,
            control.risk.plan,
            coordinator=assemble.Signer("Ingrid Samordnare", "Staben"),
            approver=assemble.Signer("Göran Förvaltningschef", ""),
            reference="UPP-TEST",
            now=GENERATED,
            settings=settings,
        )
        pdf = build_followup_report(data)
    text = pdftotext(poppler, pdf, tmp_path)
    flat = _flat(text)
    assert "Inom tolerabel felsumma" in flat
    assert "Befattning" not in flat
    assert not re.search(r"(?<![0-9a-f-])\d{7,}(?![0-9a-f])", flat), "an amount in öre?"
    info = PdfFileReader(io.BytesIO(pdf)).trailer["/Info"]
    assert str(info["/CreationDate"]).startswith("D:20250901")


def _structure(poppler: Callable[[str], str], pdf: bytes, tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "tagged.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(
        [poppler("pdfinfo"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    tree = subprocess.run(
        [poppler("pdfinfo"), "-struct-text", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return info, tree


def test_the_review_pdf_is_tagged_in_reading_order(
    app: Flask, demo: dict[str, str], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    with app.app_context():
        pdf = _review_pdf(app, _control(CheckType.PAYMENTS))
    info, tree = _structure(poppler, pdf, tmp_path)
    assert re.search(r"^Tagged:\s+yes$", info, re.M)
    lines = [line.strip() for line in tree.splitlines()]
    path = tmp_path / "tagged.pdf"
    path.write_bytes(pdf)
    structure = subprocess.run(
        [poppler("pdfinfo"), "-struct", str(path)], check=True, capture_output=True, text=True
    ).stdout
    lines += [line.strip() for line in structure.splitlines() if "/Scope" in line]
    assert lines[0] == "Document"
    headings = [
        lines[n + 1].strip('"') for n, line in enumerate(lines) if line.startswith(("H1", "H2"))
    ]
    assert headings[:4] == [
        "Granskningsrapport – intern kontroll",
        "Sammanfattning",
        "1. Risk och kontrollområde",
        "2. Granskning",
    ]
    assert headings.index("5. Så återskapas urvalet") < headings.index("9. Slutsats")
    # Tables are tables: header cells with their scope, then the data cells.
    assert "TD" in lines and "/Scope /Column" in lines and "/Scope /Row" in lines
    # Page furniture is not content: no footers, the repeated item header only once.
    assert not any("Sida " in line for line in lines)
    assert lines.count('"Nr"') == 1
    # The headings are in the outline (bookmarks) too.
    reader = PdfFileReader(io.BytesIO(pdf))
    assert bool(reader.root["/MarkInfo"]["/Marked"]) is True
    assert reader.root["/Outlines"]["/Count"] != 0


def test_signing_keeps_the_tags(
    signed_report: Any, poppler: Callable[[str], str], tmp_path: Path
) -> None:
    """Tags are written before the first signature, never added afterwards."""
    _, unsigned = _structure(poppler, signed_report.unsigned, tmp_path)
    info, cosigned = _structure(poppler, signed_report.cosigned, tmp_path)
    assert re.search(r"^Tagged:\s+yes$", info, re.M)
    assert cosigned == unsigned


GENERIC_FILE = (
    "Avtalsnummer;Leverantör;Fakturabelopp;Fakturadatum\n"
    "AVT-001;Leverantör A AB;409 974,00;2025-03-01\n"
    "AVT-002;Byggbolaget i Västerås;12 500,50;2025-04-15\n"
    "AVT-003;Kontorsvaror Norr;472 614,00;2025-05-30\n"
)


def test_a_generic_check_prints_the_files_own_headings_and_kronor(
    app: Flask, demo: dict[str, str], poppler: Callable[[str], str], tmp_path: Path
) -> None:
    """Generic files used to print "c1: …, c3: 472614": internal keys and öre."""
    from riskreg.auth.models import User
    from riskreg.controls.models import ControlStatus
    from riskreg.controls.services import change_status
    from riskreg.sampling import drawing, planning
    from riskreg.sampling.importing import import_population

    with app.app_context():
        control = db.session.scalar(
            select(Control).where(
                Control.check_type == CheckType.GENERIC.value,
                Control.status == ControlStatus.PLANNED.value,
            )
        )
        assert control is not None
        actor = db.session.scalar(select(User).where(User.username == "admin"))
        assert actor is not None
        control.deviation_definition = control.deviation_definition or "Inköp utan avtal."
        now = datetime.now(UTC)
        change_status(db.session, control, ControlStatus.IN_PROGRESS, actor=actor, now=now)
        import_population(
            db.session,
            control,
            io.BytesIO(GENERIC_FILE.encode("utf-8")),
            "inkop.csv",
            actor=actor,
            now=now,
            key_column="Avtalsnummer",
            amount_column="Fakturabelopp",
        )
        planning.plan_sample(
            db.session,
            control,
            method="non_statistical",
            actor=actor,
            now=now,
            sample_size=3,
            justification="Alla tre avtal granskas.",
        )
        drawing.draw_sample(
            db.session, control, selection_method="simple_random", seed="prov", actor=actor, now=now
        )
        db.session.commit()
        text = _flat(pdftotext(poppler, _review_pdf(app, control), tmp_path))
    assert "Avtalsnummer" in text  # the key column's heading heads the item column
    assert "Leverantör: Kontorsvaror Norr" in text
    assert "Fakturabelopp: 472 614,00 kr" in text and "Fakturabelopp: 409 974,00 kr" in text
    assert "Fakturadatum: 2025-05-30" in text
    assert not re.search(r"\bc\d+:", text)
    assert "47261400" not in text and "40997400" not in text
