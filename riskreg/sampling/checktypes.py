"""What each check type's population looks like and what is checked on every sampled item.

A check type (``Control.check_type``) decides the columns of the population file (with Swedish
and English header aliases), which column is the record key (the identifier the selection
hashes), which column holds the amount (payments: SEK with two decimals, stored as öre), which
columns are dates, how a record falls into a stratum (passcards: the leavers of the period),
and the attributes the controller checks per item. Framework-free: no Flask, no database.

The generic type has no fixed columns: every column of the file is kept as text, the
controller names the key column (and optionally an amount column) at import, and the
attributes come from ``Control.attributes_text``, one per line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Final, Literal

from riskreg.controls.models import CHECK_TYPE_TITLES, CheckType, Control
from riskreg.i18n import N_
from riskreg.sampling.models import SamplingMethod, SelectionMethod

ColumnKind = Literal["text", "amount", "date", "int"]

STRATUM_LEAVERS: Final = "avslutade"
STRATUM_OTHERS: Final = "övriga"
STRATUM_TITLES: Final = {
    STRATUM_LEAVERS: N_("Avslutade under perioden"),
    STRATUM_OTHERS: N_("Övriga"),
}

MAX_TEXT: Final = 1000
MAX_KEY: Final = 200


def normalise_heading(name: str) -> str:
    """Compare headings case-insensitively, ignoring punctuation and repeated spaces."""
    text = unicodedata.normalize("NFC", name).replace("\ufeff", "").casefold()
    text = re.sub(r"[^\w]+|_", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Column:
    key: str
    #: The heading the file is expected to have (Swedish); N_-marked, so a message naming the
    #: column translates it with gettext_now.
    label: str
    aliases: tuple[str, ...]
    kind: ColumnKind = "text"
    required: bool = True


@dataclass(frozen=True)
class CheckTypeSpec:
    check_type: CheckType
    columns: tuple[Column, ...]
    key_column: str | None
    amount_column: str | None
    attributes: tuple[str, ...]
    sampling_methods: tuple[SamplingMethod, ...]
    selection_methods: tuple[SelectionMethod, ...]
    # (row values, period start, period end) -> stratum name or None
    stratum: Callable[[dict[str, object], date | None, date | None], str | None] | None = None
    # The date column that must lie within the population's period, if a period is given.
    period_date_column: str | None = None
    has_population: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        return CHECK_TYPE_TITLES[self.check_type]

    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    def heading_map(self) -> dict[str, str]:
        """Normalised heading -> column key."""
        found: dict[str, str] = {}
        for column in self.columns:
            for alias in (column.key, column.label, *column.aliases):
                found.setdefault(normalise_heading(alias), column.key)
        return found


def _leaver_stratum(values: dict[str, object], start: date | None, end: date | None) -> str:
    ended = values.get("employment_end")
    if isinstance(ended, date) and (start is None or ended >= start) and (
        end is None or ended <= end
    ):
        return STRATUM_LEAVERS
    return STRATUM_OTHERS


ATTRIBUTE_SELECTIONS = (SelectionMethod.SIMPLE_RANDOM, SelectionMethod.SYSTEMATIC)

PAYMENTS = CheckTypeSpec(
    CheckType.PAYMENTS,
    columns=(
        Column("payment_id", N_("Utbetalnings-id"), (
            "payment id", "betalnings id", "betalningsid", "utbetalningsid", "utbetalning",
            "verifikation", "verifikationsnummer", "ver nr", "id",
        )),
        Column("provider", N_("Vårdgivare"), (
            "provider", "care provider", "leverantör", "leverantörsnamn", "mottagare",
        )),
        Column("contract", N_("Avtal"), (
            "contract", "avtalsnummer", "avtals id", "avtals nr", "avtalsid",
        )),
        Column("period", N_("Period"), ("avser period", "avser", "månad", "period avser")),
        Column("amount", N_("Belopp"), (
            "amount", "belopp sek", "belopp kr", "utbetalt belopp", "summa", "amount sek",
        ), kind="amount"),
        Column("payment_date", N_("Betalningsdatum"), (
            "payment date", "utbetalningsdatum", "bokföringsdatum", "datum", "date",
        ), kind="date", required=False),
    ),
    key_column="payment_id",
    amount_column="amount",
    attributes=(
        N_("Giltigt avtal för perioden"),
        N_("Beloppet stämmer med avtalets prislista"),
        N_("Ingen dubbelutbetalning"),
        N_("Attesterad av behörig person"),
    ),
    sampling_methods=(SamplingMethod.MUS, SamplingMethod.ATTRIBUTE,
                      SamplingMethod.NON_STATISTICAL),
    selection_methods=(SelectionMethod.MUS_FIXED_INTERVAL, SelectionMethod.MUS_CELL,
                       *ATTRIBUTE_SELECTIONS),
    period_date_column="payment_date",
)

PASSCARDS = CheckTypeSpec(
    CheckType.PASSCARDS,
    columns=(
        Column("card_id", N_("Kort-/nyckel-id"), (
            "card id", "key id", "kortnummer", "kort id", "kortid", "nyckel id", "nyckelnummer",
            "passerkort", "id",
        )),
        Column("holder", N_("Innehavare"), ("holder", "namn", "kortinnehavare", "name")),
        Column("unit", N_("Enhet"), ("unit", "arbetsställe", "avdelning", "organisation")),
        Column("zones", N_("Behörighetszoner"), (
            "access zones", "zones", "zoner", "behörighet", "behörigheter", "passerzoner",
        )),
        Column("valid_to", N_("Giltig till"), ("valid to", "giltigt till", "slutdatum kort"),
               kind="date"),
        Column("employment_end", N_("Anställning upphör"), (
            "employment end", "holder s employment end", "anställningens slut",
            "anställning slut", "anställd till", "avslutsdatum",
        ), kind="date", required=False),
    ),
    key_column="card_id",
    amount_column=None,
    attributes=(
        N_("Innehavaren är fortfarande anställd eller har uppdrag"),
        N_("Behörighetszonerna motsvarar rollen"),
        N_("Kortet är kvitterat"),
    ),
    sampling_methods=(SamplingMethod.ATTRIBUTE, SamplingMethod.NON_STATISTICAL),
    selection_methods=(SelectionMethod.STRATIFIED, *ATTRIBUTE_SELECTIONS),
    stratum=_leaver_stratum,
    notes=(
        N_("Kort vars innehavares anställning upphör inom perioden bildar skiktet ”Avslutade "
        "under perioden” och kan överurvalas med skiktat urval."),
    ),
)

HYGIENE_STEP_LABELS: Final = (
    N_("Handdesinfektion före"),
    N_("Handdesinfektion efter"),
    N_("Handskar"),
    N_("Plastförkläde/skyddsrock"),
    N_("Arbetskläder med korta ärmar"),
    N_("Inga ringar, klockor eller armband"),
    N_("Korta naglar utan lack"),
    N_("Kort eller uppsatt hår"),
)

HYGIENE = CheckTypeSpec(
    CheckType.HYGIENE,
    columns=(
        Column("unit", N_("Enhet"), ("unit", "avdelning", "vårdenhet", "mottagning")),
        Column("profession", N_("Yrke"), ("profession", "yrkesgrupp", "befattning", "roll")),
        Column("date", N_("Datum"), ("date", "observationsdatum", "mätdatum"), kind="date"),
        Column("kind", N_("Typ"), (
            "kind", "type", "observation självskattning", "mätmetod", "metod",
        ), required=False),
        *(
            Column(f"step{i}", f"Steg {i}", (
                f"step {i}", f"steg{i}", f"{i}", f"{i} {label}", label,
            ))
            for i, label in enumerate(HYGIENE_STEP_LABELS, start=1)
        ),
    ),
    key_column=None,
    amount_column=None,
    attributes=HYGIENE_STEP_LABELS,
    sampling_methods=(SamplingMethod.ATTRIBUTE, SamplingMethod.NON_STATISTICAL),
    selection_methods=(),
    has_population=False,
    notes=(
        N_("Basala hygienrutiner mäts med PPM-BHK: varje observation registreras (eller "
        "importeras) med åtta steg J/N/EA; inget urval dras."),
    ),
)

REFERRALS = CheckTypeSpec(
    CheckType.REFERRALS,
    columns=(
        Column("referral_id", N_("Remiss-id"), (
            "referral id", "remissnummer", "remiss nr", "remissid", "remiss", "id",
        )),
        Column("sender", N_("Avsändare"), ("sender", "remittent", "inremitterande", "från")),
        Column("receiver", N_("Mottagare"), ("receiver", "mottagande enhet", "till")),
        Column("received", N_("Mottagen"), (
            "received", "received date", "mottagen datum", "ankomstdatum", "inkom",
            "registrerad",
        ), kind="date"),
        Column("priority", N_("Prioritet"), ("priority", "prio", "prioritering")),
    ),
    key_column="referral_id",
    amount_column=None,
    attributes=(
        N_("Registrerad i tid"),
        N_("Bedömd av behörig person"),
        N_("Beslut dokumenterat"),
        N_("Remissvar skickat"),
        N_("Patienten informerad"),
        N_("Vårdgarantins tider hållna"),
    ),
    sampling_methods=(SamplingMethod.ATTRIBUTE, SamplingMethod.NON_STATISTICAL),
    selection_methods=ATTRIBUTE_SELECTIONS,
    period_date_column="received",
)

GENERIC = CheckTypeSpec(
    CheckType.GENERIC,
    columns=(),
    key_column=None,
    amount_column=None,
    attributes=(),
    sampling_methods=(SamplingMethod.ATTRIBUTE, SamplingMethod.NON_STATISTICAL),
    selection_methods=ATTRIBUTE_SELECTIONS,
    notes=(
        N_("Alla kolumner sparas som text. Ange vilken kolumn som identifierar en post "
        "(nyckel) och, om det finns, vilken som är ett belopp."),
    ),
)

SPECS: Final[dict[CheckType, CheckTypeSpec]] = {
    spec.check_type: spec for spec in (PAYMENTS, PASSCARDS, HYGIENE, REFERRALS, GENERIC)
}

SAMPLING_METHOD_TITLES: Final = {
    SamplingMethod.ATTRIBUTE: N_("Attributurval (statistiskt)"),
    SamplingMethod.MUS: N_("Beloppsurval, MUS (statistiskt)"),
    SamplingMethod.NON_STATISTICAL: N_("Icke-statistiskt urval med motivering"),
}

SELECTION_METHOD_TITLES: Final = {
    SelectionMethod.SIMPLE_RANDOM: N_("Obundet slumpmässigt urval"),
    SelectionMethod.SYSTEMATIC: N_("Systematiskt urval med slumpmässig start"),
    SelectionMethod.STRATIFIED: N_("Skiktat urval"),
    SelectionMethod.MUS_FIXED_INTERVAL: N_("MUS med fast intervall"),
    SelectionMethod.MUS_CELL: N_("MUS med cellurval"),
}


def spec_for(control: Control) -> CheckTypeSpec:
    return SPECS[CheckType(control.check_type)]


def attributes_for(control: Control) -> tuple[str, ...]:
    """The attributes checked on each item; the generic type takes the control's own."""
    spec = spec_for(control)
    if spec.check_type == CheckType.GENERIC:
        lines = (line.strip() for line in control.attributes_text.splitlines())
        seen: list[str] = []
        for line in lines:
            if line and line not in seen:
                seen.append(line[:100])
        return tuple(seen)
    return spec.attributes


