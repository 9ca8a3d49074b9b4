"""Population and observation imports: Swedish files in, per-row messages out, all or nothing."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import hashlib
import io
import json
import multiprocessing
import resource
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from riskreg.audit.models import AuditEntry
from riskreg.auth.models import User
from riskreg.controls.models import Control
from riskreg.controls.services import change_status, set_conclusion
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.sampling import drawing, importing, planning
from riskreg.sampling.models import HygieneObservation, Population, PopulationItem, SamplePlan
from tests.sampling.conftest import NOW, World, count, csv_bytes

PAYMENT_HEADER = ["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp", "Betalningsdatum"]
PAYMENTS = [
    ["UTB-1", "Vårdcentralen Kungsgärdet AB", "VV-2023-011", "2025-01", "1\u00a0234\u00a0567,50",
     "2025-01-25"],
    ["UTB-2", "Läkarhuset Köping AB", "VV-2023-021", "2025-02", "98 000,00", "2025-02-25"],
    ["UTB-3", "Citykliniken Sala", "VV-2024-002", "2025-03", "-1 500,25", "2025-03-25"],
    ["UTB-4", "Ögonkliniken Västerås HB", "LOV-2023-007", "2025-04", "12,5", "2025-04-25"],
]
PAYMENTS_TOTAL = 123456750 + 9800000 - 150025 + 1250


def _import(world: World, check_type: str, data: bytes, name: str = "fil.csv", **kwargs):  # type: ignore[no-untyped-def]
    control = world.control(check_type)
    return importing.import_population(
        db.session,
        control,
        io.BytesIO(data),
        name,
        actor=world.user("granskare"),
        now=NOW,
        **kwargs,
    )


def _refused(world: World, check_type: str, data: bytes, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    before = (count(Population), count(PopulationItem), count(AuditEntry))
    with pytest.raises(ServiceError) as caught:
        _import(world, check_type, data, **kwargs)
    db.session.rollback()
    assert (count(Population), count(PopulationItem), count(AuditEntry)) == before
    return caught.value.messages


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("cp1252", ";"), ("utf-8-sig", ";"), ("utf-8", ","), ("utf-8-sig", "\t")],
)
def test_payments_swedish_csv_variants(ctx, world: World, encoding: str, delimiter: str) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes(PAYMENT_HEADER, PAYMENTS, delimiter=delimiter, encoding=encoding)
    population = _import(
        world, "payments", data, period_start=date(2025, 1, 1),
        period_end=date(2025, 5, 31), source="Ekonomisystemet",
    )
    db.session.commit()
    assert population.row_count == 4
    assert population.total_amount_ore == PAYMENTS_TOTAL
    assert population.file_sha256 == hashlib.sha256(data).hexdigest()
    assert population.imported_by.username == "granskare"
    rows = db.session.scalars(
        select(PopulationItem).order_by(PopulationItem.line)
    ).all()
    assert [r.record_key for r in rows] == ["UTB-1", "UTB-2", "UTB-3", "UTB-4"]
    assert [r.line for r in rows] == [2, 3, 4, 5]
    assert rows[0].amount_ore == 123456750
    data_json = json.loads(rows[0].data_json)
    assert data_json["provider"] == "Vårdcentralen Kungsgärdet AB"
    assert data_json["payment_date"] == "2025-01-25"
    events = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "population.import")
    ).all()
    assert len(events) == 1
    payload = json.loads(events[0].payload)["changes"]
    assert payload["file_sha256"] == population.file_sha256 and payload["row_count"] == 4
    assert not db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "population_item")
    ).all()


def test_payments_xlsx_with_typed_cells(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Payment id", "Provider", "Contract", "Period", "Amount", "Payment date"])
    sheet.append(["P1", "Capio", "VV-1", "2025-01", 1234.5, date(2025, 1, 3)])
    sheet.append(["P2", "Kry", "VV-2", "2025-02", 99, date(2025, 2, 3)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    population = _import(world, "payments", buffer.getvalue(), "utbetalningar.xlsx")
    assert population.row_count == 2
    assert population.total_amount_ore == 123450 + 9900
    assert population.file_sha256 == hashlib.sha256(buffer.getvalue()).hexdigest()


def test_bad_payment_rows_are_all_reported_and_nothing_is_written(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["UTB-1", "A", "VV-1", "2025-01", "1 234,567", "2025-01-25"],
        ["UTB-2", "B", "VV-1", "2025-01", "100,00", "2025-02-30"],
        ["UTB-3", "", "VV-1", "2025-01", "100,00", "2025-01-25"],
        ["UTB-4", "D", "VV-1", "2025-01", "100,00", "2025-01-25"],
        ["UTB-5", "E", "VV-1", "2025-01", "12,345", "2025-01-25"],
        ["UTB-4", "F", "VV-1", "2025-01", "100,00", "2025-01-25"],
        ["UTB-7", "G", "VV-1", "2025-01", "100,00", "2025-07-01"],
    ]
    messages = _refused(
        world,
        "payments",
        csv_bytes(PAYMENT_HEADER, rows),
        batch_size=2,  # the duplicate sits in a later batch than the first UTB-4
        period_start=date(2025, 1, 1),
        period_end=date(2025, 5, 31),
    )
    text = "\n".join(messages)
    assert "Rad 2: Belopp: ”1 234,567” har fler än två decimaler" in text
    assert "Rad 3: Betalningsdatum: ”2025-02-30” är inget giltigt datum" in text
    assert "Rad 4: Vårdgivare saknas." in text
    assert "Rad 6: Belopp: ”12,345” är tvetydigt" in text
    assert "Rad 7: Utbetalnings-id ”UTB-4” förekommer redan på rad 5" in text
    assert "Rad 8: Betalningsdatum 2025-07-01 ligger utanför populationens period." in text
    assert len(messages) == 6


def test_a_bad_row_after_written_batches_leaves_nothing(ctx, world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Batches already written (COPY on PostgreSQL, executemany on SQLite) go with the rollback."""
    written: list[int] = []
    real_write = importing.write_items

    def spy(session, rows):  # type: ignore[no-untyped-def]
        real_write(session, rows)
        written.append(len(rows))
        # Really in the table, inside the import's transaction.
        assert count(PopulationItem) == sum(written)

    monkeypatch.setattr(importing, "write_items", spy)
    rows = [
        [f"UTB-{n}", "Vårdgivare", "VV-1", "2025-01", "100,00", "2025-01-25"] for n in range(1, 11)
    ]
    rows[7][4] = "hundra"  # line 9, after two batches of three were written
    messages = _refused(world, "payments", csv_bytes(PAYMENT_HEADER, rows), batch_size=3)
    assert written == [3, 3]
    assert len(messages) == 1 and messages[0].startswith("Rad 9: Belopp:"), messages


