"""A sampled item in its population's context, as every list of sampled items shows it.

A key such as "U-2025-0412" alone says little to the unit answering an action or to the
approver reading the deviations: where the item sits in the sample and in the population
(which file, which period, which row), and the row's own values, make it checkable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from riskreg.money import format_sek
from riskreg.sampling.models import SampleItem

#: How many of the row's values a list shows beside the key (the item page shows them all).
LIST_VALUES = 3


@dataclass(frozen=True)
class ItemContext:
    key: str
    position: int
    sample_size: int
    line: int
    population_rows: int
    file_name: str
    period_start: date | None
    period_end: date | None
    #: (column label, value) of the row, the amount first, the key left out
    values: tuple[tuple[str, str], ...]


def item_context(item: SampleItem, *, limit: int = LIST_VALUES) -> ItemContext:
    draw = item.draw
    population = draw.population
    row = item.population_item
    data = json.loads(row.data_json or "{}")
    values: list[tuple[str, str]] = []
    for key, label, kind in json.loads(population.columns_json or "[]"):
        if kind == "amount" and row.amount_ore is not None:
            values.insert(0, (label, format_sek(row.amount_ore)))
        elif key in data and data[key] not in (None, ""):
            values.append((label, str(data[key])))
    return ItemContext(
        key=row.record_key,
        position=item.position,
        sample_size=draw.sample_size,
        line=row.line,
        population_rows=population.row_count,
        file_name=population.file_name,
        period_start=population.period_start,
        period_end=population.period_end,
        values=tuple(values[:limit]),
    )
