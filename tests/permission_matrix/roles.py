"""Role sets shared by the per-feature permission matrices."""

from __future__ import annotations

from collections.abc import Callable

ALL = {"admin", "controller", "unit_member", "approver", "auditor"}
ADMIN = {"admin"}
READ_ALL = {"admin", "controller", "auditor"}
PUBLIC = ALL | {"anonymous"}

Ids = dict[str, int]
# endpoint -> (method, url builder, roles allowed)
Matrix = dict[str, tuple[str, Callable[[Ids], str], set[str]]]
