"""The command line × every role, like the route matrix in test_permissions.py.

Commands that act on the register run for a named user (`--as`), who must be active and pass
the same rule as on the web; the server's own commands are listed with the reason they need
no user. A command in neither list fails the guard test.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.demo import PLAN_FILE
from riskreg.extensions import db
from riskreg.permissions import CLI_ON_BEHALF_OF, CLI_OPERATOR

ROLES = ("admin", "controller", "unit_member", "approver", "auditor")
#: Who may run each command, written out here rather than read from riskreg.permissions.
EXPECTED = {
    "users create": {"admin"},
    "users set-password": {"admin"},
    "plan import": {"admin"},
    "plan export": {"admin", "controller", "auditor"},
    "reports export": {"admin", "controller", "auditor"},
}


def _commands(group: click.Group, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group) and full not in CLI_OPERATOR:
            names |= _commands(command, f"{full} ")
        else:
            names.add(full)
    return names


def test_every_command_is_either_on_behalf_of_a_user_or_the_servers_own(app: Flask) -> None:
    commands = _commands(app.cli)
    assert commands - set(CLI_ON_BEHALF_OF) - set(CLI_OPERATOR) == set(), "classify these"
    assert set(CLI_ON_BEHALF_OF) == set(EXPECTED)
    assert set(CLI_ON_BEHALF_OF) & set(CLI_OPERATOR) == set()


def _arguments(command: str, role: str, tmp_path: Path) -> list[str]:
    return {
        "users create": [
            "users", "create", f"ny-{role}", "--email", f"ny-{role}@example.org", "--name",
            "Ny Användare", "--role", "auditor", "--password", "ett-långt-lösenord",
        ],
        "users set-password": ["users", "set-password", "controller", "--password",
                               "ett-annat-långt-lösenord"],
        "plan import": ["plan", "import", str(PLAN_FILE), "--year", "2025", "--organisation",
                        f"Förvaltning {role}", "--create-units"],
        "plan export": ["plan", "export", "--year", "2025"],
        "reports export": ["reports", "export", str(tmp_path / f"arkiv-{role}")],
    }[command]


@pytest.fixture()
def users(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    for role in ROLES:
        make_user(role, role)
    inactive = make_user("inactive", "admin")
    with app.app_context():
        db.session.get(User, inactive.id).active = False
        db.session.commit()


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_command_line_roles(
    app: Flask, users: None, command: str, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    for role in ROLES:
        result = runner.invoke(args=[*_arguments(command, role, tmp_path), "--as", role])
        if role in EXPECTED[command]:
            assert result.exit_code in (0, 1), (role, result.output)
            assert "får inte" not in result.output
        else:
            assert result.exit_code == 2, (role, result.output)
            assert f"{role} ({role}) får inte köra ”riskreg {command}”" in result.output
    for who in ([], ["--as", "inactive"], ["--as", "finns-inte"]):
        result = runner.invoke(args=[*_arguments(command, "x", tmp_path), *who])
        assert result.exit_code == 2, (who, result.output)
        assert "--as" in result.output or "ingen aktiv användare" in result.output


def test_allowed_runs_do_their_work(app: Flask, users: None, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=[*_arguments("users create", "admin", tmp_path), "--as", "admin"])
    assert created.exit_code == 0, created.output
    imported = runner.invoke(args=[*_arguments("plan import", "admin", tmp_path), "--as", "admin"])
    assert imported.exit_code == 0 and "7 risker" in imported.output
    exported = runner.invoke(args=["plan", "export", "--year", "2025", "--as", "auditor"])
    assert exported.exit_code == 0 and exported.output.startswith("section,risk,review_area")
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "ny-admin")) is not None


def test_the_first_administrator_needs_no_as(app: Flask) -> None:
    """A fresh installation has nobody to act for: the first account is created bare."""
    runner = app.test_cli_runner()
    first = [
        "users", "create", "forste", "--email", "f@example.org", "--name", "Första Admin",
        "--role", "admin", "--password", "ett-långt-lösenord",
    ]
    assert runner.invoke(args=first).exit_code == 0
    second = runner.invoke(args=[*first[:2], "andra", *first[3:]])
    assert second.exit_code == 2 and "Ange --as" in second.output
