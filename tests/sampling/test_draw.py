"""Plans and draws: the seed is stored and logged first, redraws need a reason, samples extend,
and every method re-derives with nothing but SHA-256 and the documented rules."""

from __future__ import annotations

import hashlib
import io
import json
import math
from decimal import Decimal

import pytest
from scipy.stats import hypergeom
from sqlalchemy import select, update

from riskreg.audit.models import AuditEntry
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.sampling import drawing, importing, lookups, planning
from riskreg.sampling.models import PopulationItem, SampleDraw, SampleItem
from riskreg.sampling.selection import mus_fixed_interval
from tests.sampling.conftest import NOW, World, csv_bytes

HEADER = ["Utbetalnings-id", "Vårdgivare", "Avtal", "Period", "Belopp"]
SEED = "0123456789abcdef0123456789abcdef"


def _payments(world: World, rows: int = 60) -> None:
    data = csv_bytes(
        HEADER,
        [
            [f"U{n:03d}", "VG", "VV-1", "2025-01", f"{n * 7919 % 50000 + 100},{n % 100:02d}"]
            for n in range(1, rows + 1)
        ]
        + [["U-STOR", "Storleverantör", "VV-2", "2025-02", "900 000,00"]],
    )
    importing.import_population(
        db.session, world.control("payments"), io.BytesIO(data), "u.csv",
        actor=world.user("granskare"), now=NOW,
    )


def _attribute_plan(world: World, check_type: str = "payments") -> None:
    planning.plan_sample(
        db.session, world.control(check_type), method="attribute",
        actor=world.user("granskare"), now=NOW, confidence=Decimal("0.90"),
        tolerable_rate=Decimal("0.10"),
    )


def _draw(world: World, method: str = "simple_random", **kwargs):  # type: ignore[no-untyped-def]
    return drawing.draw_sample(
        db.session, world.control(kwargs.pop("check_type", "payments")),
        selection_method=method, seed=kwargs.pop("seed", SEED),
        actor=world.user("granskare"), now=NOW, **kwargs,
    )


def _hypergeometric_size(population: int, tolerable: float, risk: float) -> int:
    """Smallest n with no deviation allowed that rules out ceil(T N) deviations (scipy)."""
    bad = math.ceil(tolerable * population - 1e-9)
    return next(n for n in range(1, population + 1) if hypergeom.cdf(0, population, bad, n) <= risk)


# The 61 payments are imported, so the plan (90 %, T 10 %, E 0) is hypergeometric on N = 61,
# fewer than AICPA A-2's 22 for a large population.
PLANNED = _hypergeometric_size(61, 0.10, 0.10)


def _rank(seed: str, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()[:8], "big")


