from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from riskreg.auth.models import Role
from riskreg.formtools import choices

ROLE_LABELS = {
    Role.ADMIN: _l("Administratör (IK-samordnare)"),
    Role.CONTROLLER: _l("Granskare"),
    Role.UNIT_MEMBER: _l("Ansvarig enhet"),
    Role.APPROVER: _l("Godkännare"),
    Role.AUDITOR: _l("Revisor"),
}
COLOUR = Regexp(r"^#[0-9a-fA-F]{6}$", message=_l("Ange en färg som #rrggbb."))


class UnitForm(FlaskForm):
    code = StringField(
        _l("Kod"),
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[\wÅÄÖåäö .-]+$", message=_l("Otillåtna tecken.")),
        ],
    )
    name = StringField(_l("Namn"), validators=[DataRequired(), Length(max=200)])
    parent_id = SelectField(_l("Överordnad enhet"), coerce=int)
    email = EmailField(
        _l("Funktionsbrevlåda"),
        validators=[Optional(), Email(check_deliverability=False), Length(max=254)],
    )
    manager_id = SelectField(_l("Chef"), coerce=int)
    version = HiddenField()


class UserForm(FlaskForm):
    username = StringField(
        _l("Användarnamn"),
        validators=[
            DataRequired(),
            Length(max=80),
            Regexp(r"^[\w.@-]+$", message=_l("Otillåtna tecken.")),
        ],
    )
    full_name = StringField(_l("Namn"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(
        _l("E-post"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    role = SelectField(
        _l("Roll"), choices=choices((r.value, label) for r, label in ROLE_LABELS.items())
    )
    unit_ids = SelectMultipleField(_l("Enheter"), coerce=int)
    locale = SelectField(_l("Språk"), choices=choices([("sv", "Svenska"), ("en", "English")]))
    active = BooleanField(_l("Aktiv"), default=True)
    password = PasswordField(
        _l("Lösenord"),
        validators=[Optional(), Length(min=12, max=200)],
        description=_l(
            "Minst 12 tecken och inte lätt att gissa, gärna tre eller fyra ord. "
            "Lämna tomt för att behålla nuvarande lösenord."
        ),
    )
    version = HiddenField()


class LevelSubForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField(_l("Nivå"), validators=[DataRequired(), Length(max=60)])
    colour = StringField(_l("Färg"), validators=[DataRequired(), COLOUR])
    min_value = IntegerField(_l("Från risktal"), validators=[DataRequired(), NumberRange(1, 16)])
    max_value = IntegerField(_l("Till risktal"), validators=[DataRequired(), NumberRange(1, 16)])


class LabelSubForm(FlaskForm):
    class Meta:
        csrf = False

    label = StringField(validators=[DataRequired(), Length(max=60)])


class CellSubForm(FlaskForm):
    class Meta:
        csrf = False

    level = SelectField(coerce=int)
    colour = StringField(validators=[DataRequired(), COLOUR])


class MatrixForm(FlaskForm):
    levels = FieldList(FormField(LevelSubForm), min_entries=1, max_entries=6)
    probability_labels = FieldList(FormField(LabelSubForm), min_entries=4, max_entries=4)
    consequence_labels = FieldList(FormField(LabelSubForm), min_entries=4, max_entries=4)
    cells = FieldList(FormField(CellSubForm), min_entries=16, max_entries=16)
    version = HiddenField(
        validators=[
            InputRequired(_l("Formuläret saknar version. Ladda om sidan.")),
            Length(max=64),
        ]
    )
