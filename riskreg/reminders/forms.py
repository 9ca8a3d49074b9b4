from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import AnyOf, Length, NumberRange, Optional, Regexp

from riskreg.formtools import choices
from riskreg.reminders.policy import MAX_DAYS

KIND_LABELS = {"control": _l("Granskning"), "action": _l("Åtgärd")}
REASON_LABELS = {
    "assigned": _l("Ny åtgärd tilldelad"),
    "before": _l("Före sista dag"),
    "due": _l("På sista dag"),
    "overdue": _l("Försenad"),
    "escalation": _l("Eskalering till chef"),
    "reopened": _l("Godkänd granskning öppnad igen"),
}
STATE_LABELS = {
    "sent": _l("Skickad"),
    "failed": _l("Ej skickad"),
    "claimed": _l("Skickas"),
}

_DAYS = NumberRange(1, MAX_DAYS, message=_l("Ange 1–%(max)s dagar.", max=MAX_DAYS))


class PolicyForm(FlaskForm):
    days_before = StringField(
        _l("Påminn så här många dagar före sista dag"),
        validators=[
            Optional(),
            Length(max=100),
            Regexp(r"^[\d\s,;]*$", message=_l("Ange antal dagar åtskilda med komma, t.ex. 14, 3.")),
        ],
        description=_l("Till exempel 14, 3. Lämna tomt för inga påminnelser före sista dag."),
    )
    on_due_date = BooleanField(_l("Påminn på sista dagen"))
    repeat_overdue_every_days = IntegerField(
        _l("Påminn om försenade ärenden var N:e dag"),
        validators=[Optional(), _DAYS],
        description=_l(
            "Standard 7 (varje vecka). Lämna tomt för inga påminnelser efter sista dag."
        ),
    )
    escalate_after_days = IntegerField(
        _l("Meddela enhetens chef när ärendet är så här många dagar försenat"),
        validators=[Optional(), _DAYS],
        description=_l("Standard 14. Lämna tomt för ingen eskalering."),
    )
    repeat_escalation_every_days = IntegerField(
        _l("Upprepa eskaleringen var N:e dag"),
        validators=[Optional(), _DAYS],
        description=_l("Lämna tomt för att chefen meddelas en gång per sista dag."),
    )
    version = HiddenField()


class LogFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    date_from = DateField(_l("Från"), validators=[Optional()])
    date_to = DateField(_l("Till"), validators=[Optional()])
    unit_id = SelectField(_l("Enhet"), coerce=int, default=0)
    recipient = StringField(_l("Mottagare"), validators=[Optional(), Length(max=254)])
    kind = SelectField(
        _l("Typ"),
        default="",
        choices=choices([("", _l("Alla")), *KIND_LABELS.items()]),
    )
    reason = SelectField(
        _l("Skäl"),
        default="",
        choices=choices([("", _l("Alla")), *REASON_LABELS.items()]),
    )
    state = SelectField(
        _l("Status"),
        default="",
        choices=choices([("", _l("Alla")), *STATE_LABELS.items()]),
    )


class MarkReadForm(FlaskForm):
    """Mark one notification (``notification_id``) or all of them (``all``) as read."""

    notification_id = IntegerField(validators=[Optional()])
    all = HiddenField(validators=[Optional(), AnyOf(("1",))])
