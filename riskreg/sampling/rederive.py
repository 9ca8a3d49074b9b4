"""The re-derivation package of a sample ("underlag för att återskapa urvalet") as a zip.

Whoever may read a sample check can download everything needed to re-draw it without riskreg:
the population as it was imported and normalised (``population.csv``), the rule, seed and
parameters (``urval.json``), the stored sample in order (``forvantat-urval.csv``), the
specification (``sampling.md``, the same text as ``docs/sampling.md``) and a README saying how
to use them. The population is streamed row by row into the zip, which is spooled to a
temporary file, so a million-row population is not held in memory.

The values in the package come from the stored draw, never from a new derivation: the point is
that someone else derives them again and compares.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.sampling.models import PopulationItem, SampleDraw, SampleItem

SPEC_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "sampling.md"
POPULATION_CSV: Final = "population.csv"
DRAW_JSON: Final = "urval.json"
EXPECTED_CSV: Final = "forvantat-urval.csv"
SPEC_NAME: Final = "sampling.md"
README_NAME: Final = "LASMIG.txt"
POPULATION_COLUMNS: Final = ("line", "key", "amount_ore", "stratum")
EXPECTED_COLUMNS: Final = ("position", "key", "stratum", "top_stratum", "selection_point_ore",
                           "points")
_SPOOL_BYTES: Final = 8 * 1024 * 1024

RULE_TITLES: Final = {
    "simple_random": "obundet slumpmässigt urval",
    "systematic": "systematiskt urval med slumpmässig start",
    "stratified": "skiktat urval",
    "mus_fixed_interval": "beloppsviktat urval (MUS) med fast intervall",
    "mus_cell": "beloppsviktat urval (MUS) med cellurval",
}


@dataclass(frozen=True)
class Package:
    """A finished zip: an open binary file positioned at 0, and its download name."""

    file: IO[bytes]
    download_name: str


def package_name(draw: SampleDraw) -> str:
    return f"riskreg-urval-{draw.control_id}-{draw.id}-aterskapa.zip"


def draw_description(draw: SampleDraw, expected_keys: list[str]) -> dict[str, Any]:
    """The JSON file: rule, seed, parameters, the population's fingerprints, expected keys."""
    parameters = json.loads(draw.parameters_json or "{}")
    population = draw.population
    rule = draw.selection_method
    extended = rule == "simple_random" and parameters.get("extensions")
    rule_note = "extension" if extended else rule
    return {
        "format": "riskreg-rederivation/1",
        "spec": SPEC_NAME,
        "rule": rule,
        "rule_section": rule_note,
        "seed": draw.seed,
        "parameters": parameters,
        "control": {"id": draw.control_id, "title": draw.control.title},
        "draw": {
            "id": draw.id,
            "drawn_at": draw.drawn_at.isoformat(),
            "sample_size": draw.sample_size,
            "superseded": draw.superseded,
        },
        "population": {
            "id": population.id,
            "file": POPULATION_CSV,
            "imported_file_name": population.file_name,
            "imported_file_sha256": population.file_sha256,
            "row_count": population.row_count,
            "total_amount_ore": population.total_amount_ore,
            "digest": parameters.get("population_digest"),
        },
        "expected": EXPECTED_CSV,
        "expected_keys": expected_keys,
    }