def test_attribute_plan_reproduces_the_aicpa_table(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    control = world.control("referrals")
    plan = planning.plan_sample(
        db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
        confidence=Decimal("0.95"), tolerable_rate=Decimal("0.05"),
        expected_rate=Decimal("0.0125"),
    )
    # AICPA table A-1: 95 %, tolerable 5 %, expected 1.25 % -> 124 (2)
    assert (plan.sample_size, plan.allowed_deviations) == (124, 2)
    assert "krävs 124 poster; högst 2 avvikelser tillåts" in plan.explanation
    again = planning.plan_sample(
        db.session, control, method="attribute", actor=world.user("granskare"), now=NOW,
        confidence=Decimal("0.90"), tolerable_rate=Decimal("0.05"),
        expected_rate=Decimal("0.035"),
    )
    # table A-2: 90 %, 5 %, 3.5 % -> 400 (14), the exact-arithmetic trap
    assert (again.sample_size, again.allowed_deviations) == (400, 14)
    assert plan.superseded and not again.superseded


def test_mus_plan_defaults_to_the_population_total(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    population = importing.current_population(db.session, world.control("payments"))
    plan = planning.plan_sample(
        db.session, world.control("payments"), method="mus", actor=world.user("granskare"),
        now=NOW, confidence=Decimal("0.95"), tolerable_misstatement_ore=20_000_00,
    )
    assert plan.book_value_ore == population.total_amount_ore
    assert plan.interval_ore == plan.book_value_ore // plan.sample_size
    assert "urvalsintervall" in plan.explanation


def test_non_statistical_plan_needs_a_justification(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError, match="Motivera"):
        planning.plan_sample(
            db.session, world.control("referrals"), method="non_statistical",
            actor=world.user("granskare"), now=NOW, sample_size=25,
        )
    plan = planning.plan_sample(
        db.session, world.control("referrals"), method="non_statistical",
        actor=world.user("granskare"), now=NOW, sample_size=25, justification="Liten enhet.",
    )
    assert plan.sample_size == 25 and "Liten enhet." in plan.explanation


def test_seed_is_stored_and_logged_before_any_item(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    _attribute_plan(world)
    draw = _draw(world)
    db.session.commit()
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    seeded = next(e for e in entries if e.action == "sample.seed")
    drawn = next(e for e in entries if e.action == "sample.draw")
    created = [e for e in entries if e.object_type == "sample_item" and e.action == "create"]
    draw_created = next(
        e for e in entries if e.object_type == "sample_draw" and e.action == "create"
    )
    assert json.loads(seeded.payload)["changes"]["seed"] == SEED
    assert json.loads(draw_created.payload)["changes"]["seed"] == [None, SEED]
    assert json.loads(draw_created.payload)["changes"]["status"] == [None, "seeded"]
    assert PLANNED < 22
    assert len(created) == draw.sample_size == PLANNED
    assert draw_created.id < seeded.id < min(e.id for e in created)
    assert max(e.id for e in created) < drawn.id
    assert draw.status == "drawn"


def test_simple_random_sample_follows_the_hash_rule(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    _attribute_plan(world)
    draw = _draw(world)
    keys = [k for (k,) in db.session.execute(select(PopulationItem.record_key))]
    expected = sorted(keys, key=lambda k: (_rank(SEED, k), k))[:PLANNED]
    assert [i.population_item.record_key for i in draw.items] == expected
    assert [i.position for i in draw.items] == list(range(1, PLANNED + 1))


def test_second_draw_needs_a_reason_and_keeps_the_first(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    _attribute_plan(world)
    first = _draw(world)
    with pytest.raises(ServiceError, match="kräver ett skäl"):
        _draw(world, seed="ffff")
    second = _draw(world, seed="ffff", reason="Fel population användes vid första dragningen.")
    db.session.commit()
    assert first.superseded and not second.superseded
    assert len(first.items) == PLANNED and len(second.items) == PLANNED
    assert lookups.current_draw(db.session, world.control("payments")) is second
    assert second.reason.startswith("Fel population")
    seeds = [
        json.loads(e.payload)["changes"]
        for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "sample.seed").order_by(AuditEntry.id)
        )
    ]
    assert [s["seed"] for s in seeds] == [SEED, "ffff"]
    assert seeds[1]["replaces_draw_id"] == first.id
    reasons = db.session.scalars(
        select(AuditEntry.reason).where(AuditEntry.action == "sample.seed")
    ).all()
    assert reasons[1] == "Fel population användes vid första dragningen."
    with pytest.raises(ServiceError, match="redan draget"):
        _attribute_plan(world)


def test_extending_keeps_the_earlier_picks(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    _attribute_plan(world)
    draw = _draw(world)
    before = [i.population_item.record_key for i in draw.items]
    with pytest.raises(ServiceError, match="varför"):
        drawing.extend_sample(db.session, draw, additional=5, reason=" ",
                               actor=world.user("granskare"), now=NOW)
    drawing.extend_sample(db.session, draw, additional=5, reason="Två avvikelser hittades.",
                           actor=world.user("granskare"), now=NOW)
    after = [i.population_item.record_key for i in draw.items]
    keys = [k for (k,) in db.session.execute(select(PopulationItem.record_key))]
    assert after[:PLANNED] == before
    assert after == sorted(keys, key=lambda k: (_rank(SEED, k), k))[: PLANNED + 5]
    assert drawing.verify_draw(db.session, draw).ok


def test_systematic_draw(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    _attribute_plan(world)
    draw = _draw(world, "systematic")
    params = json.loads(draw.parameters_json)
    assert draw.sample_size == PLANNED and "start" in params
    lines = [i.population_item.line for i in draw.items]
    assert lines == sorted(lines)
    assert drawing.verify_draw(db.session, draw).ok


def test_mus_fixed_interval_with_top_stratum(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    planning.plan_sample(
        db.session, world.control("payments"), method="mus", actor=world.user("granskare"),
        now=NOW, confidence=Decimal("0.95"), tolerable_misstatement_ore=200_000_00,
    )
    with pytest.raises(ServiceError, match="MUS"):
        _draw(world, "simple_random")
    draw = _draw(world, "mus_fixed_interval")
    params = json.loads(draw.parameters_json)
    rows = db.session.execute(
        select(PopulationItem.record_key, PopulationItem.amount_ore).order_by(PopulationItem.line)
    ).all()
    expected = mus_fixed_interval([(k, a) for k, a in rows], params["interval_ore"], SEED)
    assert [i.population_item.record_key for i in draw.items] == expected.keys
    top = [i for i in draw.items if i.top_stratum]
    assert [i.population_item.record_key for i in top] == ["U-STOR"]
    assert all(i.selection_point_ore for i in draw.items)
    assert drawing.verify_draw(db.session, draw).ok
    cell = _draw(world, "mus_cell", seed="cafe", reason="Cellurval i stället.")
    assert drawing.verify_draw(db.session, cell).ok
    assert cell.items[0].population_item.record_key == "U-STOR"


def test_stratified_passcards_draw(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    header = ["Kortnummer", "Innehavare", "Enhet", "Zoner", "Giltig till", "Anställning upphör"]
    rows = [
        [f"K{n:03d}", "N N", "Avd", "Entré", "2026-01-01", "2025-03-01" if n % 5 == 0 else ""]
        for n in range(1, 101)
    ]
    from datetime import date

    importing.import_population(
        db.session, world.control("passcards"), io.BytesIO(csv_bytes(header, rows)), "k.csv",
        actor=world.user("granskare"), now=NOW, period_start=date(2025, 1, 1),
        period_end=date(2025, 6, 30),
    )
    planning.plan_sample(
        db.session, world.control("passcards"), method="attribute",
        actor=world.user("granskare"), now=NOW, confidence=Decimal("0.90"),
        tolerable_rate=Decimal("0.10"), population_size=100,
    )
    with pytest.raises(ServiceError, match="minst planens"):
        _draw(world, "stratified", check_type="passcards",
              strata_sizes={"avslutade": 2, "övriga": 2})
    with pytest.raises(ServiceError, match="har 20 poster"):
        _draw(world, "stratified", check_type="passcards",
              strata_sizes={"avslutade": 21, "övriga": 2})
    draw = _draw(world, "stratified", check_type="passcards",
                 strata_sizes={"avslutade": 10, "övriga": 12})
    strata = [i.stratum for i in draw.items]
    assert strata.count("avslutade") == 10 and strata.count("övriga") == 12
    leavers = [i.population_item.record_key for i in draw.items if i.stratum == "avslutade"]
    all_leavers = [f"K{n:03d}" for n in range(5, 101, 5)]
    seed = SEED + "\x1e" + "avslutade"
    assert leavers == sorted(all_leavers, key=lambda k: (_rank(seed, k), k))[:10]
    assert drawing.verify_draw(db.session, draw).ok


def test_draw_requires_population_plan_and_deviation_definition(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError, match="Importera populationen"):
        _draw(world)
    _payments(world)
    with pytest.raises(ServiceError, match="Planera"):
        _draw(world)
    _attribute_plan(world)
    world.control("payments").deviation_definition = ""
    with pytest.raises(ServiceError, match="avvikelse"):
        _draw(world)


def test_verify_names_the_first_difference(ctx, world: World) -> None:  # type: ignore[no-untyped-def]
    _payments(world)
    _attribute_plan(world)
    draw = _draw(world)
    db.session.commit()
    third = draw.items[2]
    other = db.session.scalar(
        select(PopulationItem.id).where(
            PopulationItem.id.not_in([i.population_item_id for i in draw.items])
        )
    )
    db.session.execute(
        update(SampleItem).where(SampleItem.id == third.id).values(population_item_id=other)
    )
    db.session.commit()
    db.session.expire_all()
    result = drawing.verify_draw(db.session, db.session.get(SampleDraw, draw.id))
    assert not result.ok
    assert result.message.startswith("Första skillnaden på position 3:")
