"""The role × endpoint matrix, one module per feature.

Each module defines `EXPECTED: Matrix` and may define `ids(app) -> dict[str, int]`, which adds
the ids its URLs need (objects from the demo data). tests/test_permissions.py merges them all.
Roles: admin, controller (granskare), unit_member (smittskydd), approver (chef), auditor
(revisor), anonymous; see DEMO_LOGIN there.
"""
