"""The worksheet: many items recorded in one POST, all-or-nothing, each row's version checked."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import openpyxl
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from riskreg.audit.models import AuditEntry
from riskreg.controls.models import ControlStatus, Deviation
from riskreg.extensions import db
from riskreg.sampling import drawing, importing, item_results, planning, worksheet
from riskreg.sampling.models import SampleDraw, SampleItem
from riskreg.tabular import TableRow
from tests.conftest import login
from tests.sampling.conftest import NOW, World, csv_bytes

ATTRIBUTES = 6  # the referral check's attributes


def _sample(app: Flask, world: World, size: int = 8) -> tuple[int, list[int]]:
    with app.app_context():
        control = world.control("referrals")
        actor = world.user("granskare")
        rows = [[f"R{n:04d}", "VC Norr", "Ortopedi", "2025-02-03", "Normal"] for n in range(50)]
        importing.import_population(
            db.session, control,
            io.BytesIO(csv_bytes(["Remiss-id", "Avsändare", "Mottagare", "Mottagen",
                                  "Prioritet"], rows)),
            "r.csv", actor=actor, now=NOW,
        )
        planning.plan_sample(db.session, control, method="non_statistical", actor=actor,
                             now=NOW, sample_size=size,
                             justification="Bedömningsurval för test.")
        draw = drawing.draw_sample(db.session, control, selection_method="simple_random",
                                    seed="s", actor=actor, now=NOW)
        db.session.commit()
        return control.id, [item.id for item in draw.items]


def _form(app: Flask, item_ids: list[int]) -> dict[str, object]:
    with app.app_context():
        return {f"version-{i}": str(db.session.get(SampleItem, i).version) for i in item_ids}


def _items(app: Flask, item_ids: list[int]) -> list[tuple[str | None, list[str]]]:
    with app.app_context():
        return [
            (item.result, [r.result for r in item.attribute_results])
            for item in (db.session.get(SampleItem, i) for i in item_ids)
        ]


def _client(app: Flask, username: str = "granskare") -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_page_shows_population_columns_beside_the_attributes(app: Flask, world: World) -> None:
    control_id, ids = _sample(app, world)
    page = _client(app).get(f"/sampling/controls/{control_id}/worksheet").get_data(as_text=True)
    assert page.count("data-worksheet-row") == len(ids)
    for heading in ("Remiss-id", "Avsändare", "Prioritet", "Registrerad i tid",
                    "Vårdgarantins tider hållna", "Helhetsbedömning"):
        assert f">{heading}</th>" in page
    assert "VC Norr" in page
    assert page.count(f'name="attr-{ids[0]}-') == ATTRIBUTES
    assert f'href="/sampling/items/{ids[0]}"' in page  # the detail form for deviations


def test_selected_rows_all_ok_and_a_typed_row_saved_in_one_post(
    app: Flask, world: World
) -> None:
    control_id, ids = _sample(app, world)
    data = _form(app, ids)
    data |= {"select": [str(ids[0]), str(ids[1]), str(ids[2])], "selected_ok": "1"}
    # Row 4 typed by hand: one attribute not assessable -> the item is not assessable.
    for n in range(ATTRIBUTES):
        data[f"attr-{ids[3]}-{n}"] = "not_assessable" if n == 2 else "ok"
    response = _client(app).post(f"/sampling/controls/{control_id}/worksheet", data=data)
    assert response.status_code == 302
    results = _items(app, ids)
    assert results[:3] == [("ok", ["ok"] * ATTRIBUTES)] * 3
    assert results[3] == ("not_assessable", ["ok", "ok", "not_assessable", "ok", "ok", "ok"])
    assert results[4:] == [(None, [])] * (len(ids) - 4)
    page = _client(app).get(f"/sampling/controls/{control_id}/worksheet").get_data(as_text=True)
    assert "4 av 8 bedömda" in page
    with app.app_context():
        item = db.session.get(SampleItem, ids[0])
        assert item.assessed_by.username == "granskare"
        assert item.version == 2


def test_row_button_records_that_row_without_javascript(app: Flask, world: World) -> None:
    control_id, ids = _sample(app, world)
    data = _form(app, ids) | {"row_ok": str(ids[5])}
    response = _client(app).post(f"/sampling/controls/{control_id}/worksheet", data=data)
    assert response.status_code == 302
    results = _items(app, ids)
    assert results[5] == ("ok", ["ok"] * ATTRIBUTES)
    assert sum(1 for result, _ in results if result) == 1


def test_a_stale_row_saves_nothing_and_is_listed_as_a_conflict(
    app: Flask, world: World
) -> None:
    control_id, ids = _sample(app, world)
    data = _form(app, ids) | {"select": [str(i) for i in ids[:4]], "selected_ok": "1"}
    with app.app_context():  # someone saves item 3 in its detail form meanwhile
        item = db.session.get(SampleItem, ids[2])
        item_results.record_result(
            db.session, item, attribute_results=dict.fromkeys(
                list(_attribute_names(item)), "not_assessable"),
            overall="not_assessable", actor=world.user("granskare"), now=NOW,
        )
        db.session.commit()
        position, key = item.position, item.population_item.record_key
    response = _client(app).post(f"/sampling/controls/{control_id}/worksheet", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    problems = re.search(r'data-testid="worksheet-problems">(.*?)</div>', page, re.S)
    assert problems is not None
    assert f"Post {position}" in problems.group(1) and key in problems.group(1)
    assert "(konflikt)" in problems.group(1)
    assert problems.group(1).count("<li>") == 1
    results = _items(app, ids)
    assert [r for r, _ in results] == [None, None, "not_assessable"] + [None] * (len(ids) - 3)
    # The conflicting row now shows what was saved, with the new version; the others keep OK.
    assert f'name="version-{ids[2]}" value="2"' in page
    row = re.search(rf'id="row-{ids[2]}".*?</tr>', page, re.S).group(0)
    assert row.count('value="not_assessable" selected') == ATTRIBUTES
    row0 = re.search(rf'id="row-{ids[0]}".*?</tr>', page, re.S).group(0)
    assert row0.count('value="ok" selected') == ATTRIBUTES


def _attribute_names(item: SampleItem) -> tuple[str, ...]:
    from riskreg.sampling.checktypes import attributes_for

    return attributes_for(item.draw.control)


def test_a_new_deviation_is_refused_with_a_pointer_to_the_item_form(
    app: Flask, world: World
) -> None:
    control_id, ids = _sample(app, world)
    data = _form(app, ids) | {"row_ok": str(ids[0])}
    for n in range(ATTRIBUTES):
        data[f"attr-{ids[1]}-{n}"] = "deviation" if n == 0 else "ok"
    response = _client(app).post(f"/sampling/controls/{control_id}/worksheet", data=data)
    assert response.status_code == 200
    assert "postens formulär" in response.get_data(as_text=True)
    assert [r for r, _ in _items(app, ids)] == [None] * len(ids)
    with app.app_context():
        assert db.session.scalars(select(Deviation)).all() == []


def test_half_filled_row_is_refused(app: Flask, world: World) -> None:
    control_id, ids = _sample(app, world)
    data = _form(app, ids) | {f"attr-{ids[0]}-0": "ok"}
    response = _client(app).post(f"/sampling/controls/{control_id}/worksheet", data=data)
    assert response.status_code == 200
    assert "Ange resultat för alla attribut" in response.get_data(as_text=True)
    assert _items(app, ids)[0] == (None, [])


def test_saving_is_audited_per_item(app: Flask, world: World) -> None:
    control_id, ids = _sample(app, world)
    with app.app_context():
        before = len(db.session.scalars(select(AuditEntry.id)).all())
    data = _form(app, ids) | {"select": [str(i) for i in ids[:2]], "selected_ok": "1"}
    assert _client(app).post(
        f"/sampling/controls/{control_id}/worksheet", data=data).status_code == 302
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).order_by(AuditEntry.id).offset(before)).all()
        assert {e.object_id for e in entries if e.object_type == "sample_item"} == {
            str(i) for i in ids[:2]
        }


def test_only_the_assigned_controller_while_in_progress(app: Flask, world: World) -> None:
    control_id, ids = _sample(app, world)
    data = _form(app, ids) | {"row_ok": str(ids[0])}
    url = f"/sampling/controls/{control_id}/worksheet"
    assert _client(app, "granskare2").post(url, data=data).status_code == 404
    approver = _client(app, "chef")
    assert approver.post(url, data=data).status_code == 403
    page = approver.get(url).get_data(as_text=True)
    assert page.count("data-worksheet-row") == len(ids) and "<select" not in page
    with app.app_context():
        world.control("referrals").status = ControlStatus.READY_FOR_REVIEW  # submitted
        db.session.commit()
    response = _client(app).post(url, data=data)
    assert response.status_code == 302 and "/worksheet" not in response.headers["Location"]
    assert _items(app, ids)[0] == (None, [])
    with app.app_context():
        assert db.session.scalars(select(SampleDraw)).one().id


# --- the XLSX working paper ----------------------------------------------------------------------


def _paper(client: FlaskClient, control_id: int) -> openpyxl.Workbook:
    response = client.get(f"/sampling/controls/{control_id}/worksheet.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return openpyxl.load_workbook(io.BytesIO(response.data))


def _upload(client: FlaskClient, control_id: int, book: openpyxl.Workbook) -> str:
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    response = client.post(
        f"/sampling/controls/{control_id}/worksheet/upload",
        data={"file": (data, "arbetspapper.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_working_paper_round_trip(app: Flask, world: World) -> None:
    control_id, ids = _sample(app, world)
    client = _client(app)
    book = _paper(client, control_id)
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["#", "Remiss-id", "Avsändare"]
    assert "Registrerad i tid" in header and header[-2:] == [
        "Post-id (ändra inte)", "Version (ändra inte)"]
    first = header.index("Registrerad i tid")
    assert sheet.max_row == len(ids) + 1
    last = openpyxl.utils.get_column_letter(len(header))
    before = openpyxl.utils.get_column_letter(len(header) - 1)
    assert sheet.column_dimensions[last].hidden and sheet.column_dimensions[before].hidden
    assert not sheet.column_dimensions[openpyxl.utils.get_column_letter(first + 1)].hidden
    for row in (2, 3, 4):
        for col in range(first, first + ATTRIBUTES):
            sheet.cell(row, col + 1, "ok" if row == 2 else "OK")
    sheet.cell(4, first + 3, "Ej bedömbar")
    page = _upload(client, control_id, book)
    assert "3 poster sparade." in page
    results = _items(app, ids)
    assert [r for r, _ in results[:3]] == ["ok", "ok", "not_assessable"]
    assert [r for r, _ in results[3:]] == [None] * (len(ids) - 3)


def test_working_paper_is_all_or_nothing_with_a_message_per_bad_row(
    app: Flask, world: World
) -> None:
    control_id, ids = _sample(app, world)
    client = _client(app)
    book = _paper(client, control_id)
    sheet = book.active
    first = [c.value for c in sheet[1]].index("Registrerad i tid") + 1
    for row in (2, 3, 4, 5):
        for col in range(first, first + ATTRIBUTES):
            sheet.cell(row, col, "OK")
    sheet.cell(3, first, "kanske")
    sheet.cell(5, first, "ja")
    page = _upload(client, control_id, book)
    assert "Rad 3:" in page and "Rad 5:" in page and "”kanske”" in page
    assert [r for r, _ in _items(app, ids)] == [None] * len(ids)


def test_working_paper_reports_items_changed_on_the_web_as_conflicts(
    app: Flask, world: World
) -> None:
    control_id, ids = _sample(app, world)
    client = _client(app)
    book = _paper(client, control_id)
    # Row 2 of the sheet is recorded on the web after the download.
    assert client.post(f"/sampling/controls/{control_id}/worksheet",
                       data=_form(app, ids) | {"row_ok": str(ids[1])}).status_code == 302
    sheet = book.active
    first = [c.value for c in sheet[1]].index("Registrerad i tid") + 1
    for row in (2, 3):
        for col in range(first, first + ATTRIBUTES):
            sheet.cell(row, col, "Ej bedömbar")
    page = _upload(client, control_id, book)
    assert "Inget sparades" in page
    assert "Rad 3 (post 2" in page and "ändrats av någon annan" in page
    assert [r for r, _ in _items(app, ids)][:2] == [None, "ok"]


class _Paper:
    """A table as the paper reader sees it; its rows may end before the last column."""

    def __init__(self, header: tuple[str, ...], rows: list[TableRow]) -> None:
        self.header = header
        self._rows = rows

    def __iter__(self) -> Iterator[TableRow]:
        return iter(self._rows)


def test_a_missing_result_cell_reads_as_not_chosen(app: Flask, world: World) -> None:
    """A row without a cell for an attribute is that attribute left empty, not "None"."""
    _, ids = _sample(app, world)
    with app.app_context():
        item = db.session.get_one(SampleItem, ids[0])
        attributes = _attribute_names(item)
        version = item.version
        header = (worksheet.ID_HEADING, worksheet.VERSION_HEADING, *attributes)
        short_row = TableRow(
            2,
            {worksheet.ID_HEADING: item.id, worksheet.VERSION_HEADING: item.version,
             attributes[0]: "OK"},
        )
        read = worksheet.read_paper(item.draw, _Paper(header, [short_row]))
    assert read == [(2, worksheet.RowInput(ids[0], version, ("ok",) + ("",) * (ATTRIBUTES - 1)))]
