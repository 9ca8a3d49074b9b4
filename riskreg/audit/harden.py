"""`riskreg db harden`: on PostgreSQL, the application's role may only add to the audit trail.

The tables are owned by the role that runs the migrations (the owner can always change its own
tables). The application connects as another role, which gets SELECT, INSERT, UPDATE and DELETE
on the business tables and only SELECT and INSERT on ``audit_entry``: no UPDATE, DELETE or
TRUNCATE, so a bug, an SQL injection or a stolen application password cannot rewrite or cut the
trail. Run it as the owner after every ``riskreg db upgrade`` (new tables need their grants).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from riskreg.errors import ServiceError

__all__ = ["HardenResult", "harden"]

AUDIT_TABLE = "audit_entry"


@dataclass(frozen=True)
class HardenResult:
    role: str
    tables: int
    statements: list[str]


def _quote(conn: Connection, name: str) -> str:
    quoted = conn.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar_one()
    return str(quoted)


def harden(conn: Connection, app_role: str, *, schema: str = "public") -> HardenResult:
    """Grant ``app_role`` what the application needs, and no more on the audit table."""
    if conn.dialect.name != "postgresql":
        raise ServiceError("Rollerna kan bara sättas upp på PostgreSQL.")
    role = conn.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": app_role}
    ).first()
    if role is None:
        raise ServiceError(
            f"Rollen {app_role} finns inte. Skapa den först, t.ex. "
            f"CREATE ROLE {app_role} LOGIN PASSWORD '…';"
        )
    if role[0]:
        raise ServiceError(f"{app_role} är superanvändare; då hjälper inga behörigheter.")
    owner = conn.execute(
        text("SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = :t"),
        {"s": schema, "t": AUDIT_TABLE},
    ).scalar()
    if owner is None:
        raise ServiceError(f"Tabellen {AUDIT_TABLE} finns inte; kör `riskreg db upgrade` först.")
    owns = conn.execute(
        text("SELECT pg_has_role(:r, :o, 'USAGE')"), {"r": app_role, "o": owner}
    ).scalar()
    if owns:
        raise ServiceError(
            f"{app_role} äger tabellerna (eller är medlem i ägarrollen {owner}) och kan därför "
            "ändra granskningsspåret. Låt en annan roll äga tabellerna och köra migreringarna."
        )
    r = _quote(conn, app_role)
    s = _quote(conn, schema)
    database = _quote(conn, conn.execute(text("SELECT current_database()")).scalar_one())
    audit = f"{s}.{_quote(conn, AUDIT_TABLE)}"
    tables = [
        str(name)
        for name in conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
            {"s": schema},
        ).scalars()
    ]
    statements = [
        f"GRANT CONNECT ON DATABASE {database} TO {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"REVOKE CREATE ON SCHEMA {s} FROM {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        # The trail: read and append only.
        f"REVOKE ALL ON {audit} FROM {r}",
        f"REVOKE ALL ON {audit} FROM PUBLIC",
        f"GRANT SELECT, INSERT ON {audit} TO {r}",
    ]
    if "alembic_version" in tables:
        version = f"{s}.{_quote(conn, 'alembic_version')}"
        statements += [f"REVOKE ALL ON {version} FROM {r}", f"GRANT SELECT ON {version} TO {r}"]
    for statement in statements:
        conn.execute(text(statement))
    return HardenResult(app_role, len(tables), statements)


def audit_privileges(conn: Connection, app_role: str) -> dict[str, bool]:
    """What ``app_role`` may do to the audit table, as PostgreSQL answers it."""
    return {
        privilege: bool(
            conn.execute(
                text("SELECT has_table_privilege(:r, :t, :p)"),
                {"r": app_role, "t": AUDIT_TABLE, "p": privilege},
            ).scalar()
        )
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
    }
