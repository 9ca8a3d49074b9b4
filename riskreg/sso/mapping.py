"""From the identity provider's group claim to a riskreg role and units (pure, no database).

The mapping is JSON, given in OIDC_GROUP_MAPPING either inline or as the path of a file:

    {
      "roles": {"<group id>": "admin", "<group id>": "controller", ...},
      "units": {"<group id>": "SMITTSKYDD", "<group id>": ["HSF", "VC-NORR"], ...}
    }

Group ids are what the IdP puts in the ``groups`` claim (Entra ID: the group's object id).
A user in several role groups gets the first role of ROLE_PRECEDENCE among them; a user in
no role group is not let in. Units are the union over the user's unit groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskreg.auth.models import Role
from riskreg.config import ConfigError

#: Most privileged first: several role groups give the first of these.
ROLE_PRECEDENCE = (Role.ADMIN, Role.CONTROLLER, Role.APPROVER, Role.AUDITOR, Role.UNIT_MEMBER)


@dataclass(frozen=True)
class GroupMapping:
    roles: Mapping[str, Role]
    units: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Placement:
    """Where the groups put a user: the role (None: not let in) and the unit codes."""

    role: Role | None
    unit_codes: frozenset[str]


def load_mapping(setting: Any) -> GroupMapping:
    """Read OIDC_GROUP_MAPPING: a dict, a JSON object as text, or the path of a JSON file.
    Raises ConfigError for anything else, so a typo stops the start instead of a login."""
    if setting is None or setting == "":
        raise ConfigError("OIDC_GROUP_MAPPING is required when OIDC_ISSUER is set.")
    raw: Any = setting
    if isinstance(setting, str):
        text = setting.strip()
        if not text.startswith("{"):
            try:
                text = Path(text).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"OIDC_GROUP_MAPPING: cannot read {setting}: {exc}") from exc
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"OIDC_GROUP_MAPPING is no valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError("OIDC_GROUP_MAPPING must be a JSON object.")
    unknown = set(raw) - {"roles", "units"}
    if unknown & {"forvaltningar", "förvaltningar"}:
        raise ConfigError(
            "OIDC_GROUP_MAPPING: riskreg has no förvaltning level yet, so 'forvaltningar' "
            "cannot be mapped (see riskreg.sso.mapping.forvaltning_for)."
        )
    if unknown:
        raise ConfigError(f"OIDC_GROUP_MAPPING: unknown keys {sorted(unknown)}.")
    roles: dict[str, Role] = {}
    for group, role in dict(raw.get("roles") or {}).items():
        try:
            roles[str(group)] = Role(role)
        except ValueError as exc:
            raise ConfigError(
                f"OIDC_GROUP_MAPPING: {role!r} is no role; use one of "
                f"{', '.join(r.value for r in Role)}."
            ) from exc
    units: dict[str, tuple[str, ...]] = {}
    for group, codes in dict(raw.get("units") or {}).items():
        listed = [codes] if isinstance(codes, str) else codes
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise ConfigError(f"OIDC_GROUP_MAPPING: units of {group!r} must be unit codes.")
        units[str(group)] = tuple(listed)
    if not roles:
        raise ConfigError("OIDC_GROUP_MAPPING maps no group to a role: nobody could sign in.")
    return GroupMapping(roles=roles, units=units)


def place(groups: Iterable[str], mapping: GroupMapping) -> Placement:
    """The role and units that these groups give."""
    held = set(groups)
    granted = {mapping.roles[g] for g in held if g in mapping.roles}
    role = next((r for r in ROLE_PRECEDENCE if r in granted), None)
    codes = frozenset(code for g in held for code in mapping.units.get(g, ()))
    return Placement(role=role, unit_codes=codes)


def forvaltning_for(groups: Iterable[str], mapping: GroupMapping) -> None:
    """HOOK for the förvaltning level (issue 12): riskreg has no förvaltningar yet.

    When they exist, map the groups to the user's förvaltning here (a "forvaltningar" key in
    the mapping, refused by load_mapping until then) and apply it in
    riskreg.sso.services.sign_in next to the units.
    """
    return None
