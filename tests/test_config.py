from __future__ import annotations

from pathlib import Path

import pytest

from riskreg import create_app
from riskreg.config import ConfigError


def test_defaults_sqlite_in_instance_and_a_kept_secret_key(clean_env: Path) -> None:
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{clean_env / 'riskreg.sqlite3'}"
    key = app.config["SECRET_KEY"]
    assert len(key) == 64 and (clean_env / "secret_key").read_text() == key
    assert (clean_env / "secret_key").stat().st_mode & 0o777 == 0o600
    assert create_app().config["SECRET_KEY"] == key


def test_instance_config_then_environment_then_test_config(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "config.py").write_text('MAIL_SERVER = "smtp.region.se"\nMAIL_PORT = 25\n')
    assert create_app().config["MAIL_SERVER"] == "smtp.region.se"
    monkeypatch.setenv("RISKREG_MAIL_PORT", "587")
    monkeypatch.setenv("RISKREG_MAIL_USE_TLS", "true")
    monkeypatch.setenv("RISKREG_DATABASE_URL", "postgresql://u@db/riskreg")
    app = create_app()
    assert app.config["MAIL_PORT"] == 587 and app.config["MAIL_USE_TLS"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/riskreg"
    assert create_app({"MAIL_PORT": 2525}).config["MAIL_PORT"] == 2525


def test_production_refuses_development_secret_and_debug(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKREG_ENV_NAME", "production")
    monkeypatch.setenv("RISKREG_SECRET_KEY", "dev")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("RISKREG_SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.setenv("RISKREG_DEBUG", "true")
    with pytest.raises(ConfigError, match="DEBUG"):
        create_app()
    monkeypatch.delenv("RISKREG_DEBUG")
    assert create_app().config["ENV_NAME"] == "production"
