"""The data set of `bench/scale.py`: a region after five years (issue 15), written with bulk Core
inserts on the app's own tables (``riskreg.db.table_of``), so that it takes about a minute
instead of the hours the services would need for 700,000 rows.

At ``scale=1.0``: 5 förvaltningar (organisations) with a plan for each year 2021–2025
(25 plans), 50 units (one top unit per förvaltning, nine below each), about 150 users of every
role, 10,000 risks with S/K and an assessment history, 20,000 controls in every state (with a
controller, status events), 2,000 drawn samples of 60 items each (120,000 sampled items, from
populations of 100 rows), 5,000 deviations, 5,000 actions in every state (some overdue),
1,000 signed reports and 300,000 audit entries in a valid hash chain (`riskreg audit verify`
passes). Counts scale linearly with ``scale``; every kind keeps at least one row, so a tiny
scale still has a 60-item sample in the unit member's scope.

Ids are assigned here (so rows can refer to each other without reading back), and the
PostgreSQL sequences are moved past them afterwards, so the app can insert new rows.
Randomness comes from one seeded ``random.Random``: the same scale builds the same data.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, text

PASSWORD = "korrekt häst batteri häftklammer"  # a bench account, thrown away
ADMIN = "admin"
MEMBER = "enhet"  # a unit member of one förvaltning's top unit (sees its ten units)
YEARS = (2021, 2022, 2023, 2024, 2025)
ORGANISATIONS = (
    "Hälso- och sjukvårdsförvaltningen",
    "Regionservice",
    "Kultur- och utbildningsförvaltningen",
    "Kollektivtrafikförvaltningen",
    "Regionledningsförvaltningen",
)
UNITS_BELOW_EACH = 9
SAMPLE_SIZE = 60
POPULATION_SIZE = 100
BATCH = 5_000
#: (key, label, kind) per column, as riskreg.sampling.importing stores them.
COLUMNS_JSON = (
    '[["payment_id", "Betalnings-id", "key"], ["provider", "Vårdgivare", "text"], '
    '["period", "Period", "text"], ["amount", "Belopp", "amount"]]'
)

REVIEW_AREAS = (
    ("Utbetalningar till privata vårdgivare", "LOV-avtal, attestreglemente", "payments"),
    ("Passerkort och nycklar", "Riktlinje för behörigheter", "passcards"),
    ("Basala hygienrutiner och klädregler", "SOSFS 2015:10", "hygiene"),
    ("Remisshantering", "SOSFS 2004:11", "referrals"),
    ("Lönebildning och lönekorrigeringar", "Attestreglemente", "generic"),
    ("Avtalstrohet vid inköp", "Inköpspolicy, LOU", "generic"),
    ("Kemiska riskbedömningar", "AFS 2011:19", "generic"),
)


@dataclass
class BuiltData:
    """What the load driver needs from the data set, and how it was built."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    plan_id: int = 0  # the newest adopted plan (the member's förvaltning, 2025)
    sample_control_id: int = 0  # a control with a drawn 60-item sample in the member's units
    action_id: int = 0


def _scaled(base: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(base * scale))


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


