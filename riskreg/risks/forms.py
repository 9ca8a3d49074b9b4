from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from riskreg.formtools import choices
from riskreg.plans.models import SECTION_TITLES

SCORE = [
    InputRequired(_l("Ange ett heltal 1–4.")),
    NumberRange(1, 4, _l("Måste vara ett heltal 1–4.")),
]


class RiskForm(FlaskForm):
    section = SelectField(
        _l("Avsnitt"), choices=choices((k.value, _l(v)) for k, v in SECTION_TITLES.items())
    )
    title = TextAreaField(_l("Risk"), validators=[DataRequired(), Length(max=2000)])
    review_area = TextAreaField(_l("Granskningsområde"), validators=[Length(max=2000)])
    regulation = TextAreaField(_l("Berört reglemente/policy/regler"), validators=[Length(max=2000)])
    method = TextAreaField(_l("Metod för granskning"), validators=[Length(max=4000)])
    probability = IntegerField(_l("Sannolikhet (S)"), validators=SCORE)
    consequence = IntegerField(_l("Konsekvens (K)"), validators=SCORE)
    deadline = DateField(_l("Granskning klar"), validators=[Optional()])
    responsible_unit_id = SelectField(_l("Ansvarig för granskning"), coerce=int)
    reason = TextAreaField(
        _l("Skäl för ändringen"),
        validators=[Length(max=2000)],
        description=_l("Krävs när S eller K ändras och när planen är fastställd."),
    )
    version = HiddenField()


class DeleteForm(FlaskForm):
    reason = StringField(_l("Skäl"), validators=[Length(max=2000)])
