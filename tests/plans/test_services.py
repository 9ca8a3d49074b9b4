from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from riskreg.auth.models import Unit, User
from riskreg.errors import ServiceError, StaleObject
from riskreg.extensions import db
from riskreg.plans.models import Plan, PlanAmendment
from riskreg.plans.services import (
    RiskData,
    adopt_plan,
    create_risk,
    delete_risk,
    get_or_create_organisation,
    get_or_create_plan,
    update_risk,
)
from riskreg.risks.models import Risk, RiskAssessment

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _data(unit_id: int, **overrides: object) -> RiskData:
    values: dict[str, object] = {
        "section": "administration",
        "title": "Risk för att läkemedel förvaras felaktigt",
        "review_area": "Läkemedelshantering",
        "regulation": "HSLF-FS 2017:37",
        "method": "Stickprov på tio enheter",
        "probability": 3,
        "consequence": 4,
        "deadline": date(2025, 8, 15),
        "responsible_unit_id": unit_id,
    }
    values.update(overrides)
    return RiskData(**values)  # type: ignore[arg-type]


@pytest.fixture()
def setup(ctx: Flask) -> tuple[Plan, Unit, User]:
    from riskreg.auth.services import create_unit, create_user

    unit = create_unit(db.session, code="CE", name="Centrum för ekonomi")
    admin = create_user(
        db.session,
        username="ikadmin",
        email="ik@example.org",
        full_name="IK Samordnare",
        password="ett-långt-lösenord-1",
        role="admin",
    )
    org = get_or_create_organisation(db.session, "Region Test – HSF")
    plan = get_or_create_plan(db.session, org, 2025)
    db.session.commit()
    return plan, unit, admin


def test_risk_value_is_always_s_times_k(setup: tuple[Plan, Unit, User]) -> None:
    plan, unit, admin = setup
    risk = create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    db.session.commit()
    assert risk.risk_value == 12
    # The SQL expression agrees with the Python property (used for sorting and filtering).
    assert db.session.scalar(select(Risk.risk_value).where(Risk.id == risk.id)) == 12


@pytest.mark.parametrize(
    "field,value", [("probability", 5), ("probability", 0), ("consequence", 7)]
)
def test_scores_outside_1_to_4_are_refused(
    setup: tuple[Plan, Unit, User], field: str, value: int
) -> None:
    plan, unit, admin = setup
    with pytest.raises(ServiceError, match="heltal 1–4"):
        create_risk(db.session, plan, _data(unit.id, **{field: value}), actor=admin, now=NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Risk.id))) == 0


def test_creation_and_every_score_change_are_kept_as_history(
    setup: tuple[Plan, Unit, User],
) -> None:
    plan, unit, admin = setup
    risk = create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    db.session.commit()
    later = datetime(2025, 4, 1, 8, 0, tzinfo=UTC)
    update_risk(
        db.session,
        risk,
        _data(unit.id, probability=2),
        actor=admin,
        now=later,
        reason="Nya rutiner har införts",
        expected_version=risk.version,
    )
    db.session.commit()
    history = db.session.scalars(
        select(RiskAssessment)
        .where(RiskAssessment.risk_id == risk.id)
        .order_by(RiskAssessment.changed_at)
    ).all()
    assert [
        (h.old_probability, h.old_consequence, h.new_probability, h.new_consequence)
        for h in history
    ] == [
        (None, None, 3, 4),
        (3, 4, 2, 4),
    ]
    assert history[1].reason == "Nya rutiner har införts"
    assert history[1].changed_by_id == admin.id
    assert history[1].changed_at == later


def test_score_change_without_reason_is_refused(setup: tuple[Plan, Unit, User]) -> None:
    plan, unit, admin = setup
    risk = create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    db.session.commit()
    with pytest.raises(ServiceError, match="varför"):
        update_risk(db.session, risk, _data(unit.id, consequence=2), actor=admin, now=NOW)
    db.session.rollback()
    assert db.session.get(Risk, risk.id).consequence == 4


def test_text_change_without_score_change_needs_no_reason(setup: tuple[Plan, Unit, User]) -> None:
    plan, unit, admin = setup
    risk = create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    db.session.commit()
    update_risk(db.session, risk, _data(unit.id, method="Ny metod"), actor=admin, now=NOW)
    db.session.commit()
    assert db.session.get(Risk, risk.id).method == "Ny metod"
    assert len(db.session.get(Risk, risk.id).assessments) == 1


