"""Forms of the report pages: signing confirmations and the verification upload."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField
from wtforms.validators import DataRequired, Length


class SignForm(FlaskForm):
    """The signer confirms what the signature means; an empty post signs nothing."""

    confirm = BooleanField(
        _l("Jag har läst rapporten och signerar den med organisationens signeringscertifikat."),
        validators=[DataRequired(_l("Bekräfta att du har läst rapporten innan du signerar."))],
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
