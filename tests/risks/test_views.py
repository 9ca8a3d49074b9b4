from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from riskreg.auth.models import Unit
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk, RiskAssessment
from tests.conftest import login


def _admin(app: Flask, demo: dict[str, str]):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, "admin", demo["admin"])
    return client


def _titles(html: str) -> list[str]:
    return re.findall(r'data-testid="risk-row"><td><a href="/risks/\d+">([^<]+)</a>', html)


def test_heatmap_counts_each_cell(app: Flask, demo: dict[str, str]) -> None:
    html = _admin(app, demo).get("/risks/heatmap").get_data(as_text=True)
    counts = {
        (int(s), int(k)): int(n)
        for s, k, n in re.findall(r'data-s="(\d)" data-k="(\d)"[^>]*>\s*<a [^>]*>(\d+)</a>', html)
    }
    assert len(counts) == 16
    # The 2025 plan: three risks at S4/K3, two at S3/K3, two at S3/K4.
    assert counts[(4, 3)] == 3 and counts[(3, 3)] == 2 and counts[(3, 4)] == 2
    assert sum(counts.values()) == 7


def test_heatmap_cell_links_to_its_risks(app: Flask, demo: dict[str, str]) -> None:
    client = _admin(app, demo)
    html = client.get("/risks/heatmap").get_data(as_text=True)
    link = re.search(r'data-s="4" data-k="3"[^>]*>\s*<a href="([^"]+)"', html).group(1)
    titles = _titles(client.get(link.replace("&amp;", "&")).get_data(as_text=True))
    assert len(titles) == 3
    assert "Risk för felaktig utbetalning till privata vårdgivare" in titles


def test_filters_by_section_unit_level_and_text(app: Flask, demo: dict[str, str]) -> None:
    client = _admin(app, demo)
    assert len(_titles(client.get("/risks/?section=administration").get_data(as_text=True))) == 2
    with app.app_context():
        staben = db.session.scalar(select(Unit).where(Unit.code == "Staben")).id
    assert len(_titles(client.get(f"/risks/?unit={staben}").get_data(as_text=True))) == 2
    # Level 2 (Medel, risktal 4–8) holds none of the 2025 risks; level 3 (Hög) holds all.
    assert _titles(client.get("/risks/?level=2").get_data(as_text=True)) == []
    assert len(_titles(client.get("/risks/?level=3").get_data(as_text=True))) == 7
    found = _titles(client.get("/risks/?q=REMISSHANTERING").get_data(as_text=True))
    assert found == ["Risk för ej ändamålsenlig remisshantering"]
    # Case folding of å/ä/ö works on SQLite too.
    assert len(_titles(client.get("/risks/?q=AVTALSTROHET").get_data(as_text=True))) == 1
    assert len(_titles(client.get("/risks/?q=ÄNDAMÅLSENLIG").get_data(as_text=True))) == 1
    assert _titles(client.get("/risks/?year=2024").get_data(as_text=True)) == []


def test_sort_by_risk_value_then_title(app: Flask, demo: dict[str, str]) -> None:
    client = _admin(app, demo)
    by_value = _titles(client.get("/risks/?sort=risk_value").get_data(as_text=True))
    assert by_value[-1] in {
        "Bristande avtalstrohet vid inköp får ekonomiska konsekvenser",
        "Risk för ej ändamålsenlig remisshantering",
    }
    by_title = _titles(client.get("/risks/?sort=title").get_data(as_text=True))
    assert by_title == sorted(by_title)


def _risk(app: Flask, title_part: str) -> Risk:
    with app.app_context():
        risk = db.session.scalar(select(Risk).where(Risk.title.contains(title_part)))
        db.session.expunge(risk)
        return risk


def _form(risk: Risk, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "section": risk.section,
        "title": risk.title,
        "review_area": risk.review_area,
        "regulation": risk.regulation,
        "method": risk.method,
        "probability": risk.probability,
        "consequence": risk.consequence,
        "deadline": risk.deadline.isoformat(),
        "responsible_unit_id": risk.responsible_unit_id,
        "reason": "",
        "version": risk.version,
    }
    data.update(changes)
    return data


def test_edit_after_adoption_needs_reason_then_records_history(
    app: Flask, demo: dict[str, str]
) -> None:
    client = _admin(app, demo)
    risk = _risk(app, "remisshantering")
    response = client.post(f"/risks/{risk.id}/edit", data=_form(risk, probability=2))
    assert "Ange varför" in response.get_data(as_text=True)
    assert _risk(app, "remisshantering").probability == 3
    response = client.post(
        f"/risks/{risk.id}/edit", data=_form(risk, probability=2, reason="Ny rutin sedan mars")
    )
    assert response.status_code == 302
    page = client.get(f"/risks/{risk.id}").get_data(as_text=True)
    assert "S 3 × K 3 = 9" in page and "S 2 × K 3 = 6" in page and "Ny rutin sedan mars" in page
    plan_page = client.get(f"/plans/{risk.plan_id}").get_data(as_text=True)
    assert "Ändringar efter fastställande" in plan_page and "Ny rutin sedan mars" in plan_page


def test_typed_risktal_cannot_be_sent(app: Flask, demo: dict[str, str]) -> None:
    client = _admin(app, demo)
    risk = _risk(app, "remisshantering")
    client.post(f"/risks/{risk.id}/edit", data=_form(risk, risk_value=16, reason="x"))
    assert _risk(app, "remisshantering").risk_value == 9


