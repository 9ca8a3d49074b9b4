"""The sampling services' former single module, kept as a re-export only (issue 13, item 4).

The rules now live in :mod:`riskreg.sampling.lookups` (current plan and draw),
:mod:`~riskreg.sampling.planning`, :mod:`~riskreg.sampling.drawing` (draw, extend, verify),
:mod:`~riskreg.sampling.item_results`, :mod:`~riskreg.sampling.observations` (PPM-BHK),
:mod:`~riskreg.sampling.evaluation` and :mod:`~riskreg.sampling.overview`. Import from those;
this module stays so branches written against the old name keep working, and can go once none
imports it.
"""

from __future__ import annotations

from riskreg.sampling.drawing import (
    Picked,
    Verification,
    derive,
    draw_sample,
    extend_sample,
    verify_draw,
)
from riskreg.sampling.evaluation import Evaluation, evaluate, write_conclusion
from riskreg.sampling.importing import current_population
from riskreg.sampling.item_results import item_deviation, raise_item_action, record_result
from riskreg.sampling.lookups import (
    MUS_METHODS,
    current_draw,
    current_plan,
    draw_parameters,
    is_mus_draw,
    stratum_counts,
)
from riskreg.sampling.observations import add_observation, hygiene_count, hygiene_report
from riskreg.sampling.overview import Summary, summary, trail_objects
from riskreg.sampling.planning import plan_sample, positive_count

__all__ = [
    "MUS_METHODS",
    "Evaluation",
    "Picked",
    "Summary",
    "Verification",
    "add_observation",
    "current_draw",
    "current_plan",
    "current_population",
    "derive",
    "draw_parameters",
    "draw_sample",
    "evaluate",
    "extend_sample",
    "hygiene_count",
    "hygiene_report",
    "is_mus_draw",
    "item_deviation",
    "plan_sample",
    "positive_count",
    "raise_item_action",
    "record_result",
    "stratum_counts",
    "summary",
    "trail_objects",
    "verify_draw",
    "write_conclusion",
]