def with_extra_columns(spec: CheckTypeSpec, header: tuple[str, ...]) -> CheckTypeSpec:
    """The spec plus one optional text column for each heading of the file it does not know.

    A file exported from a real system carries more than the check type asks for, and the
    controller often tests an attribute from exactly such a column ("Attesterad av" in a
    payments file): the extra columns are kept with every row and shown with each item.
    """
    known = spec.heading_map()
    extras: list[Column] = []
    for index, heading in enumerate(header):
        normalised = normalise_heading(heading or "")
        if not normalised or normalised in known:
            continue
        known[normalised] = f"x{index}"  # a repeated unknown heading is kept once
        extras.append(Column(f"x{index}", heading.strip()[:100], (heading,), required=False))
    return replace(spec, columns=(*spec.columns, *extras)) if extras else spec


def generic_spec(header: tuple[str, ...], key_heading: str, amount_heading: str = "") -> (
    CheckTypeSpec
):
    """A spec for one generic file: every heading a text column, the named key and amount."""
    columns = []
    key_column = amount_column = None
    for index, heading in enumerate(header):
        if not heading:
            continue
        normalised = normalise_heading(heading)
        column_key = f"c{index}"
        kind: ColumnKind = "text"
        if normalised == normalise_heading(key_heading):
            key_column = column_key
        if amount_heading and normalised == normalise_heading(amount_heading):
            amount_column = column_key
            kind = "amount"
        required = column_key == key_column
        columns.append(Column(column_key, heading, (), kind=kind, required=required))
    return CheckTypeSpec(
        CheckType.GENERIC,
        columns=tuple(columns),
        key_column=key_column,
        amount_column=amount_column,
        attributes=(),
        sampling_methods=GENERIC.sampling_methods,
        selection_methods=GENERIC.selection_methods,
    )