def test_stale_version_is_a_conflict_and_nothing_is_overwritten(
    setup: tuple[Plan, Unit, User],
) -> None:
    plan, unit, admin = setup
    risk = create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    db.session.commit()
    loaded_version = risk.version
    update_risk(
        db.session,
        risk,
        _data(unit.id, method="Först"),
        actor=admin,
        now=NOW,
        expected_version=loaded_version,
    )
    db.session.commit()
    with pytest.raises(StaleObject):
        update_risk(
            db.session,
            risk,
            _data(unit.id, method="Sist"),
            actor=admin,
            now=NOW,
            expected_version=loaded_version,
        )
    db.session.rollback()
    assert db.session.get(Risk, risk.id).method == "Först"


def test_adopted_plan_is_locked_without_a_reason(setup: tuple[Plan, Unit, User]) -> None:
    plan, unit, admin = setup
    risk = create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    adopt_plan(
        db.session,
        plan,
        actor=admin,
        now=NOW,
        decision_date=date(2025, 2, 20),
        decision_body="Hälso- och sjukvårdsnämnden",
        decision_paragraph="§ 12",
        diary_number="HSN 2025/12",
    )
    db.session.commit()
    with pytest.raises(ServiceError, match="fastställd"):
        update_risk(db.session, risk, _data(unit.id, method="Ändrad"), actor=admin, now=NOW)
    db.session.rollback()
    with pytest.raises(ServiceError, match="fastställd"):
        create_risk(db.session, plan, _data(unit.id, title="Ny"), actor=admin, now=NOW)
    db.session.rollback()
    with pytest.raises(ServiceError, match="fastställd"):
        delete_risk(db.session, db.session.get(Risk, risk.id), actor=admin, now=NOW)
    db.session.rollback()
    assert db.session.get(Risk, risk.id).method == "Stickprov på tio enheter"
    assert db.session.scalar(select(func.count(PlanAmendment.id))) == 0


def test_changes_after_adoption_are_recorded_with_their_reason(
    setup: tuple[Plan, Unit, User],
) -> None:
    plan, unit, admin = setup
    risk = create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    adopt_plan(
        db.session,
        plan,
        actor=admin,
        now=NOW,
        decision_date=date(2025, 2, 20),
        decision_body="Hälso- och sjukvårdsnämnden",
        decision_paragraph="§ 12",
        diary_number="HSN 2025/12",
    )
    db.session.commit()
    update_risk(
        db.session,
        risk,
        _data(unit.id, deadline=date(2025, 10, 31)),
        actor=admin,
        now=NOW,
        reason="Nämnden beslutade om ny tidpunkt",
    )
    db.session.commit()
    amendment = db.session.scalar(select(PlanAmendment))
    assert amendment is not None
    assert amendment.reason == "Nämnden beslutade om ny tidpunkt"
    assert "granskning klar" in amendment.summary
    assert db.session.get(Plan, plan.id).is_adopted


def test_adoption_requires_decision_details_and_risks(setup: tuple[Plan, Unit, User]) -> None:
    plan, unit, admin = setup
    with pytest.raises(ServiceError, match="utan risker"):
        adopt_plan(
            db.session,
            plan,
            actor=admin,
            now=NOW,
            decision_date=date(2025, 2, 20),
            decision_body="HSN",
            decision_paragraph="§ 1",
            diary_number="1",
        )
    db.session.rollback()
    plan = db.session.get(Plan, plan.id)
    create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    with pytest.raises(ServiceError, match="diarienummer"):
        adopt_plan(
            db.session,
            plan,
            actor=admin,
            now=NOW,
            decision_date=date(2025, 2, 20),
            decision_body="HSN",
            decision_paragraph="§ 1",
            diary_number="  ",
        )
    with pytest.raises(ServiceError, match="framtiden"):
        adopt_plan(
            db.session,
            plan,
            actor=admin,
            now=NOW,
            decision_date=date(2025, 3, 2),
            decision_body="HSN",
            decision_paragraph="§ 1",
            diary_number="1",
        )


def test_a_decision_taken_today_in_sweden_is_not_in_the_future(
    setup: tuple[Plan, Unit, User],
) -> None:
    """00:30 on 2 March in Stockholm is still 1 March in UTC: a decision dated 2 March is
    today's, not the future's."""
    plan, unit, admin = setup
    create_risk(db.session, plan, _data(unit.id), actor=admin, now=NOW)
    adopt_plan(
        db.session,
        plan,
        actor=admin,
        now=datetime(2025, 3, 1, 23, 30, tzinfo=UTC),
        decision_date=date(2025, 3, 2),
        decision_body="HSN",
        decision_paragraph="§ 1",
        diary_number="1",
    )
    assert db.session.get(Plan, plan.id).is_adopted
