"""The audit trail: admins and auditors read and export it; nobody else sees it at all."""

from __future__ import annotations

from tests.permission_matrix.roles import Matrix

TRAIL_READERS = {"admin", "auditor"}

EXPECTED: Matrix = {
    "audit.index": ("GET", lambda i: "/audit/?type=risk", TRAIL_READERS),
    "audit.export": ("GET", lambda i: "/audit/export.csv", TRAIL_READERS),
}