def test_missing_columns_are_named(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    messages = _refused(
        world, "payments", csv_bytes(["Utbetalnings-id", "Belopp"], [["U1", "1,00"]])
    )
    assert "Kolumner saknas: Vårdgivare, Avtal, Period." in messages[0]


def test_unreadable_file_is_a_clean_error(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    messages = _refused(world, "payments", b"%PDF-1.4 not a table")
    assert "PDF" in messages[0]


def test_passcards_with_leavers_stratum(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    header = ["Kortnummer", "Innehavare", "Enhet", "Behörighetszoner", "Giltig till",
              "Anställning upphör"]
    rows = [
        ["K-1", "Åsa Öberg", "Akuten", "Entré, Akuten", "2026-01-31", ""],
        ["K-2", "Erik Ek", "Avd 21", "Entré", "2026-01-31", "2025-03-31"],
        ["K-3", "Lena Lind", "Röntgen", "Entré", "2026-01-31", "2024-12-31"],
    ]

    _import(world, "passcards", csv_bytes(header, rows), period_start=date(2025, 1, 1),
            period_end=date(2025, 6, 30))
    query = select(PopulationItem.record_key, PopulationItem.stratum)
    strata = dict(db.session.execute(query).all())
    assert strata == {"K-1": "övriga", "K-2": "avslutade", "K-3": "övriga"}


def test_passcards_bad_date(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    header = ["card id", "holder", "unit", "access zones", "valid to", "employment end"]
    messages = _refused(
        world, "passcards", csv_bytes(header, [["K-1", "A", "B", "C", "31/12/2025", ""]])
    )
    assert messages[0].startswith("Rad 2: Giltig till: ”31/12/2025” är inte ett datum")


def test_referrals_good_and_bad(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    header = ["Remiss-id", "Avsändare", "Mottagare", "Mottagen", "Prioritet"]
    rows = [["R-1", "VC Bäckby", "Ortopedi", "2025-02-03", "Normal"],
            ["R-2", "VC Skiljebo", "Kardiologi", "2025-02-04", "Förtur"]]
    population = _import(world, "referrals", csv_bytes(header, rows))
    assert population.row_count == 2 and population.total_amount_ore is None
    db.session.rollback()
    messages = _refused(world, "referrals", csv_bytes(header, [["R-1", "A", "B", "", "1"]]))
    assert messages == ["Rad 2: Mottagen saknas."]


def test_generic_population_uses_the_named_key_and_amount(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    header = ["Löpnummer", "Anställd", "Ny lön"]
    rows = [["L1", "Anna", "34 500"], ["L2", "Bo", "36 000,50"]]
    population = _import(
        world, "generic", csv_bytes(header, rows), key_column="löpnummer", amount_column="Ny lön"
    )
    assert population.total_amount_ore == 3450000 + 3600050
    assert json.loads(population.columns_json)[0][1] == "Löpnummer"
    db.session.rollback()
    assert "Ange vilken kolumn" in _refused(world, "generic", csv_bytes(header, rows))[0]
    messages = _refused(world, "generic", csv_bytes(header, rows), key_column="Id")
    assert "Kolumnen ”Id” finns inte i filen" in messages[0]
    duplicate = _refused(
        world, "generic", csv_bytes(header, [["L1", "A", "1"], ["L1", "B", "2"]]),
        key_column="Löpnummer",
    )
    assert duplicate == [
        "Rad 3: Löpnummer ”L1” förekommer redan på rad 2; varje post måste ha en unik nyckel."
    ]


def test_reimport_supersedes_before_a_draw_and_is_refused_after(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    first = _import(world, "payments", csv_bytes(PAYMENT_HEADER, PAYMENTS))
    control = world.control("payments")
    planning.plan_sample(
        db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
        confidence=Decimal("0.95"), tolerable_rate=Decimal("0.05"), population_size=4,
    )
    second = _import(world, "payments", csv_bytes(PAYMENT_HEADER, PAYMENTS[:3]))
    assert first.superseded and not second.superseded
    assert importing.current_population(db.session, control) is second
    # the plan was sized for 4 records; it no longer fits the new population
    assert db.session.scalars(select(SamplePlan)).one().superseded
    planning.plan_sample(
        db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
        confidence=Decimal("0.95"), tolerable_rate=Decimal("0.05"),
    )
    drawing.draw_sample(
        db.session, control, selection_method="simple_random", seed="abc",
        actor=world.user("granskare"), now=NOW,
    )
    db.session.commit()
    messages = _refused(world, "payments", csv_bytes(PAYMENT_HEADER, PAYMENTS))
    assert "redan draget" in messages[0]


def test_import_refused_when_submitted(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    control = world.control("payments")
    granskare = world.user("granskare")
    set_conclusion(db.session, control, "Klart.")
    change_status(db.session, control, "ready_for_review", actor=granskare, now=NOW)
    db.session.commit()
    messages = _refused(world, "payments", csv_bytes(PAYMENT_HEADER, PAYMENTS))
    assert "lämnad för godkännande" in messages[0]


def test_import_refused_before_the_control_is_started(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    """ISA 530: the deviation definition is locked at the start; nothing is tested before."""
    control = world.control("payments")
    control.status = "planned"  # as created, before "Påbörja"
    db.session.commit()
    messages = _refused(world, "payments", csv_bytes(PAYMENT_HEADER, PAYMENTS))
    assert "inte påbörjad" in messages[0] and "avvikelse" in messages[0]


HYGIENE_HEADER = ["Enhet", "Yrke", "Datum", "Typ", *(f"Steg {i}" for i in range(1, 9))]


def test_hygiene_bulk_import(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["Avd 21", "Sjuksköterska", "2025-03-03", "Observation", "J", "J", "EA", "EA", "J", "J",
         "J", "J"],
        ["Avd 21", "Läkare", "2025-03-03", "Självskattning", "ja", "N", "ea", "J", "J", "N", "J",
         "J"],
    ]
    added = importing.import_observations(
        db.session, world.control("hygiene"), io.BytesIO(csv_bytes(HYGIENE_HEADER, rows)),
        "ppm.csv", actor=world.user("granskare"), now=NOW,
    )
    db.session.commit()
    assert added == 2
    stored = db.session.scalars(select(HygieneObservation).order_by(HygieneObservation.id)).all()
    assert [o.steps for o in stored] == ["J,J,EA,EA,J,J,J,J", "J,N,EA,J,J,N,J,J"]
    assert [o.kind for o in stored] == ["observation", "self_assessment"]
    assert len(db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "hygiene.import")).all()) == 1


def test_hygiene_bulk_import_bad_rows(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["Avd 21", "Sjuksköterska", "2025-03-03", "", "J", "S", "J", "J", "J", "J", "J", "J"],
        ["", "Läkare", "3/3/2025", "Enkät", "J", "J", "J", "J", "J", "J", "J", ""],
    ]
    before = count(HygieneObservation)
    with pytest.raises(ServiceError) as caught:
        importing.import_observations(
            db.session, world.control("hygiene"), io.BytesIO(csv_bytes(HYGIENE_HEADER, rows)),
            "ppm.csv", actor=world.user("granskare"), now=NOW, batch_size=1,
        )
    db.session.rollback()
    assert count(HygieneObservation) == before
    assert caught.value.messages == [
        "Rad 2: Steg 2: ”S” är inte J, N eller EA.",
        "Rad 3: Enhet saknas.",
        "Rad 3: Datum: ”3/3/2025” är inte ett datum i formatet ÅÅÅÅ-MM-DD.",
        "Rad 3: Typ: ”enkät” är varken observation eller självskattning.",
        "Rad 3: Steg 8: värde saknas (J, N eller EA).",
    ]


def test_hashing_reader_matches_sha256_for_csv_and_out_of_order_reads() -> None:
    data = bytes(range(256)) * 5000
    reader = importing.HashingReader(io.BytesIO(data))
    reader.seek(len(data) - 10)
    reader.read(10)
    reader.seek(0)
    reader.read(1000)
    assert reader.hexdigest() == hashlib.sha256(data).hexdigest()
    assert reader.size == len(data)


def _payment_file(rows: int) -> bytes:
    lines = ["Utbetalnings-id;Vårdgivare;Avtal;Period;Belopp;Betalningsdatum"]
    lines += [
        f"U{n:07d};Vårdcentralen {n % 97} AB;VV-{n % 13};2025-0{1 + n % 5};"
        f"{n % 900 + 1} {n % 1000:03d},{n % 100:02d};2025-0{1 + n % 5}-1{n % 9}"
        for n in range(rows)
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _peak_growth_in_child(work) -> int:  # type: ignore[no-untyped-def]
    """Run ``work`` in a forked child; return how far its peak RSS rose above its start (bytes).

    A forked child inherits the parent's high-water mark, which earlier tests may have pushed
    above anything this work needs (the figure was then 0). So the child resets its own peak
    first (writing 5 to /proc/self/clear_refs) and reads VmHWM from /proc/self/status: the
    figure is the work's own high-water mark and not the test session's history.
    """
    parent, child = multiprocessing.get_context("fork").Pipe()

    def peak_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def run() -> None:
        db.engine.dispose(close=False)  # the child opens its own connections
        gc.collect()
        # A pytest-xdist worker that has run hundreds of tests holds freed but resident heap,
        # which the work would reuse without its resident size growing (the "hold every row"
        # baseline once measured 24 KiB): hand it back to the system first.
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        start = peak_kib()
        try:
            work()
            child.send(peak_kib() - start)
        except BaseException as exc:  # report, never hang the parent
            child.send(repr(exc))

    process = multiprocessing.get_context("fork").Process(target=run)
    process.start()
    result = parent.recv()
    process.join(timeout=60)
    assert isinstance(result, int), result
    return result * 1024  # ru_maxrss is in KiB on Linux


def test_50k_row_import_stays_within_a_memory_bound(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    data = _payment_file(50_000)
    control_id, user_id = world.controls["payments"], world.users["granskare"]
    db.session.remove()

    def import_file() -> None:
        control = db.session.get(Control, control_id)
        population = importing.import_population(
            db.session, control, io.BytesIO(data), "stor.csv",
            actor=db.session.get(User, user_id), now=NOW,
        )
        assert population.row_count == 50_000
        db.session.rollback()

    def hold_all_rows() -> None:  # what an import that keeps the file's rows would need
        rows = [
            {"line": n, "record_key": line.split(";")[0], "data_json": line}
            for n, line in enumerate(data.decode("cp1252").splitlines())
        ]
        assert len(rows) == 50_001

    used = _peak_growth_in_child(import_file)
    # What holding every row needs, counted by allocation: a resident-size figure for it is
    # unreliable in a worker that has run other tests (it reuses freed heap; once 24 KiB).
    tracemalloc.start()
    try:
        hold_all_rows()
        naive = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert used < 25 * 2**20, f"import peak grew by {used / 2**20:.1f} MB"
    assert used < naive, (used, naive)
