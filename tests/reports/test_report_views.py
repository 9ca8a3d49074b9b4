"""The report pages: auditors' list and downloads, signing through the web, verification."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from riskreg.extensions import db
from riskreg.reports.models import Report, ReportState
from riskreg.reports.verify import Verdict, verify_pdf
from tests.reports.scenario import (
    ClientAs,
    Scenario,
    append_text_revision,
    flip_byte_in_first_page,
    settings_for,
    sign_both,
)


def _report(app: Flask) -> Report:
    with app.app_context():
        report = db.session.scalar(select(Report))
        assert report is not None
        db.session.expunge(report)
        return report


# ---------------------------------------------------------------- auditors


def test_auditor_lists_completed_controls_and_downloads_the_signed_report(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    report_id = sign_both(app, scenario)
    client = client_as("revisor")
    page = client.get("/reports/").get_data(as_text=True)
    assert "Utbetalningar till privata vårdgivare 2025" in page
    assert "Signerad och medsignerad" in page
    assert f"/reports/{report_id}/download" in page
    response = client.get(f"/reports/{report_id}/download")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert verify_pdf(response.data, settings_for(app).trust_roots()).verdict is Verdict.VALID
    report = _report(app)
    assert f'filename="{report.reference}.pdf"' in response.headers["Content-Disposition"]


def test_auditor_sees_no_sign_buttons(app: Flask, scenario: Scenario, client_as: ClientAs) -> None:
    client = client_as("revisor")
    page = client.get(f"/reports/controls/{scenario.control_id}").get_data(as_text=True)
    assert "Godkänd, väntar på granskarens signatur" in page
    assert "Signera som granskare" not in page and "Medsignera" not in page
    refused = client.post(f"/reports/controls/{scenario.control_id}/sign", data={"confirm": "y"})
    assert refused.status_code == 403


def test_other_units_member_neither_lists_nor_downloads(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    report_id = sign_both(app, scenario)
    client = client_as("smittskydd")
    page = client.get("/reports/").get_data(as_text=True)
    assert "Utbetalningar till privata vårdgivare 2025" not in page
    assert client.get(f"/reports/{report_id}/download").status_code == 404


def test_a_changed_stored_file_is_refused_on_download(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    report_id = sign_both(app, scenario)
    report = _report(app)
    path = settings_for(app).store().path(report.final_file or "")
    path.chmod(0o600)
    path.write_bytes(flip_byte_in_first_page(path.read_bytes()))
    client = client_as("revisor")
    assert client.get(f"/reports/{report_id}/download").status_code == 500


# ---------------------------------------------------------------- signing through the web


def test_controller_signs_then_approver_cosigns(
    app: Flask, demo: dict[str, str], scenario: Scenario, client_as: ClientAs
) -> None:
    control_url = f"/reports/controls/{scenario.control_id}"
    controller = client_as("granskare")
    page = controller.get(control_url).get_data(as_text=True)
    assert "Signera som granskare" in page
    preview = controller.get(f"{control_url}/preview.pdf")
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")

    unconfirmed = controller.post(f"{control_url}/sign", data={})
    assert unconfirmed.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Report)) is None

    signed = controller.post(
        f"{control_url}/sign",
        data={"confirm": "y", "next": control_url, "password": demo["granskare"]},
        follow_redirects=True,
    )
    text = signed.get_data(as_text=True)
    assert "väntar på medsignatur av Göran Förvaltningschef" in text
    report = _report(app)
    assert report.state == ReportState.CERTIFIED
    # The controller gets no co-sign button and is refused when posting anyway.
    assert "Medsignera som godkännare" not in text
    refused = controller.post(
        f"/reports/{report.id}/cosign", data={"confirm": "y", "password": demo["granskare"]}
    )
    assert refused.status_code == 403

    approver = client_as("chef")
    page = approver.get(control_url).get_data(as_text=True)
    assert "Medsignera som godkännare" in page
    done = approver.post(
        f"/reports/{report.id}/cosign",
        data={"confirm": "y", "password": demo["chef"]},
        follow_redirects=True,
    )
    assert "medsignerad och arkiverad" in done.get_data(as_text=True)
    report = _report(app)
    assert report.state == ReportState.SIGNED and report.final_sha256

    again = approver.post(
        f"/reports/{report.id}/cosign",
        data={"confirm": "y", "password": demo["chef"]},
        follow_redirects=True,
    )
    assert "redan medsignerad" in again.get_data(as_text=True)
    again = controller.post(
        f"{control_url}/sign",
        data={"confirm": "y", "password": demo["granskare"]},
        follow_redirects=True,
    )
    assert "redan signerad" in again.get_data(as_text=True)


def test_next_must_stay_on_the_site(app: Flask, scenario: Scenario, client_as: ClientAs) -> None:
    controller = client_as("granskare")
    # A browser reads "/\\evil.example" as "//evil.example": another site.
    for target in (
        "https://evil.example/",
        "//evil.example/x",
        "javascript:alert(1)",
        "/\\evil.example",
        "/\\/evil.example",
        "\\\\evil.example",
    ):
        response = controller.post(
            f"/reports/controls/{scenario.control_id}/sign", data={"next": target}
        )
        assert response.status_code == 302
        assert response.location.startswith("/") and not response.location.startswith("//")
        assert response.location.endswith(f"/controls/{scenario.control_id}")


# ---------------------------------------------------------------- verification page


def _upload(client: FlaskClient, content: bytes, name: str = "rapport.pdf") -> str:
    response = client.post(
        "/reports/verify",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_verify_page_accepts_the_issued_report(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    sign_both(app, scenario)
    report = _report(app)
    content = settings_for(app).store().path(report.final_file or "").read_bytes()
    client = client_as("smittskydd")  # anyone signed in may verify
    page = _upload(client, content)
    assert 'data-testid="verdict">Äkta, utfärdad av riskreg<' in page
    assert f"medsignerade rapporten {report.reference}" in page
    # smittskydd may not read the CE control: its title is not revealed.
    assert "Utbetalningar till privata vårdgivare 2025" not in page
    auditor_page = _upload(client_as("revisor"), content)
    assert "Utbetalningar till privata vårdgivare 2025" in auditor_page


def test_verify_page_reports_changes(app: Flask, scenario: Scenario, client_as: ClientAs) -> None:
    sign_both(app, scenario)
    report = _report(app)
    content = settings_for(app).store().path(report.final_file or "").read_bytes()
    client = client_as("revisor")
    page = _upload(client, flip_byte_in_first_page(content))
    assert 'data-testid="verdict">Ändrad efter signeringen<' in page
    assert "hashvärdet stämmer inte" in page
    page = _upload(client, append_text_revision(content))
    assert 'data-testid="verdict">Ändrad efter signeringen<' in page
    assert "otillåtet sätt" in page
    assert f"bygger på rapporten {report.reference}" in page


def test_verify_page_checks_content_and_size(
    app: Flask, monkeypatch: pytest.MonkeyPatch, client_as: ClientAs
) -> None:
    client = client_as("revisor")
    page = _upload(client, b"GIF89a pretending", "bild.pdf")
    assert "bild.pdf är en GIF-bild, inte en tillåten filtyp" in page
    assert 'data-testid="verify-result"' not in page
    monkeypatch.setitem(app.config, "REPORT_UPLOAD_MAX_BYTES", 1024)
    page = _upload(client, b"%PDF-1.7\n" + b"0" * 2000 + b"\n%%EOF\n")
    assert "Filen är större än den tillåtna gränsen på 1 kB" in page
    page = client.post("/reports/verify", data={}).get_data(as_text=True)
    assert "Välj en PDF-fil." in page


def test_verify_page_says_unsigned(app: Flask, scenario: Scenario, client_as: ClientAs) -> None:
    client = client_as("granskare")
    preview = client.get(f"/reports/controls/{scenario.control_id}/preview.pdf").data
    page = _upload(client, preview)
    assert 'data-testid="verdict">Osignerad<' in page


# ---------------------------------------------------------------- reopening a signed review


def test_reopened_review_keeps_its_signed_report_listed_as_superseded(
    app: Flask, scenario: Scenario, client_as: ClientAs
) -> None:
    from riskreg.controls.models import Control, ControlStatus

    sign_both(app, scenario)
    report = _report(app)
    controller = client_as("granskare")
    with app.app_context():
        control = db.session.get(Control, scenario.control_id)
        assert control is not None
        version = control.version
    refused = controller.post(
        f"/controls/{scenario.control_id}/reopen",
        data={"version": str(version), "note": "Ändra en post."},
    )
    assert refused.status_code == 403
    chef = client_as("chef")
    response = chef.post(
        f"/controls/{scenario.control_id}/reopen",
        data={"version": str(version), "note": "Leverantören har skickat nya underlag."},
    )
    assert response.status_code == 302
    with app.app_context():
        control = db.session.get(Control, scenario.control_id)
        assert control is not None and control.status == ControlStatus.IN_PROGRESS

    auditor = client_as("revisor")
    listing = auditor.get("/reports/").get_data(as_text=True)
    row = listing[listing.index("Utbetalningar till privata vårdgivare 2025") :]
    row = row[: row.index("</tr>")]
    assert "Ingen rapport" not in row
    assert "Ersatt: granskningen är öppnad igen efter signeringen" in row
    assert f"Ersatt: {report.reference}" in row
    assert f"/reports/{report.id}/download" in row
    download = auditor.get(f"/reports/{report.id}/download")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    panel = auditor.get(f"/reports/controls/{scenario.control_id}").get_data(as_text=True)
    assert f"{report.reference} –" in panel and "ersatt (granskningen öppnades igen)" in panel
    # The superseded file still verifies as genuine, and says it is superseded.
    content = settings_for(app).store().path(report.final_file or "").read_bytes()
    verified = _upload(auditor, content)
    assert 'data-verdict="genuine"' in verified
    assert "Granskningen har öppnats igen efter signeringen; rapporten är ersatt" in verified
    # The controller hears of it from riskreg, with the approver's reason.
    notices = controller.get("/reminders/notifications").get_data(as_text=True)
    assert "öppnad igen av Göran Förvaltningschef" in notices
    assert "Leverantören har skickat nya underlag." in notices


def test_admin_reopening_tells_controller_and_approver(
    app: Flask, demo: dict[str, str], scenario: Scenario
) -> None:
    from riskreg.auth.models import User
    from riskreg.controls.models import Control
    from riskreg.controls.services import change_status
    from riskreg.db import now_utc
    from riskreg.errors import NotAllowed
    from riskreg.reminders.models import Notification

    with app.app_context():
        control = db.session.get(Control, scenario.control_id)
        assert control is not None
        controller = db.session.scalar(select(User).where(User.username == "granskare"))
        with pytest.raises(NotAllowed, match="godkännaren som godkände den"):
            change_status(
                db.session, control, "in_progress", actor=controller, now=now_utc(), note="x"
            )
        db.session.rollback()
        control = db.session.get(Control, scenario.control_id)
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        assert control is not None and admin is not None
        before = db.session.scalar(select(func.max(Notification.id))) or 0
        change_status(
            db.session, control, "in_progress", actor=admin, now=now_utc(), note="Rättelse."
        )
        db.session.commit()
        told = db.session.scalars(
            select(User.username)
            .join(Notification, Notification.user_id == User.id)
            .where(Notification.id > before, Notification.reason == "reopened")
        ).all()
    assert sorted(told) == ["chef", "granskare"]
