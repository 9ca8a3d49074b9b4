"""The features' forms (controls, actions, sampling, reminders, reports) for the hostile-input
properties (tests/security/hostile.py). Evidence uploads are in test_hostile_imports.py.

Objects are the full demo's, found by creation order (accepted hostile edits rename them):
controls 1 payments (approved), 2 passcards (ready for review), 3 hygiene (in progress),
4 referrals (planned), 5 CHR salaries (generic, in progress), 6 and 7 generic (planned);
actions 1 and 2 are open CHR actions of control 5; the payments control's review report is
signed and waits for its co-signature. Where a form needs another state (a control opened again
for testing, an answered action), the entry's url/valid functions set it up before the property
takes its fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from riskreg.controls.models import Action, Control
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk
from tests.security.hostile import FormValue, HostileForm
from tests.security.hostile_forms.foundation import _unit, _user

PAYMENTS, PASSCARDS, HYGIENE, REFERRALS, SALARIES, CHEMICALS, PURCHASES = range(7)


def _control(index: int) -> Control:
    control = db.session.scalar(select(Control).order_by(Control.id).offset(index).limit(1))
    assert control is not None
    return control


def _action(index: int) -> Action:
    action = db.session.scalar(select(Action).order_by(Action.id).offset(index).limit(1))
    assert action is not None
    return action


def control_id(index: int) -> int:
    return _control(index).id


def started(control: Control) -> Control:
    """The control in progress: sample work waits until the check has started (ISA 530)."""
    from riskreg.controls.models import ControlStatus
    from riskreg.controls.services import change_status

    if control.status == ControlStatus.PLANNED:
        change_status(
            db.session, control, ControlStatus.IN_PROGRESS,
            actor=control.controllers[0], now=now_utc(),
        )
        db.session.commit()
    return control


# --- controls -----------------------------------------------------------------------------------


def control_new_url(app: Flask) -> str:
    with app.app_context():
        plan = db.session.scalar(select(Plan).order_by(Plan.id).limit(1))
        assert plan is not None
        risk = db.session.scalar(
            select(Risk).where(Risk.plan_id == plan.id).order_by(Risk.id).limit(1)
        )
        assert risk is not None
        return f"/controls/new?risk={risk.id}"


def control_new_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {
            "title": "Ny granskning",
            "check_type": "generic",
            "responsible_unit_id": str(_unit("CE").id),
            "controllers": [str(_user("granskare").id)],
            "deadline": "2025-11-30",
            "deviation_definition": "En post är en avvikelse om beslutet saknas.",
            "attributes_text": "Beslut finns\nBeslutet är attesterat",
        }


def control_edit_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/{control_id(PURCHASES)}/edit"


def control_edit_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        control = _control(PURCHASES)
        return {
            "title": control.title,
            "controllers": [str(u.id) for u in control.controllers],
            "deadline": control.deadline.isoformat() if control.deadline else "",
            "deviation_definition": control.deviation_definition or "",
            "attributes_text": control.attributes_text or "",
            "version": str(control.version),
        }


def action_new_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/{control_id(SALARIES)}/actions/new"


def action_new_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {
            "description": "Rätta lönebesluten",
            "owner_unit_id": str(_unit("CHR").id),
            "due_date": "2026-12-31",
        }


def answer_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/actions/{_action(0).id}/answer"


def answer_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {"answer": "Lönebesluten är rättade.", "version": str(_action(0).version)}


def due_date_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/actions/{_action(1).id}/due-date"


def due_date_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {
            "due_date": "2027-02-15",
            "reason": "Enheten behöver mer tid.",
            "version": str(_action(1).version),
        }


# --- sampling -----------------------------------------------------------------------------------


def plan_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/controls/{control_id(SALARIES)}/plan"


PLAN_VALUES: dict[str, FormValue] = {
    "method": "attribute",
    "confidence": "0.95",
    "tolerable_rate": "5",
    "expected_rate": "0",
    "population_size": "",
    "sample_size": "",
    "justification": "",
}


def _payments_to_plan() -> Control:
    """A payments control with nothing drawn yet (the demo's has its sample drawn and approved),
    made once, before the property's own fingerprint, so the MUS fields can be attacked."""
    from riskreg.controls.services import create_control

    demo = _control(PAYMENTS)
    fresh = db.session.scalar(
        select(Control)
        .where(Control.check_type == demo.check_type, Control.id != demo.id)
        .order_by(Control.id)
        .limit(1)
    )
    if fresh is None:
        fresh = create_control(
            db.session,
            demo.risk,
            title="Utbetalningar andra halvåret",
            check_type=demo.check_type,
            responsible_unit=demo.responsible_unit,
            controllers=demo.controllers,
            deviation_definition="En utbetalning är en avvikelse om beloppet inte följer avtalet.",
            actor=None,
            now=now_utc(),
        )
        db.session.commit()
    return fresh


def mus_plan_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/controls/{started(_payments_to_plan()).id}/plan"


MUS_PLAN_VALUES: dict[str, FormValue] = {
    **PLAN_VALUES,
    "method": "mus",
    "book_value": "12 500 000",
    "tolerable_misstatement": "250 000,50",
    "expected_misstatement": "25 000",
}


def hygiene_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/controls/{control_id(HYGIENE)}/hygiene"


HYGIENE_VALUES: dict[str, FormValue] = {
    "unit_name": "Avdelning 12",
    "profession": "Sjuksköterska",
    "observed_on": "2025-05-12",
    "kind": "observation",
    **{f"step{i}": "J" for i in range(1, 9)},
}


def _reopened(index: int) -> Control:
    """A demo control with a drawn sample (passcards: ready for review; payments: approved),
    opened again for testing directly, before the property's own fingerprint, so results can
    be recorded."""
    from riskreg.controls.models import ControlStatus

    control = _control(index)
    if control.status_enum != ControlStatus.IN_PROGRESS:
        control.status = ControlStatus.IN_PROGRESS.value
        db.session.commit()
    return control


def _first_item_id(control: Control) -> int:
    from riskreg.sampling.models import SampleDraw, SampleItem

    item_id = db.session.scalar(
        select(SampleItem.id)
        .join(SampleItem.draw)
        .where(SampleDraw.control_id == control.id)
        .order_by(SampleItem.id)
        .limit(1)
    )
    assert item_id is not None
    return item_id


def item_url(index: int) -> Callable[[Flask], str]:
    def url(app: Flask) -> str:
        with app.app_context():
            return f"/sampling/items/{_first_item_id(_reopened(index))}"

    return url


def item_values(index: int) -> Callable[[Flask], dict[str, FormValue]]:
    """A valid result for the first item: every attribute OK, and for the MUS sample of the
    payments control the audited amount (as booked) and a recovery claim."""

    def values(app: Flask) -> dict[str, FormValue]:
        from riskreg.sampling.checktypes import attributes_for
        from riskreg.sampling.models import SampleItem

        with app.app_context():
            control = _reopened(index)
            item = db.session.get(SampleItem, _first_item_id(control))
            assert item is not None
            result: dict[str, FormValue] = {
                "version": str(item.version),
                "overall": "ok",
                "comment": "Kontrollerad mot underlaget.",
                "deviation_description": "",
            }
            if index == PAYMENTS:
                result["audited_amount"] = "1 045,00"
                result["recovery_claim"] = ""
            for number in range(len(attributes_for(control))):
                result[f"attr_{number}"] = "ok"
            return result

    return values


def worksheet_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/controls/{_reopened(PASSCARDS).id}/worksheet"


def worksheet_values(app: Flask) -> dict[str, FormValue]:
    """The first item of the reopened passcards sample: its version and every attribute
    OK, sent with "Spara" (the attacked fields are that row's)."""
    from riskreg.sampling.checktypes import attributes_for
    from riskreg.sampling.models import SampleItem

    with app.app_context():
        control = _reopened(PASSCARDS)
        item = db.session.get(SampleItem, _first_item_id(control))
        assert item is not None
        result: dict[str, FormValue] = {f"version-{item.id}": str(item.version), "save": "1"}
        for number in range(len(attributes_for(control))):
            result[f"attr-{item.id}-{number}"] = "ok"
        WORKSHEET_ATTACK[:] = [f"version-{item.id}", f"attr-{item.id}-0", f"attr-{item.id}-1"]
        return result


#: The worksheet's field names carry the item's id, known only once the demo is loaded:
#: worksheet_values() fills this before the properties draw a field from it.
WORKSHEET_ATTACK: list[str] = []


def extend_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/controls/{_reopened(PASSCARDS).id}/extend"


def draw_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/controls/{_reopened(PASSCARDS).id}/draw"


def stratified_draw_values(app: Flask) -> dict[str, FormValue]:
    """A stratified draw again: every stratum (the draw page's stratum-0, -1, … in name order)
    asks for as many items as the plan, or all it has."""
    from riskreg.sampling import importing, lookups

    with app.app_context():
        control = _reopened(PASSCARDS)
        population = importing.current_population(db.session, control)
        plan = lookups.current_plan(db.session, control)
        assert population is not None and plan is not None
        counts = {k: v for k, v in lookups.stratum_counts(db.session, population).items() if k}
        assert len(counts) >= 2
        values: dict[str, FormValue] = {
            "selection_method": "stratified",
            "reason": "Avslutade anställningar ska överurvalas.",
        }
        for index, name in enumerate(sorted(counts)):
            values[f"stratum-{index}"] = str(min(counts[name], plan.sample_size))
        return values


def item_action_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/items/{_first_item_id(_reopened(PASSCARDS))}/action"


def item_action_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {
            "description": "Spärra kortet.",
            "owner_unit": str(_unit("Staben").id),
            "due_date": "2026-12-31",
        }


def evaluate_url(app: Flask) -> str:
    with app.app_context():
        return f"/sampling/controls/{_reopened(PASSCARDS).id}/evaluate"


def evaluate_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {
            "conclusion": "Inga väsentliga avvikelser i urvalet.",
            "version": str(_reopened(PASSCARDS).version),
        }


def _answered(index: int) -> Action:
    """A demo action answered by its unit (directly, before the property's own fingerprint),
    so the controller has something to verify."""
    from riskreg.controls.models import ActionStatus

    action = _action(index)
    if action.status == ActionStatus.OPEN.value:
        action.status = ActionStatus.ANSWERED.value
        action.answer = "Lönebesluten är rättade och attesterade."
        db.session.commit()
    return action


def verify_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/actions/{_answered(0).id}/verify"


def verify_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {"note": "", "version": str(_answered(0).version), "accept": "Verifiera"}


def send_back_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/{control_id(PASSCARDS)}/send-back"


def send_back_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        version = _control(PASSCARDS).version
        return {"note": "Komplettera med kvittenserna.", "version": str(version)}


def approve_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/{control_id(PASSCARDS)}/approve"


def reopen_url(app: Flask) -> str:
    with app.app_context():
        return f"/controls/{control_id(PAYMENTS)}/reopen"


def reopen_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        version = _control(PAYMENTS).version
        return {"note": "Nya uppgifter om en utbetalning.", "version": str(version)}


def _review_report_id() -> int:
    """The demo's signed review report of the payments control, waiting for its co-signature."""
    from riskreg.reports.models import Report

    report_id = db.session.scalar(
        select(Report.id).where(Report.control_id == _control(PAYMENTS).id).limit(1)
    )
    assert report_id is not None
    return report_id


def cosign_url(app: Flask) -> str:
    with app.app_context():
        return f"/reports/{_review_report_id()}/cosign"


def followup_sign_url(app: Flask) -> str:
    with app.app_context():
        plan = db.session.scalar(select(Plan).order_by(Plan.id).limit(1))
        assert plan is not None
        return f"/reports/plans/{plan.id}/followup/sign"


def followup_sign_values(app: Flask) -> dict[str, FormValue]:
    with app.app_context():
        return {"confirm": "y", "cosigner": str(_user("chef").id), "next": "", "password": "x"}


# --- reminders ----------------------------------------------------------------------------------


def policy_values(app: Flask) -> dict[str, FormValue]:
    from riskreg.reminders import policy_store

    with app.app_context():
        row = policy_store.policy_row(db.session)
        return {
            "days_before": "14, 3",
            "on_due_date": "y",
            "repeat_overdue_every_days": "7",
            "escalate_after_days": "14",
            "repeat_escalation_every_days": "",
            "version": str(row.version) if row else "",
        }


CONTROL_FIELDS = ("title", "deadline", "deviation_definition", "attributes_text", "controllers")

FORMS = [
    HostileForm(
        name="control new",
        url=control_new_url,
        valid=control_new_values,
        attack=(*CONTROL_FIELDS, "check_type", "responsible_unit_id"),
        login="granskare",
        too_long=10_001,
    ),
    HostileForm(
        name="control edit",
        url=control_edit_url,
        valid=control_edit_values,
        attack=(*CONTROL_FIELDS, "version"),
        login="granskare",
        too_long=10_001,
    ),
    HostileForm(
        name="action new",
        url=action_new_url,
        valid=action_new_values,
        attack=("description", "owner_unit_id", "due_date"),
        login="granskare",
    ),
    HostileForm(
        name="action answer",
        url=answer_url,
        valid=answer_values,
        attack=("answer", "version"),
        too_long=10_001,
    ),
    HostileForm(
        name="action due date",
        url=due_date_url,
        valid=due_date_values,
        attack=("due_date", "reason", "version"),
        login="granskare",
    ),
    HostileForm(
        name="sampling plan",
        url=plan_url,
        valid=lambda app: dict(PLAN_VALUES),
        attack=tuple(PLAN_VALUES),
        login="granskare",
    ),
    HostileForm(
        name="sampling plan (MUS)",
        url=mus_plan_url,
        valid=lambda app: dict(MUS_PLAN_VALUES),
        attack=tuple(MUS_PLAN_VALUES),
        login="granskare",
    ),
    HostileForm(
        name="hygiene entry",
        url=hygiene_url,
        valid=lambda app: dict(HYGIENE_VALUES),
        attack=("unit_name", "profession", "observed_on", "kind", "step1", "step8"),
        login="granskare2",
    ),
    HostileForm(
        name="item result",
        url=item_url(PASSCARDS),
        valid=item_values(PASSCARDS),
        attack=("version", "overall", "comment", "deviation_description", "attr_0"),
        login="granskare2",
    ),
    HostileForm(
        name="item result (MUS)",
        url=item_url(PAYMENTS),
        valid=item_values(PAYMENTS),
        attack=("overall", "audited_amount", "deviation_description", "recovery_claim"),
        login="granskare",
    ),
    HostileForm(
        name="worksheet",
        url=worksheet_url,
        valid=worksheet_values,
        attack=WORKSHEET_ATTACK,
        login="granskare2",
    ),
    HostileForm(
        name="sample draw again",
        url=draw_url,
        valid=lambda app: {
            "selection_method": "simple_random",
            "reason": "Populationen var ofullständig; ny fil från HR.",
        },
        attack=("selection_method", "reason"),
        login="granskare2",
    ),
    HostileForm(
        name="sample draw stratified",
        url=draw_url,
        valid=stratified_draw_values,
        attack=("stratum-0", "stratum-1", "reason"),
        login="granskare2",
    ),
    HostileForm(
        name="sample extend",
        url=extend_url,
        valid=lambda app: {"additional": "5", "reason": "Fler avvikelser än väntat."},
        attack=("additional", "reason"),
        login="granskare2",
        # The form sits on the draw page: a refusal goes back there with the message.
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="item action",
        url=item_action_url,
        valid=item_action_values,
        attack=("description", "owner_unit", "due_date"),
        login="granskare2",
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="sampling conclusion",
        url=evaluate_url,
        valid=evaluate_values,
        attack=("conclusion", "version"),
        login="granskare2",
        too_long=20_001,
    ),
    HostileForm(
        name="action verify",
        url=verify_url,
        valid=verify_values,
        attack=("note", "version"),
        login="granskare",
    ),
    HostileForm(
        name="control send back",
        url=send_back_url,
        valid=send_back_values,
        attack=("note", "version"),
        login="chef",
        # Status changes are buttons on the control page: a refusal goes back there.
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="control approve",
        url=approve_url,
        valid=send_back_values,
        attack=("note", "version"),
        login="chef",
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="control reopen",
        url=reopen_url,
        valid=reopen_values,
        attack=("note", "version"),
        login="chef",
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="notifications read",
        url=lambda app: "/reminders/notifications/read",
        valid=lambda app: {"all": "1", "notification_id": ""},
        attack=("all", "notification_id"),
        login="granskare",
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="report cosign",
        url=cosign_url,
        # The step-up password is not known here (random demo passwords): every post is refused
        # at the password check, which is what hostile values in it must not get past.
        valid=lambda app: {"confirm": "y", "next": "", "password": "x"},
        attack=("next", "password"),
        login="chef",
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="follow-up sign",
        url=followup_sign_url,
        valid=followup_sign_values,
        attack=("cosigner", "next", "password"),
        quiet_refusal=frozenset({302}),
        quiet_message=True,
    ),
    HostileForm(
        name="reminder policy",
        url=lambda app: "/reminders/policy",
        valid=policy_values,
        # Not on_due_date: a checkbox is ticked by any value, as in a browser, and nothing of
        # the value is kept (the foundation's checkboxes are left out for the same reason).
        attack=(
            "days_before", "repeat_overdue_every_days", "escalate_after_days",
            "repeat_escalation_every_days", "version",
        ),
    ),
]
