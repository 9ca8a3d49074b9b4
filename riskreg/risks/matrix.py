"""The risk matrix as the rest of the app sees it: defaults in code, overrides in the database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskreg.errors import StaleObject
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.risks.models import MATRIX_SIZE, AxisLabel, MatrixCell, RiskLevel


@dataclass(frozen=True)
class Level:
    position: int
    name: str
    colour: str
    min_value: int
    max_value: int


DEFAULT_LEVELS = (
    Level(1, N_("Låg"), "#4caf50", 1, 3),
    Level(2, N_("Medel"), "#ffeb3b", 4, 8),
    Level(3, N_("Hög"), "#f44336", 9, 16),
)
DEFAULT_PROBABILITY_LABELS = {
    1: N_("Osannolik"), 2: N_("Mindre sannolik"), 3: N_("Möjlig"), 4: N_("Sannolik")
}
DEFAULT_CONSEQUENCE_LABELS = {
    1: N_("Försumbar"), 2: N_("Lindrig"), 3: N_("Kännbar"), 4: N_("Allvarlig")
}


@dataclass(frozen=True)
class Matrix:
    levels: tuple[Level, ...]
    probability_labels: dict[int, str]
    consequence_labels: dict[int, str]
    # (probability, consequence) -> (level position, colour)
    cells: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)
    size: int = MATRIX_SIZE

    def level(self, probability: int, consequence: int) -> Level:
        position = self.cells[(probability, consequence)][0]
        return next(level for level in self.levels if level.position == position)

    def colour(self, probability: int, consequence: int) -> str:
        return self.cells[(probability, consequence)][1]

    def cells_of_level(self, position: int) -> list[tuple[int, int]]:
        return [key for key, (pos, _) in self.cells.items() if pos == position]


def default_cells(levels: Iterable[Level]) -> dict[tuple[int, int], tuple[int, str]]:
    levels = tuple(levels)
    cells = {}
    for p in range(1, MATRIX_SIZE + 1):
        for k in range(1, MATRIX_SIZE + 1):
            value = p * k
            level = next((lv for lv in levels if lv.min_value <= value <= lv.max_value), levels[-1])
            cells[(p, k)] = (level.position, level.colour)
    return cells


def load_matrix(session: Session) -> Matrix:
    rows = list(session.scalars(select(RiskLevel).order_by(RiskLevel.position)))
    levels = (
        tuple(Level(r.position, r.name, r.colour, r.min_value, r.max_value) for r in rows)
        if rows
        else DEFAULT_LEVELS
    )
    probability = dict(DEFAULT_PROBABILITY_LABELS)
    consequence = dict(DEFAULT_CONSEQUENCE_LABELS)
    for label in session.scalars(select(AxisLabel)):
        (probability if label.axis == "probability" else consequence)[label.value] = label.label
    cells = default_cells(levels)
    if rows:
        by_id = {r.id: r for r in rows}
        for cell in session.scalars(select(MatrixCell)):
            level = by_id[cell.level_id]
            cells[(cell.probability, cell.consequence)] = (
                level.position,
                cell.colour or level.colour,
            )
    return Matrix(levels, probability, consequence, cells)


def matrix_version(matrix: Matrix) -> str:
    """The matrix's version for the edit form: a digest of its whole content.

    The configuration is spread over many rows (levels, labels, cells) with no row of its own
    to carry a counter; the digest changes whenever anything a user sees changes.
    """
    content = {
        "levels": [
            [lv.position, lv.name, lv.colour, lv.min_value, lv.max_value] for lv in matrix.levels
        ],
        "probability": sorted(matrix.probability_labels.items()),
        "consequence": sorted(matrix.consequence_labels.items()),
        "cells": sorted([p, k, pos, colour] for (p, k), (pos, colour) in matrix.cells.items()),
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


STALE_MATRIX = N_(
    "Någon annan har ändrat riskmatrisen sedan du öppnade sidan. Den sparade matrisen visas "
    "ovanför formuläret; formuläret visar dina ändringar. Spara igen för att skriva över."
)


def save_matrix(session: Session, matrix: Matrix, *, expected_version: str | None = None) -> None:
    """Store a whole matrix configuration, replacing the previous one (audited row by row).

    With ``expected_version`` (matrix_version() of the matrix the form was loaded with) a
    matrix saved by someone else meanwhile raises StaleObject instead of being overwritten.
    """
    if expected_version is not None:
        # Row locks on PostgreSQL, so two saves cannot both pass the check.
        session.scalars(select(RiskLevel).with_for_update()).all()
        if matrix_version(load_matrix(session)) != expected_version:
            raise StaleObject(_(STALE_MATRIX))
    existing = {r.position: r for r in session.scalars(select(RiskLevel))}
    for level in matrix.levels:
        row = existing.pop(level.position, None) or RiskLevel(position=level.position)
        row.name, row.colour = level.name, level.colour
        row.min_value, row.max_value = level.min_value, level.max_value
        session.add(row)
    stale_levels = list(existing.values())
    session.flush()
    labels = {(a.axis, a.value): a for a in session.scalars(select(AxisLabel))}
    for axis, values in (
        ("probability", matrix.probability_labels),
        ("consequence", matrix.consequence_labels),
    ):
        for value, text in values.items():
            label = labels.get((axis, value)) or AxisLabel(axis=axis, value=value)
            label.label = text
            session.add(label)
    level_ids = {r.position: r.id for r in session.scalars(select(RiskLevel))}
    level_colours = {lv.position: lv.colour for lv in matrix.levels}
    cells = {(c.probability, c.consequence): c for c in session.scalars(select(MatrixCell))}
    for (p, k), (position, colour) in matrix.cells.items():
        cell = cells.get((p, k)) or MatrixCell(probability=p, consequence=k)
        cell.level_id = level_ids[position]
        cell.colour = None if colour == level_colours[position] else colour
        session.add(cell)
    session.flush()
    for row in stale_levels:
        session.delete(row)
    session.flush()


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on the background (WCAG relative luminance)."""
    red, green, blue = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)
    return "#000000" if luminance > 0.179 else "#ffffff"
