"""Recording what the controller found for each sampled item, and actions on its deviation.

An overall avvikelse creates (or updates) the item's ``Deviation``; taking it back removes a
deviation without actions. The worksheet (:mod:`riskreg.sampling.worksheet`) saves many rows
through :func:`record_result`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.auth.models import Unit, User
from riskreg.controls.models import Action, Deviation
from riskreg.controls.services import (
    raise_action,
    record_deviation,
    require_open_for_testing,
)
from riskreg.errors import ServiceError, StaleObject
from riskreg.i18n import gettext_now as _
from riskreg.sampling.checktypes import attributes_for
from riskreg.sampling.lookups import is_mus_draw
from riskreg.sampling.models import (
    AttributeResult,
    ItemResult,
    SampleItem,
)

RESULT_VALUES: Final = tuple(r.value for r in ItemResult)


def item_deviation(session: Session, item: SampleItem) -> Deviation | None:
    return session.scalar(
        select(Deviation).where(Deviation.sample_item_id == item.id).order_by(Deviation.id)
    )


def record_result(
    session: Session,
    item: SampleItem,
    *,
    attribute_results: dict[str, str],
    overall: str,
    actor: User,
    now: datetime,
    comment: str = "",
    audited_amount_ore: int | None = None,
    deviation_description: str = "",
    recovery_claim_ore: int | None = None,
    expected_version: int | None = None,
) -> SampleItem:
    """Store what the controller found for one sampled item.

    An overall avvikelse creates the item's Deviation (or updates it); taking the avvikelse
    back removes a deviation that has no actions yet.
    """
    draw = item.draw
    control = draw.control
    require_open_for_testing(control)
    if draw.superseded:
        raise ServiceError(_("Urvalet är ersatt av ett nytt; resultat registreras i det nya."))
    if expected_version is not None and item.version != expected_version:
        raise StaleObject(_("Posten har ändrats av någon annan. Ladda om sidan och försök igen."))
    attributes = attributes_for(control)
    problems: list[str] = []
    for attribute in attributes:
        if attribute_results.get(attribute) not in RESULT_VALUES:
            problems.append(_("Ange resultat för ”%(attribute)s”.", attribute=attribute))
    if overall not in RESULT_VALUES:
        problems.append(_("Ange helhetsbedömning."))
    if any(attribute_results.get(a) == ItemResult.DEVIATION for a in attributes) and (
        overall == ItemResult.OK
    ):
        problems.append(_("Ett attribut har en avvikelse; helhetsbedömningen kan inte vara OK."))
    book = item.population_item.amount_ore
    mus = is_mus_draw(draw)
    if mus and overall in (ItemResult.OK, ItemResult.DEVIATION):
        if audited_amount_ore is None and overall == ItemResult.OK:
            audited_amount_ore = book
        if audited_amount_ore is None:
            problems.append(_("Ange granskat (korrekt) belopp för posten."))
        elif audited_amount_ore < 0:
            problems.append(_("Granskat belopp kan inte vara negativt."))
        elif overall == ItemResult.OK and audited_amount_ore != book:
            problems.append(
                _("Granskat belopp skiljer sig från bokfört; bedöm posten som avvikelse.")
            )
    existing = item_deviation(session, item)
    if overall == ItemResult.DEVIATION and existing is None and not deviation_description.strip():
        problems.append(_("Beskriv avvikelsen."))
    if recovery_claim_ore is not None and recovery_claim_ore < 0:
        problems.append(_("Återkravet kan inte vara negativt."))
    if existing is not None and overall != ItemResult.DEVIATION and existing.actions:
        problems.append(_("Avvikelsen har åtgärder och kan inte tas bort."))
    if problems:
        raise ServiceError(problems[0], messages=problems)
    by_name = {r.attribute: r for r in item.attribute_results}
    for attribute in attributes:
        value = attribute_results[attribute]
        if attribute in by_name:
            by_name[attribute].result = value
        else:
            item.attribute_results.append(AttributeResult(attribute=attribute, result=value))
    item.result = overall
    item.comment = comment.strip()
    item.audited_amount_ore = audited_amount_ore if mus else None
    item.assessed_by = actor
    item.assessed_at = now
    session.flush()
    if overall == ItemResult.DEVIATION:
        if existing is None:
            record_deviation(
                session,
                control,
                description=deviation_description,
                actor=actor,
                now=now,
                sample_item_id=item.id,
                recovery_claim_ore=recovery_claim_ore,
            )
        else:
            if deviation_description.strip():
                existing.description = deviation_description.strip()
            existing.recovery_claim_ore = recovery_claim_ore
            session.flush()
    elif existing is not None:
        session.delete(existing)
        session.flush()
    return item


def raise_item_action(
    session: Session,
    item: SampleItem,
    *,
    description: str,
    owner_unit: Unit,
    due_date: date,
    actor: User,
    now: datetime,
    form_token: str | None = None,
) -> Action:
    deviation = item_deviation(session, item)
    if deviation is None:
        raise ServiceError(_("Posten har ingen avvikelse att åtgärda."))
    return raise_action(
        session,
        item.draw.control,
        description=description,
        owner_unit=owner_unit,
        due_date=due_date,
        actor=actor,
        now=now,
        deviation=deviation,
        form_token=form_token,
    )
