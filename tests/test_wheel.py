"""The built wheel runs on its own: templates, static files and migrations travel inside it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SERVE_LOGIN = """
import sys
from pathlib import Path
import riskreg
assert not Path(riskreg.__file__).is_relative_to(sys.argv[1]), riskreg.__file__
from riskreg import create_app
client = create_app().test_client()
login = client.get("/login", headers={"Accept-Language": "sv"})
css = client.get("/static/css/riskreg.css")
print(login.status_code, css.status_code)
print(login.get_data(as_text=True))
"""


@pytest.mark.slow
def test_the_wheel_installs_upgrades_its_database_and_serves_the_login_page(
    tmp_path: Path,
) -> None:
    if os.environ.get("RISKREG_TEST_DATABASE_URL"):
        pytest.skip("the wheel is built and checked once, in the SQLite pass")
    quiet = {"capture_output": True, "text": True, "timeout": 900}
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        **quiet,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("riskreg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "riskreg/templates/auth/login.html" in names
    assert "riskreg/static/css/riskreg.css" in names
    assert "riskreg/migrations/env.py" in names
    assert any(n.startswith("riskreg/migrations/versions/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, **quiet)
    # The wheel with its runtime dependencies only (from pip's cache or the configured indexes).
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    installed = subprocess.run([*pip, str(wheel)], **quiet)
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "run"  # not the checkout: nothing may come from the source tree
    elsewhere.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RISKREG_INSTANCE_PATH": str(elsewhere / "instance"),
        "RISKREG_DATABASE_URL": f"sqlite:///{elsewhere / 'riskreg.sqlite3'}",
    }
    upgraded = subprocess.run(
        [str(venv / "bin" / "riskreg"), "db", "upgrade"], cwd=elsewhere, env=env, **quiet
    )
    assert upgraded.returncode == 0, upgraded.stderr
    served = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SERVE_LOGIN, str(ROOT)],
        cwd=elsewhere,
        env=env,
        **quiet,
    )
    assert served.returncode == 0, served.stderr
    status, page = served.stdout.split("\n", 1)
    assert status == "200 200"
    assert "Logga in" in page and 'lang="sv"' in page
