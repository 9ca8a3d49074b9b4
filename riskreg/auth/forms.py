from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from riskreg.formtools import choices


class LoginForm(FlaskForm):
    username = StringField(_l("Användarnamn"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Lösenord"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField(validators=[Length(max=2000)])


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Språk"), choices=choices([("sv", "Svenska"), ("en", "English")]))
    next = HiddenField(validators=[Length(max=2000)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Nuvarande lösenord"), validators=[DataRequired(), Length(max=200)]
    )
    new_password = PasswordField(
        _l("Nytt lösenord"), validators=[DataRequired(), Length(min=12, max=200)]
    )
    confirm = PasswordField(
        _l("Upprepa nytt lösenord"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("Lösenorden är olika."))],
    )
