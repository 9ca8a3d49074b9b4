"""The region-scale benchmark (bench/scale.py) runs end to end at a tiny scale: it builds its
data set, serves it with gunicorn, logs in as an administrator and as a unit member, and prints
a row for every page, each answered with 200 (or listed as not built / not allowed)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench import scale


def _bench_database_url(tmp_path: Path) -> str:
    base = os.environ.get("RISKREG_TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_path / 'scale.sqlite3'}"
    url = make_url(base)
    return url.set(database=f"{url.database}_bench_scale").render_as_string(hide_password=False)


@pytest.mark.slow
def test_the_benchmark_prints_every_page_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = scale.main(
        [
            "--database-url",
            _bench_database_url(tmp_path),
            "--scale",
            "0.002",
            "--clients",
            "1",
            "--requests",
            "1",
            "--duration",
            "0",
            "--workers",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out

    rows = {
        (cells[0], cells[1]): cells[2]
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| page")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert re.fullmatch(r"200×\d+", rows[("baseline: GET /login", "anonymous")])
    for page in scale.PAGES:
        for role in ("admin", "unit member"):
            status = rows[(page.name, role)]
            if page.path.startswith(("/search", "/api")):
                # Not there yet; once the page lands it must answer like every other.
                assert status == "not built" or re.fullmatch(r"200×\d+", status), (page, status)
            elif role == "unit member" and page.name in scale.MEMBER_NOT_ALLOWED:
                assert status == "not allowed", (page, status)
            else:
                assert re.fullmatch(r"200×\d+", status), (page, role, status)
    assert "built the data set in" in out
