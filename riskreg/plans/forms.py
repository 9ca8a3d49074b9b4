from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange


class PlanImportForm(FlaskForm):
    file = FileField(
        _l("Fil (CSV eller XLSX)"),
        validators=[
            FileRequired(_l("Välj en fil.")),
            FileAllowed(["csv", "xlsx", "txt"], _l("Endast CSV- eller XLSX-filer.")),
        ],
    )
    organisation = StringField(_l("Organisation"), validators=[DataRequired(), Length(max=200)])
    year = IntegerField(_l("Planår"), validators=[DataRequired(), NumberRange(2000, 2100)])
    create_units = BooleanField(_l("Skapa okända ansvariga enheter"))
    replace = BooleanField(_l("Ersätt planens befintliga risker"))


class AdoptPlanForm(FlaskForm):
    decision_date = DateField(_l("Beslutsdatum"), validators=[DataRequired()])
    decision_body = StringField(
        _l("Beslutande organ"), validators=[DataRequired(), Length(max=200)]
    )
    decision_paragraph = StringField(
        _l("Paragraf (§)"), validators=[DataRequired(), Length(max=40)]
    )
    diary_number = StringField(_l("Diarienummer"), validators=[DataRequired(), Length(max=60)])


class NewPlanForm(FlaskForm):
    organisation = StringField(_l("Organisation"), validators=[DataRequired(), Length(max=200)])
    year = IntegerField(_l("Planår"), validators=[DataRequired(), NumberRange(2000, 2100)])
