"""Forms of the report pages: signing confirmations and the verification upload."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, PasswordField, SelectField
from wtforms.validators import DataRequired, Length


class SignForm(FlaskForm):
    """The signer confirms what the signature means and, again, who they are (step-up).

    An empty post signs nothing; the password is checked in the view (and counts towards the
    login throttle when wrong).
    """

    confirm = BooleanField(
        _l("Jag har läst rapporten och signerar den med mitt personliga signeringscertifikat."),
        validators=[DataRequired(_l("Bekräfta att du har läst rapporten innan du signerar."))],
    )
    password = PasswordField(
        _l("Ditt lösenord (bekräftar att det är du som signerar)"),
        validators=[DataRequired(_l("Ange ditt lösenord för att signera."))],
    )
    next = HiddenField(validators=[Length(max=2000)])


class FollowupSignForm(SignForm):
    cosigner = SelectField(
        _l("Medsigneras av (godkännare)"),
        coerce=int,
        validators=[DataRequired(_l("Välj vem som medsignerar."))],
        validate_choice=True,
    )


class VerifyForm(FlaskForm):
    file = FileField(
        _l("PDF-fil att kontrollera"), validators=[FileRequired(_l("Välj en PDF-fil."))]
    )