class _Writer:
    """Core inserts in batches, counting rows per table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.counts: dict[str, int] = {}

    def insert(self, model: Any, rows: Sequence[dict[str, Any]]) -> None:
        from riskreg.db import table_of

        table = model if hasattr(model, "c") else table_of(model)
        for chunk in _batches(rows):
            self.conn.execute(insert(table), list(chunk))
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)


def build(conn: Connection, *, scale: float, seed: int = 15) -> BuiltData:
    """Fill an empty schema. ``conn`` is inside a transaction the caller commits."""
    from riskreg.audit.trail import GENESIS_HASH, canonical, chain_hash
    from riskreg.auth.models import Role, Unit, User, user_units
    from riskreg.auth.passwords import hash_password
    from riskreg.controls.models import (
        Action,
        ActionStatus,
        Control,
        ControlEvent,
        ControlStatus,
        Deviation,
        control_controllers,
    )
    from riskreg.plans.models import Organisation, Plan, PlanStatus, Section
    from riskreg.reports.models import Report
    from riskreg.risks.models import Risk, RiskAssessment
    from riskreg.sampling.models import (
        Population,
        PopulationItem,
        SampleDraw,
        SampleItem,
        SamplePlan,
    )

    started = time.perf_counter()
    rng = random.Random(seed)
    out = _Writer(conn)
    t0 = datetime(2020, 9, 1, 8, 0, tzinfo=UTC)
    today = date(2025, 11, 15)

    # --- organisations, units, users --------------------------------------------------------
    out.insert(
        Organisation,
        [{"id": i + 1, "name": name, "created_at": t0} for i, name in enumerate(ORGANISATIONS)],
    )
    units: list[dict[str, Any]] = []
    org_units: dict[int, list[int]] = {}
    for org_index in range(len(ORGANISATIONS)):
        top = len(units) + 1
        units.append(
            {
                "id": top,
                "code": f"F{org_index + 1}",
                "name": ORGANISATIONS[org_index],
                "parent_id": None,
                "email": f"f{org_index + 1}@example.org",
                "created_at": t0,
                "version": 1,
            }
        )
        org_units[org_index + 1] = [top]
        for child in range(UNITS_BELOW_EACH):
            uid = len(units) + 1
            units.append(
                {
                    "id": uid,
                    "code": f"F{org_index + 1}-{child + 1:02d}",
                    "name": f"{ORGANISATIONS[org_index]}, enhet {child + 1}",
                    "parent_id": top,
                    "email": f"f{org_index + 1}-{child + 1}@example.org",
                    "created_at": t0,
                    "version": 1,
                }
            )
            org_units[org_index + 1].append(uid)
    out.insert(Unit, units)

    # One real hash for every account: verifying it costs what a production login costs.
    hashed = hash_password(PASSWORD)
    users: list[dict[str, Any]] = []
    memberships: list[dict[str, int]] = []

    def add_user(username: str, role: Role, unit_ids: Sequence[int]) -> int:
        uid = len(users) + 1
        users.append(
            {
                "id": uid,
                "username": username,
                "email": f"{username}@example.org",
                "full_name": username.replace("-", " ").title(),
                "password_hash": hashed,
                "role": role.value,
                "active": True,
                "locale": "sv",
                "session_epoch": 1,
                "created_at": t0,
                "version": 1,
            }
        )
        memberships.extend({"user_id": uid, "unit_id": u} for u in unit_ids)
        return uid

    admin_id = add_user(ADMIN, Role.ADMIN, [org_units[1][0]])
    add_user("admin2", Role.ADMIN, [])
    member_org = 1
    add_user(MEMBER, Role.UNIT_MEMBER, [org_units[member_org][0]])
    controllers = [
        add_user(f"granskare-{i + 1}", Role.CONTROLLER, [units[i * 5]["id"]]) for i in range(10)
    ]
    approvers = [add_user(f"chef-{i + 1}", Role.APPROVER, [org_units[i + 1][0]]) for i in range(5)]
    for i in range(3):
        add_user(f"revisor-{i + 1}", Role.AUDITOR, [])
    for unit in units:
        for n in range(2):
            add_user(f"{unit['code'].lower()}-{n + 1}", Role.UNIT_MEMBER, [unit["id"]])
    out.insert(User, users)
    out.insert(user_units, memberships)
    conn.execute(
        text("UPDATE unit SET manager_id = :m WHERE parent_id IS NULL"), {"m": approvers[0]}
    )

    # --- plans: every förvaltning, every year; the member's förvaltning inserted last in each
    # year, so its 2025 plan is the newest (the dashboard's) ----------------------------------
    plans: list[dict[str, Any]] = []
    for year in YEARS:
        for org in sorted(org_units, key=lambda o: (o == member_org, o)):
            adopted = year < 2025 or org in (member_org, 2, 3)
            plans.append(
                {
                    "id": len(plans) + 1,
                    "organisation_id": org,
                    "year": year,
                    "status": (PlanStatus.ADOPTED if adopted else PlanStatus.DRAFT).value,
                    "decision_date": date(year - 1, 12, 10) if adopted else None,
                    "decision_body": "Hälso- och sjukvårdsnämnden" if adopted else None,
                    "decision_paragraph": f"§ {rng.randint(100, 250)}" if adopted else None,
                    "diary_number": f"RV{year - 1}-{rng.randint(100, 999)}" if adopted else None,
                    "adopted_by_id": admin_id if adopted else None,
                    "adopted_at": datetime(year - 1, 12, 11, 9, tzinfo=UTC) if adopted else None,
                    "created_at": datetime(year - 1, 10, 1, 9, tzinfo=UTC),
                    "version": 1,
                }
            )
    out.insert(Plan, plans)
    member_plan = max(p["id"] for p in plans if p["organisation_id"] == member_org)

    # --- risks and their assessments ---------------------------------------------------------
    n_risks = _scaled(10_000, scale, minimum=len(plans))
    risks: list[dict[str, Any]] = []
    assessments: list[dict[str, Any]] = []
    for i in range(n_risks):
        plan = plans[i % len(plans)]
        year = plan["year"]
        area, regulation, _kind = REVIEW_AREAS[i % len(REVIEW_AREAS)]
        s, k = rng.randint(1, 4), rng.randint(1, 4)
        created = datetime(year - 1, 10, 2, 9, tzinfo=UTC) + timedelta(minutes=i % 5000)
        rid = i + 1
        risks.append(
            {
                "id": rid,
                "plan_id": plan["id"],
                "position": i // len(plans) + 1,
                "section": (Section.REGION if i % 3 == 0 else Section.ADMINISTRATION).value,
                "title": f"Risk {rid}: brister i {area.lower()}",
                "review_area": area,
                "regulation": regulation,
                "method": "Stickprov enligt ISA 530",
                "probability": s,
                "consequence": k,
                "deadline": date(year, 10 + i % 3, 15),
                "responsible_unit_id": rng.choice(org_units[plan["organisation_id"]]),
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
        assessments.append(
            {
                "id": len(assessments) + 1,
                "risk_id": rid,
                "changed_by_id": admin_id,
                "changed_at": created,
                "old_probability": None,
                "old_consequence": None,
                "new_probability": s,
                "new_consequence": k,
                "reason": "Riskanalys",
            }
        )
        if i % 4 == 0:  # reassessed once
            assessments.append(
                {
                    "id": len(assessments) + 1,
                    "risk_id": rid,
                    "changed_by_id": admin_id,
                    "changed_at": created + timedelta(days=30),
                    "old_probability": s,
                    "old_consequence": k,
                    "new_probability": s,
                    "new_consequence": k,
                    "reason": "Omprövad efter dialog med verksamheten",
                }
            )
    out.insert(Risk, risks)
    out.insert(RiskAssessment, assessments)

    # --- controls in every state, with a controller and their status events ------------------
    n_controls = _scaled(20_000, scale, minimum=2 * n_risks)
    controls: list[dict[str, Any]] = []
    links: list[dict[str, int]] = []
    events: list[dict[str, Any]] = []
    path = [
        ControlStatus.PLANNED,
        ControlStatus.IN_PROGRESS,
        ControlStatus.READY_FOR_REVIEW,
        ControlStatus.APPROVED,
    ]
    for i in range(n_controls):
        risk = risks[i % n_risks]
        year = plans[risk["plan_id"] - 1]["year"]
        if year < 2025:
            status = (
                ControlStatus.APPROVED if rng.random() < 0.9 else ControlStatus.READY_FOR_REVIEW
            )
        else:
            status = rng.choice(path)
        cid = i + 1
        kind = REVIEW_AREAS[(risk["id"] - 1) % len(REVIEW_AREAS)][2]
        created = risk["created_at"] + timedelta(days=60)
        approved = status == ControlStatus.APPROVED
        controller = controllers[i % len(controllers)]
        controls.append(
            {
                "id": cid,
                "risk_id": risk["id"],
                "title": f"Granskning {cid}: {risk['review_area']}",
                "check_type": kind,
                "responsible_unit_id": risk["responsible_unit_id"],
                "deadline": risk["deadline"],
                "deviation_definition": "Avvikelse från rutinen",
                "attributes_text": "Attesterad\nKorrekt belopp" if kind == "generic" else "",
                "status": status.value,
                "conclusion": "Kontrollen fungerar i allt väsentligt." if approved else "",
                "created_by_id": admin_id,
                "created_at": created,
                "approved_by_id": approvers[0] if approved else None,
                "approved_at": created + timedelta(days=200) if approved else None,
                "version": 1,
            }
        )
        links.append({"control_id": cid, "user_id": controller})
        for step in range(1, path.index(status) + 1):
            events.append(
                {
                    "id": len(events) + 1,
                    "control_id": cid,
                    "at": created + timedelta(days=40 * step),
                    "actor_id": controller,
                    "from_status": path[step - 1].value,
                    "to_status": path[step].value,
                    "note": "",
                }
            )
    out.insert(Control, controls)
    out.insert(control_controllers, links)
    out.insert(ControlEvent, events)

    # --- drawn samples: populations of 100 rows, 60 items each, results recorded --------------
    member_units = set(org_units[member_org])
    drawable = [
        c
        for c in controls
        if c["status"] != ControlStatus.PLANNED.value and c["check_type"] != "hygiene"
    ]
    # The member's newest plan first, so the page picked for "a control with a 60-item
    # sample" is one the member may open.
    drawable.sort(
        key=lambda c: (
            c["responsible_unit_id"] not in member_units,
            risks[c["risk_id"] - 1]["plan_id"] != member_plan,
            c["id"],
        )
    )
    n_draws = min(len(drawable), _scaled(2_000, scale))
    drawn = drawable[:1] + rng.sample(drawable[1:], n_draws - 1)
    populations: list[dict[str, Any]] = []
    pop_items: list[dict[str, Any]] = []
    sample_plans: list[dict[str, Any]] = []
    draws: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    deviation_items: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for d, control in enumerate(drawn):
        did = d + 1
        at = control["created_at"] + timedelta(days=45)
        complete = control["status"] in (
            ControlStatus.READY_FOR_REVIEW.value,
            ControlStatus.APPROVED.value,
        )
        base = len(pop_items)
        populations.append(
            {
                "id": did,
                "control_id": control["id"],
                "source": "Raindance, utdrag",
                "period_start": date(at.year, 1, 1),
                "period_end": date(at.year, 6, 30),
                "file_name": f"population-{did}.csv",
                "file_sha256": hashlib.sha256(str(did).encode()).hexdigest(),
                "row_count": POPULATION_SIZE,
                "total_amount_ore": POPULATION_SIZE * 1_250_000,
                "columns_json": COLUMNS_JSON,
                "imported_by_id": admin_id,
                "imported_at": at,
                "superseded": False,
            }
        )
        for line in range(POPULATION_SIZE):
            pop_items.append(
                {
                    "id": base + line + 1,
                    "population_id": did,
                    "line": line + 2,
                    "record_key": f"P{did}-{line + 1}",
                    "amount_ore": 1_250_000,
                    "stratum": None,
                    "data_json": '{"provider": "Vårdcentralen Norr AB", "period": "2025-03"}',
                }
            )
        sample_plans.append(
            {
                "id": did,
                "control_id": control["id"],
                "method": "attribute",
                "confidence": Decimal("0.95"),
                "tolerable_rate": Decimal("0.05"),
                "expected_rate": Decimal("0"),
                "allowed_deviations": 0,
                "population_size": POPULATION_SIZE,
                "sample_size": SAMPLE_SIZE,
                "justification": "Tabell enligt ISA 530",
                "explanation": "",
                "created_by_id": admin_id,
                "created_at": at,
                "superseded": False,
            }
        )
        draws.append(
            {
                "id": did,
                "control_id": control["id"],
                "population_id": did,
                "plan_id": did,
                "seed": f"{rng.getrandbits(64):016x}",
                "selection_method": "simple_random",
                "parameters_json": "{}",
                "sample_size": SAMPLE_SIZE,
                "status": "drawn",
                "reason": "",
                "drawn_by_id": admin_id,
                "drawn_at": at,
                "superseded": False,
            }
        )
        for pos, line in enumerate(sorted(rng.sample(range(POPULATION_SIZE), SAMPLE_SIZE))):
            assessed = complete or rng.random() < 0.5
            result = None
            if assessed:
                roll = rng.random()
                result = "deviation" if roll < 0.05 else "not_assessable" if roll < 0.07 else "ok"
            item = {
                "id": len(items) + 1,
                "draw_id": did,
                "population_item_id": base + line + 1,
                "position": pos + 1,
                "stratum": None,
                "selection_point_ore": None,
                "top_stratum": False,
                "result": result,
                "comment": "",
                "audited_amount_ore": None,
                "assessed_by_id": admin_id if assessed else None,
                "assessed_at": at + timedelta(days=10) if assessed else None,
                "version": 1,
            }
            items.append(item)
            if result == "deviation":
                deviation_items.append((control, item))
    out.insert(Population, populations)
    out.insert(PopulationItem, pop_items)
    out.insert(SamplePlan, sample_plans)
    out.insert(SampleDraw, draws)
    out.insert(SampleItem, items)

    # --- deviations (on deviating items first) and one action each, in every state ------------
    n_deviations = _scaled(5_000, scale)
    rng.shuffle(deviation_items)
    sources = deviation_items[:n_deviations]
    while len(sources) < n_deviations:  # deviations found outside the sample
        sources.append((rng.choice(controls), {"id": None}))
    deviations, actions = [], []
    for n, (control, item) in enumerate(sources):
        at = control["created_at"] + timedelta(days=70)
        deviations.append(
            {
                "id": n + 1,
                "control_id": control["id"],
                "sample_item_id": item["id"],
                "description": "Utbetalningen saknar giltigt avtal för perioden",
                "recovery_claim_ore": 125_000 if control["check_type"] == "payments" else None,
                "created_by_id": admin_id,
                "created_at": at,
            }
        )
        state = (ActionStatus.OPEN, ActionStatus.ANSWERED, ActionStatus.VERIFIED)[n % 3]
        due = today + timedelta(days=rng.randint(-120, 90))
        answered = state != ActionStatus.OPEN
        verified = state == ActionStatus.VERIFIED
        actions.append(
            {
                "id": n + 1,
                "control_id": control["id"],
                "deviation_id": n + 1,
                "owner_unit_id": control["responsible_unit_id"],
                "description": "Återkräv beloppet och se över attestrutinen",
                "due_date": due,
                "status": state.value,
                "answer": "Åtgärdat" if answered else "",
                "answered_by_id": admin_id if answered else None,
                "answered_at": at + timedelta(days=20) if answered else None,
                "verification_note": "Kontrollerat" if verified else "",
                "verified_by_id": admin_id if verified else None,
                "verified_at": at + timedelta(days=30) if verified else None,
                "created_by_id": admin_id,
                "created_at": at,
                "version": 1,
                "form_token": None,
            }
        )
    out.insert(Deviation, deviations)
    out.insert(Action, actions)

    # --- signed review reports of approved controls ------------------------------------------
    approved_controls = [c for c in controls if c["status"] == ControlStatus.APPROVED.value]
    reports = []
    for n, control in enumerate(approved_controls[: _scaled(1_000, scale)]):
        digest = hashlib.sha256(f"report {n}".encode()).hexdigest()
        signed = n % 4 != 0
        reports.append(
            {
                "id": n + 1,
                "kind": "review",
                "control_id": control["id"],
                "plan_id": None,
                "number": 1,
                "reference": f"GR-{control['id']}-1",
                "subject_approved_at": control["approved_at"],
                "state": "signed" if signed else "certified",
                "content_sha256": digest,
                "certified_file": f"reports/{digest}.pdf",
                "certified_sha256": digest,
                "certified_by_id": controllers[0],
                "certified_by_name": "Granskare 1",
                "certified_role": "Granskare",
                "certified_at": control["approved_at"],
                "cosigner_id": approvers[0],
                "cosigner_name": "Chef 1",
                "cosigned_role": "Förvaltningschef",
                "final_file": f"reports/{digest}-final.pdf" if signed else None,
                "final_sha256": hashlib.sha256(digest.encode()).hexdigest() if signed else None,
                "cosigned_by_id": approvers[0] if signed else None,
                "cosigned_at": control["approved_at"] if signed else None,
                "version": 1,
            }
        )
    out.insert(Report, reports)

    # --- the audit trail: a valid chain of creations and updates -----------------------------
    from riskreg.audit.models import AuditEntry

    n_entries = _scaled(300_000, scale)
    kinds = (
        ("risk", n_risks),
        ("control", n_controls),
        ("sample_item", len(items)),
        ("action", len(actions)),
        ("deviation", len(deviations)),
    )
    prev = GENESIS_HASH
    start = datetime(2020, 10, 1, 8, tzinfo=UTC)
    spacing = (datetime(2025, 11, 1, tzinfo=UTC) - start) / n_entries
    entries: list[dict[str, Any]] = []
    for number in range(1, n_entries + 1):
        object_type, count = kinds[number % len(kinds)]
        object_id = str(rng.randint(1, count))
        action = "create" if number % 5 == 0 else "update"
        changes: dict[str, Any] = (
            {"id": [None, int(object_id)], "status": [None, "open"]}
            if action == "create"
            else {"status": ["planned", "in_progress"], "comment": ["", "ok"]}
        )
        actor = users[number % len(users)]
        entry = {
            "at": (start + spacing * number).isoformat(),
            "actor_id": actor["id"],
            "actor_name": actor["full_name"],
            "ip": "10.1.2.3",
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "reason": None,
            "changes": changes,
        }
        payload = canonical(entry)
        digest = chain_hash(prev, payload)
        entries.append(
            {
                "id": number,
                "at": start + spacing * number,
                "actor_id": actor["id"],
                "actor_name": actor["full_name"],
                "ip": "10.1.2.3",
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "reason": None,
                "payload": payload,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
        if len(entries) == BATCH * 4:
            out.insert(AuditEntry, entries)
            entries = []
    out.insert(AuditEntry, entries)

    if conn.dialect.name == "postgresql":
        _move_sequences(conn)
    return BuiltData(
        counts=out.counts,
        seconds=time.perf_counter() - started,
        plan_id=member_plan,
        sample_control_id=drawn[0]["id"],
        action_id=next(
            (a["id"] for a in actions if a["owner_unit_id"] in member_units), actions[0]["id"]
        ),
    )


def _move_sequences(conn: Connection) -> None:
    """Ids were given explicitly: move every serial sequence past the highest id."""
    rows = conn.execute(
        text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND column_name = 'id' AND column_default LIKE 'nextval%'"
        )
    ).scalars()
    for table in list(rows):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)'
            ),
            {"t": f'"{table}"'},
        )
