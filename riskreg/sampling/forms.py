"""Forms of the sample-check pages: field validation only; the rules live in the services."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from riskreg.cellvalues import parse_decimal_sek
from riskreg.controls.forms import VERSION
from riskreg.formtools import choices
from riskreg.i18n import N_
from riskreg.sampling.checktypes import HYGIENE_STEP_LABELS
from riskreg.sampling.models import ITEM_RESULT_TITLES


def parse_percent(text: str | None) -> Decimal | None:
    """"5", "2,5" or "2.5 %" -> Decimal("0.05"), Decimal("0.025"); blank -> None."""
    cleaned = (text or "").strip().removesuffix("%").strip().replace(",", ".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"”{text}” är inte en procentsats.") from exc
    if not value.is_finite() or not Decimal(0) <= value < Decimal(100):
        raise ValueError(f"”{text}” ska vara en procentsats mellan 0 och 100.")
    return value / 100


def parse_sek(text: str | None) -> int | None:
    """A kronor amount typed in a form -> öre; blank -> None."""
    if not (text or "").strip():
        return None
    return parse_decimal_sek((text or "").strip())


class PercentField(StringField):
    def pre_validate(self, form: Any) -> None:
        try:
            parse_percent(self.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    @property
    def fraction(self) -> Decimal | None:
        return parse_percent(self.data)


class SekField(StringField):
    def pre_validate(self, form: Any) -> None:
        try:
            parse_sek(self.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    @property
    def ore(self) -> int | None:
        return parse_sek(self.data)


#: The confidence levels of the AICPA Audit Sampling tables (risks 5–50 %, table C-1; the
#: attribute tables A-1 to A-4 are the 95 % and 90 % columns). Every level is computed exactly.
CONFIDENCE_CHOICES = tuple(
    (value, f"{value[2:]} %")
    for value in ("0.95", "0.90", "0.85", "0.80", "0.75", "0.70", "0.65", "0.50")
)
RESULT_CHOICES = tuple((result.value, _l(title)) for result, title in ITEM_RESULT_TITLES.items())
STEP_CHOICES = (("J", "J"), ("N", "N"), ("EA", "EA"))
PROFESSIONS = (
    N_("Undersköterska"),
    N_("Sjuksköterska"),
    N_("Läkare"),
    N_("Barnmorska"),
    N_("Fysioterapeut"),
    N_("Arbetsterapeut"),
    N_("Biomedicinsk analytiker"),
    N_("Övrig personal"),
)


class PopulationImportForm(FlaskForm):
    # What was current when the page was shown (an id, or the sample size; 0 for none): the
    # same form sent twice acts once (riskreg.controls.services.require_unchanged).
    based_on = HiddenField(validators=[Length(max=12)])
    file = FileField(_l("Fil (CSV eller XLSX)"), validators=[FileRequired(_l("Välj en fil."))])
    source = StringField(
        _l("Källa"),
        validators=[Optional(), Length(max=500)],
        description=_l("Systemet eller rapporten filen kommer från, t.ex. ”Raindance, rapport "
                       "utbetalningar vårdval”."),
    )
    period_start = DateField(_l("Period från"), validators=[Optional()])
    period_end = DateField(_l("Period till"), validators=[Optional()])
    key_column = StringField(
        _l("Nyckelkolumn"),
        validators=[Optional(), Length(max=200)],
        description=_l("Rubriken på kolumnen som identifierar en post (t.ex. ”Löpnummer”)."),
    )
    amount_column = StringField(
        _l("Beloppskolumn (valfri)"), validators=[Optional(), Length(max=200)]
    )


class PlanForm(FlaskForm):
    # What was current when the page was shown (an id, or the sample size; 0 for none): the
    # same form sent twice acts once (riskreg.controls.services.require_unchanged).
    based_on = HiddenField(validators=[Length(max=12)])
    method = SelectField(_l("Urvalsmetod"), validators=[DataRequired()])
    confidence = SelectField(_l("Konfidensnivå"), choices=choices(CONFIDENCE_CHOICES))
    tolerable_rate = PercentField(
        _l("Tolerabel avvikelsefrekvens (%)"), description=_l("T.ex. 5 eller 2,5")
    )
    expected_rate = PercentField(_l("Förväntad avvikelsefrekvens (%)"), default="0")
    population_size = IntegerField(
        _l("Populationens storlek"),
        validators=[Optional(), NumberRange(min=1)],
        description=_l(
            "Hämtas från den importerade populationen. Utan import: ange storleken för en "
            "liten population, eller lämna tomt för en stor."
        ),
    )
    book_value = SekField(
        _l("Bokfört värde (kr)"), description=_l("Lämnas tomt: populationens summa.")
    )
    tolerable_misstatement = SekField(_l("Tolerabel felsumma (kr)"))
    expected_misstatement = SekField(_l("Förväntad felsumma (kr)"), default="0")
    sample_size = IntegerField(
        _l("Urvalets storlek"), validators=[Optional(), NumberRange(min=1, max=100000)]
    )
    justification = TextAreaField(
        _l("Motivering (icke-statistiskt urval)"), validators=[Optional(), Length(max=4000)]
    )


#: The money-unit sampling fields, shown (and read) only where a check type samples amounts.
MUS_FIELDS = ("book_value", "tolerable_misstatement", "expected_misstatement")


class DrawForm(FlaskForm):
    # What was current when the page was shown (an id, or the sample size; 0 for none): the
    # same form sent twice acts once (riskreg.controls.services.require_unchanged).
    based_on = HiddenField(validators=[Length(max=12)])
    selection_method = SelectField(_l("Urvalsteknik"), validators=[DataRequired()])
    reason = TextAreaField(
        _l("Skäl för ny dragning"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Krävs bara om ett urval redan är draget; det gamla sparas."),
    )


class ExtendForm(FlaskForm):
    # What was current when the page was shown (an id, or the sample size; 0 for none): the
    # same form sent twice acts once (riskreg.controls.services.require_unchanged).
    based_on = HiddenField(validators=[Length(max=12)])
    additional = IntegerField(
        _l("Antal poster att lägga till"), validators=[DataRequired(), NumberRange(1, 100000)]
    )
    reason = TextAreaField(
        _l("Skäl"), validators=[DataRequired(_l("Ange varför urvalet utökas.")), Length(max=2000)]
    )


class ItemResultForm(FlaskForm):
    version = HiddenField()
    # Optional: left open, it follows from the attributes (riskreg.sampling.worksheet.
    # derive_overall); the controller sets it only to judge otherwise.
    overall = RadioField(
        _l("Helhetsbedömning"),
        choices=choices(RESULT_CHOICES),
        validators=[Optional()],
    )
    comment = TextAreaField(_l("Kommentar"), validators=[Optional(), Length(max=4000)])
    audited_amount = SekField(
        _l("Granskat (korrekt) belopp, kr"),
        description=_l("Det belopp som borde ha betalats ut. Lämnas tomt för OK: bokfört belopp."),
    )
    deviation_description = TextAreaField(
        _l("Beskrivning av avvikelsen"), validators=[Optional(), Length(max=4000)]
    )
    recovery_claim = SekField(_l("Återkrav (kr, valfritt)"))
    # The evidence input of the item page belongs to this form too (its `form` attribute):
    # a file chosen there is stored by "Spara" and "Spara och nästa", never silently dropped.
    file = FileField(_l("Underlag"))


def item_form_class(attributes: tuple[str, ...]) -> type[ItemResultForm]:
    """The item form with one J/N-style radio group per checked attribute."""

    class Form(ItemResultForm):
        pass

    for index, attribute in enumerate(attributes):
        setattr(
            Form,
            f"attr_{index}",
            RadioField(_l(attribute), choices=choices(RESULT_CHOICES), validators=[Optional()]),
        )
    return Form


class EvidenceForm(FlaskForm):
    file = FileField(_l("Underlag"), validators=[FileRequired(_l("Välj en fil."))])


class ActionForm(FlaskForm):
    description = TextAreaField(
        _l("Åtgärd"), validators=[DataRequired(_l("Beskriv åtgärden.")), Length(max=4000)]
    )
    owner_unit = SelectField(_l("Ansvarig enhet"), coerce=int, validators=[DataRequired()])
    due_date = DateField(_l("Sista dag"), validators=[DataRequired(_l("Ange sista dag."))])
    # One-time token: the same form sent twice creates one action (see raise_action).
    token = HiddenField(validators=[Length(max=64)])


class HygieneForm(FlaskForm):
    unit_name = StringField(_l("Enhet"), validators=[DataRequired(_l("Ange enhet.")),
                                                      Length(max=200)])
    profession = SelectField(
        _l("Yrke"), choices=choices((p, _l(p)) for p in PROFESSIONS), validators=[DataRequired()]
    )
    observed_on = DateField(_l("Datum"), validators=[DataRequired(_l("Ange datum."))])
    kind = RadioField(
        _l("Typ"),
        choices=choices(
            (("observation", _l("Observation")), ("self_assessment", _l("Självskattning")))
        ),
        default="observation",
        validators=[DataRequired()],
    )


for _index, _label in enumerate(HYGIENE_STEP_LABELS, start=1):
    setattr(
        HygieneForm,
        f"step{_index}",
        RadioField(
            LazyString(lambda i, label: f"{i}. {gettext(label)}", _index, _label),
            choices=choices(STEP_CHOICES),
            validators=[DataRequired(_l("Ange J, N eller EA för varje steg."))],
        ),
    )


class HygieneImportForm(FlaskForm):
    file = FileField(_l("Fil (CSV eller XLSX)"), validators=[FileRequired(_l("Välj en fil."))])


class ConclusionForm(FlaskForm):
    # The same text as the control page's conclusion, with the same limit and version check.
    conclusion = TextAreaField(
        _l("Granskarens slutsats"),
        validators=[DataRequired(_l("Skriv en slutsats.")), Length(max=20000)],
    )
    version = HiddenField(validators=VERSION)


class WorksheetForm(FlaskForm):
    """The worksheet's CSRF token; its rows (``version-ID``, ``attr-ID-N``, ``select``) are
    dynamic and read by ``riskreg.sampling.views.worksheet``."""


class WorksheetUploadForm(FlaskForm):
    file = FileField(
        _l("Ifyllt arbetspapper (XLSX)"), validators=[FileRequired(_l("Välj en fil."))]
    )
