"""Forms of the control workflow: plan and edit a control, move it on, raise and close actions.

Field validation only; the business rules (who, when, in which status) are in services.py.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

VERSION = [InputRequired(_l("Formuläret saknar version. Ladda om sidan."))]


class ControlForm(FlaskForm):
    """What every planned control holds; used as is when a control is edited."""

    title = TextAreaField(
        _l("Vad granskas"),
        validators=[DataRequired(_l("Ange vad granskningen gäller.")), Length(max=2000)],
        description=_l("Förifylld med planradens granskningsområde."),
    )
    controllers = SelectMultipleField(
        _l("Granskare"),
        coerce=int,
        validators=[DataRequired(_l("Välj minst en granskare."))],
        description=_l("Den som utför granskningen kan inte själv godkänna den."),
    )
    deadline = DateField(
        _l("Klar senast"),
        validators=[Optional()],
        description=_l("Lämnas fältet tomt gäller planradens datum för ”granskning klar”."),
    )
    deviation_definition = TextAreaField(
        _l("Avvikelsedefinition"),
        validators=[Length(max=10000)],
        description=_l(
            "Vad räknas som en avvikelse? Skriv det innan testningen börjar, så att resultatet "
            "inte kan anpassas efter vad som hittas (ISA 530). Granskningen kan inte påbörjas "
            "utan avvikelsedefinition."
        ),
    )
    attributes_text = TextAreaField(
        _l("Attribut per post"),
        validators=[Length(max=10000)],
        description=_l(
            "Ett attribut per rad, t.ex. ”Beslut attesterat av behörig chef”. Krävs för övrig "
            "granskning; de fasta granskningstyperna har sina egna attribut."
        ),
    )
    version = HiddenField()


class NewControlForm(ControlForm):
    check_type = SelectField(
        _l("Typ av granskning"), validators=[DataRequired(_l("Välj typ av granskning."))]
    )
    responsible_unit_id = SelectField(_l("Ansvarig enhet"), coerce=int)


class StatusForm(FlaskForm):
    """A status transition: the version the user saw and, where asked, a reason."""

    version = HiddenField(validators=VERSION)
    note = TextAreaField(_l("Skäl"), validators=[Length(max=4000)])
    # Approval only: approve although answered actions wait for the controller's verification.
    override_unverified = BooleanField(_l("Godkänn ändå"))


class ConclusionForm(FlaskForm):
    conclusion = TextAreaField(_l("Slutsats"), validators=[Length(max=20000)])
    version = HiddenField(validators=VERSION)


class NewActionForm(FlaskForm):
    description = TextAreaField(
        _l("Åtgärd"),
        validators=[DataRequired(_l("Beskriv åtgärden.")), Length(max=4000)],
        description=_l("Vad ska den ansvariga enheten göra?"),
    )
    owner_unit_id = SelectField(_l("Ansvarig enhet"), coerce=int)
    due_date = DateField(_l("Sista dag"), validators=[InputRequired(_l("Ange sista dag."))])
    # One-time token: the same form sent twice creates one action (see raise_action).
    token = HiddenField(validators=[Length(max=64)])


class AnswerForm(FlaskForm):
    answer = TextAreaField(
        _l("Svar"),
        validators=[DataRequired(_l("Beskriv vad som har gjorts.")), Length(max=10000)],
        description=_l("Vad har enheten gjort? Granskaren verifierar sedan svaret."),
    )
    # Optional: the unit's evidence (e.g. the recovery invoice), checked by the view.
    file = FileField(
        _l("Underlag (frivilligt)"),
        description=_l("T.ex. fakturan för återkravet. PDF, bild, Excel, Word eller text."),
    )
    version = HiddenField(validators=VERSION)


class VerifyForm(FlaskForm):
    note = TextAreaField(
        _l("Kommentar"),
        validators=[Length(max=4000)],
        description=_l("Krävs när åtgärden skickas tillbaka till enheten."),
    )
    version = HiddenField(validators=VERSION)
    accept = SubmitField(_l("Verifiera"))
    reject = SubmitField(_l("Skicka tillbaka"))


class DueDateForm(FlaskForm):
    due_date = DateField(_l("Ny sista dag"), validators=[InputRequired(_l("Ange ett datum."))])
    reason = TextAreaField(
        _l("Skäl"), validators=[DataRequired(_l("Ange skäl.")), Length(max=2000)]
    )
    version = HiddenField(validators=VERSION)