def _member(name: str, stamp: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _text_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> io.TextIOWrapper:
    return io.TextIOWrapper(archive.open(info, "w"), encoding="utf-8", newline="")


def _data_columns(session: Session, draw: SampleDraw) -> list[tuple[str, str]]:
    """The imported columns other than the key, as (column key, heading) in file order.

    The key column is the one the rows' data leave out (its value is ``key``); amounts are
    stored in öre, which the heading says.
    """
    first = session.scalar(
        select(PopulationItem.data_json)
        .where(PopulationItem.population_id == draw.population_id)
        .order_by(PopulationItem.line)
        .limit(1)
    )
    present = json.loads(first or "{}")
    columns = json.loads(draw.population.columns_json or "[]")
    return [
        (key, f"{label} (öre)" if kind == "amount" else label)
        for key, label, kind in columns
        if key in present
    ]


def _write_population(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, session: Session, draw: SampleDraw
) -> None:
    columns = _data_columns(session, draw)
    with _text_member(archive, info) as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([*POPULATION_COLUMNS, *(heading for _, heading in columns)])
        rows = session.execute(
            select(
                PopulationItem.line,
                PopulationItem.record_key,
                PopulationItem.amount_ore,
                PopulationItem.stratum,
                PopulationItem.data_json,
            )
            .where(PopulationItem.population_id == draw.population_id)
            .order_by(PopulationItem.line)
            .execution_options(yield_per=5000)
        )
        for line, key, amount, stratum, data_json in rows:
            data = json.loads(data_json or "{}")
            writer.writerow(
                [line, key, "" if amount is None else amount, stratum or ""]
                + ["" if data.get(k) is None else data[k] for k, _ in columns]
            )


def _expected(session: Session, draw: SampleDraw) -> list[tuple[Any, ...]]:
    parameters = json.loads(draw.parameters_json or "{}")
    multi = parameters.get("multi_points") or {}
    rows = session.execute(
        select(
            SampleItem.position,
            PopulationItem.record_key,
            SampleItem.stratum,
            SampleItem.top_stratum,
            SampleItem.selection_point_ore,
        )
        .join(PopulationItem, SampleItem.population_item_id == PopulationItem.id)
        .where(SampleItem.draw_id == draw.id)
        .order_by(SampleItem.position)
    ).all()
    return [
        (
            position,
            key,
            stratum or "",
            "1" if top else "0",
            "" if point is None else point,
            multi.get(key, 1 if point is not None else 0),
        )
        for position, key, stratum, top, point in rows
    ]


def readme(description: dict[str, Any]) -> str:
    rule = description["rule"]
    parameters = description["parameters"]
    population = description["population"]
    lines = [
        "Underlag för att återskapa ett urval i riskreg",
        "==============================================",
        "",
        f"Granskning: {description['control']['title']} (id {description['control']['id']})",
        f"Urval: id {description['draw']['id']}, draget {description['draw']['drawn_at']}, "
        f"{description['draw']['sample_size']} poster",
        f"Regel: {RULE_TITLES.get(rule, rule)} (`{description['rule_section']}` i {SPEC_NAME})",
        f"Frö (seed): {description['seed']}",
        "Parametrar: " + json.dumps(parameters.get("strata") or {
            k: parameters[k] for k in ("n", "population_size", "interval_ore") if k in parameters
        }, ensure_ascii=False, sort_keys=True),
        "",
        "Innehåll",
        "--------",
        f"{POPULATION_CSV}  populationen så som den importerades och normaliserades, i filens "
        "ordning: line (raden i den importerade filen), key (postens nyckel, den text som "
        "hashas), amount_ore (belopp i öre, tomt om inget), stratum (skikt), sedan övriga "
        "kolumner. UTF-8 utan BOM, komma som avgränsare, citattecken enligt RFC 4180.",
        f"{DRAW_JSON}  regel, frö, parametrar och populationens kontrollsummor; expected_keys "
        "är det lagrade urvalet i ordning.",
        f"{EXPECTED_CSV}  det lagrade urvalet i ordning (position, nyckel, skikt, toppskikt, "
        "urvalspunkt i öre, antal punkter).",
        f"{SPEC_NAME}  specifikationen av alla urvalsregler (samma text som docs/sampling.md).",
        "",
        "Så återskapas urvalet",
        "---------------------",
        f"1. Läs {POPULATION_CSV} med en CSV-läsare som följer citattecken. Öppna och spara den "
        "inte i ett kalkylprogram: det kan ändra nycklar (inledande nollor, datum, tal).",
        "2. Kontrollera att raderna är de som dragningen läste: SHA-256 av raderna enligt "
        f"avsnittet \"Population digest\" i {SPEC_NAME} ska vara "
        f"{population['digest'] or '(saknas för detta urval)'}.",
        f"3. Följ avsnittet för regeln `{description['rule_section']}` i {SPEC_NAME} med fröet "
        "och parametrarna ovan.",
        f"4. Jämför med {EXPECTED_CSV}: samma nycklar i samma ordning.",
        "",
        f"Den importerade filen hette {population['imported_file_name']} och hade SHA-256 "
        f"{population['imported_file_sha256']}; den finns inte i paketet. Nycklarna i "
        f"{POPULATION_CSV} är cellerna efter importens normalisering (NFC, blanktecken i "
        f"början och slutet borttagna), se {SPEC_NAME}.",
        "",
        "In English: population.csv is the population as imported (file order, normalised keys),",
        f"urval.json holds the rule, seed and parameters, {EXPECTED_CSV} the stored sample in",
        f"order. Follow the section for the rule in {SPEC_NAME} and compare.",
        "",
    ]
    return "\n".join(lines)


def build_package(session: Session, draw: SampleDraw, *, now: datetime) -> Package:
    """Write the zip for ``draw`` into a spooled temporary file and return it at offset 0."""
    expected = _expected(session, draw)
    description = draw_description(draw, [row[1] for row in expected])
    description["package_created_at"] = now.isoformat()
    spooled = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    stamp = now.timetuple()[:6]
    with zipfile.ZipFile(spooled, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_member(README_NAME, stamp), readme(description))
        archive.writestr(
            _member(DRAW_JSON, stamp),
            json.dumps(description, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        )
        with _text_member(archive, _member(EXPECTED_CSV, stamp)) as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(EXPECTED_COLUMNS)
            writer.writerows(expected)
        _write_population(archive, _member(POPULATION_CSV, stamp), session, draw)
        archive.writestr(_member(SPEC_NAME, stamp), SPEC_PATH.read_text(encoding="utf-8"))
    if spooled.tell() <= _SPOOL_BYTES:  # still in memory: hand over bytes, close the spool
        spooled.seek(0)
        small = io.BytesIO(spooled.read())
        spooled.close()
        return Package(small, package_name(draw))
    # A large package is a real temporary file; the response closes it once it is sent.
    spooled.seek(0)
    return Package(spooled, package_name(draw))