def test_out_of_range_score_is_a_form_error(app: Flask, demo: dict[str, str]) -> None:
    client = _admin(app, demo)
    risk = _risk(app, "remisshantering")
    response = client.post(f"/risks/{risk.id}/edit", data=_form(risk, consequence=5, reason="x"))
    assert "1–4" in response.get_data(as_text=True)
    assert _risk(app, "remisshantering").consequence == 3


def test_stale_form_shows_conflict_and_keeps_both_versions(
    app: Flask, demo: dict[str, str]
) -> None:
    first, second = _admin(app, demo), _admin(app, demo)
    risk = _risk(app, "remisshantering")
    assert (
        first.post(
            f"/risks/{risk.id}/edit", data=_form(risk, method="Version A", reason="A")
        ).status_code
        == 302
    )
    response = second.post(
        f"/risks/{risk.id}/edit", data=_form(risk, method="Version B", reason="B")
    )
    html = response.get_data(as_text=True)
    assert 'data-testid="conflict"' in html
    assert "Version B" in html  # the user's own edit is still in the form
    assert _risk(app, "remisshantering").method == "Version A"


def test_create_and_delete_risk_in_a_draft_plan(app: Flask, make_user, make_unit) -> None:  # type: ignore[no-untyped-def]
    from riskreg.plans.services import get_or_create_organisation, get_or_create_plan

    unit = make_unit("CE")
    make_user("ik", "admin")
    with app.app_context():
        plan_id = get_or_create_plan(
            db.session, get_or_create_organisation(db.session, "Org"), 2026
        ).id
        db.session.commit()
    client = app.test_client()
    login(client, "ik")
    response = client.post(
        f"/risks/new?plan={plan_id}",
        data={
            "section": "region",
            "title": "Ny risk",
            "probability": 2,
            "consequence": 3,
            "deadline": "2026-06-30",
            "responsible_unit_id": unit.id,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        risk = db.session.scalar(select(Risk).where(Risk.title == "Ny risk"))
        assert risk.risk_value == 6
        assert db.session.scalar(select(RiskAssessment).where(RiskAssessment.risk_id == risk.id))
        risk_id = risk.id
    assert client.post(f"/risks/{risk_id}/delete").status_code == 302
    with app.app_context():
        assert db.session.get(Risk, risk_id) is None
        assert db.session.get(Plan, plan_id) is not None


def _matrix_form_data_from(html: str) -> dict[str, str]:
    """What the matrix page's form would send unchanged, read from the page itself."""
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        data[name] = value
    for value, name in re.findall(r'<input[^>]*value="([^"]*)"[^>]*name="([^"]+)"', html):
        data.setdefault(name, value)
    for select_name, body in re.findall(
        r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S
    ):
        selected = re.search(
            r'<option selected value="(\d+)"|<option value="(\d+)" selected', body
        ).group(0)
        data[select_name] = re.search(r'value="(\d+)"', selected).group(1)
    data.pop("csrf_token", None)
    return data


def _matrix_form_data(client: FlaskClient) -> dict[str, str]:
    return _matrix_form_data_from(client.get("/admin/matrix").get_data(as_text=True))


def test_admin_changes_level_name_label_and_cell_colour(app: Flask, demo: dict[str, str]) -> None:
    client = _admin(app, demo)
    data = _matrix_form_data(client)
    data["levels-2-name"] = "Mycket hög"
    data["probability_labels-3-label"] = "Mycket sannolik"
    # Cell S4/K4 is entry (4-1)*4 + (4-1) = 15.
    data["cells-15-colour"] = "#800080"
    response = client.post("/admin/matrix", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    css = client.get("/risks/matrix.css").get_data(as_text=True)
    assert ".cell-4-4{background-color:#800080" in css
    assert ".cell-4-3{background-color:#f44336" in css
    heat = client.get("/risks/heatmap").get_data(as_text=True)
    assert "Mycket sannolik" in heat and "Mycket hög" in heat


def test_two_admins_editing_the_matrix_never_overwrite_each_other(
    app: Flask, demo: dict[str, str]
) -> None:
    first, second = _admin(app, demo), _admin(app, demo)
    mine, theirs = _matrix_form_data(first), _matrix_form_data(second)
    assert mine["version"] and mine["version"] == theirs["version"]
    mine["levels-2-name"] = "Kritisk"
    assert first.post("/admin/matrix", data=mine).status_code == 302
    theirs["probability_labels-0-label"] = "Mycket osannolik"
    refused = second.post("/admin/matrix", data=theirs)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Någon annan har ändrat riskmatrisen" in page
    conflict = page[page.index('data-testid="conflict"') :]
    assert "Kritisk" in conflict[: conflict.index("<form")]  # the saved matrix, above the form
    assert 'value="Mycket osannolik"' in page  # the second admin's own change, kept in the form
    heat = second.get("/risks/heatmap").get_data(as_text=True)
    assert "Kritisk" in heat and "Mycket osannolik" not in heat
    # Saving again from the refreshed form carries the new version and goes through.
    again = _matrix_form_data_from(page)
    assert again["version"] != theirs["version"]
    assert second.post("/admin/matrix", data=again).status_code == 302
    heat = second.get("/risks/heatmap").get_data(as_text=True)
    assert "Mycket osannolik" in heat
