"""Which step of a trial gives its score: ``metric.scope`` (Ray Tune's ``scope``).

* ``last`` (the default, what raytuner always did): the value of the trial's last report;
* ``best``: the best value (by the metric's mode) over all its reports; ties go to the
  earlier step.

One rule for the run's summary (``runner.records``), the results tables
(``results.experiment.read_experiment``) and the checkpoint a torch run exports.
The metrics rule's stand-ins for NaN/inf (``metric_rule.WORST``) never count as a best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from raytuner.results.metric_rule import WORST

LAST, BEST = "last", "best"
SCOPES = (LAST, BEST)
STEP_KEY = "training_iteration"


@dataclass(frozen=True)
class ScoredStep:
    """A trial's score and the step (``training_iteration``) it comes from."""

    score: float | None
    step: int | None


def _value(row: Mapping[str, Any], metric: str) -> float | None:
    value = row.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and abs(value) != WORST else None


def _step(row: Mapping[str, Any], index: int) -> int:
    step = row.get(STEP_KEY)
    try:
        return int(step)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return index + 1


def scored_step(rows: Iterable[Mapping[str, Any]], metric: str, mode: str, scope: str = LAST) -> ScoredStep:
    """The score of a trial's reports (in order) under ``scope``: ``ScoredStep(None, None)`` when
    no report holds a finite value of ``metric`` (for ``last``: when its last report has none)."""
    rows = list(rows)
    if not rows:
        return ScoredStep(None, None)
    if scope == LAST:
        return ScoredStep(_value(rows[-1], metric), _step(rows[-1], len(rows) - 1))
    best: tuple[float, int] | None = None
    for i, row in enumerate(rows):
        value = _value(row, metric)
        if value is None:
            continue
        if best is None or (value > best[0] if mode == "max" else value < best[0]):
            best = (value, _step(row, i))
    return ScoredStep(*best) if best else ScoredStep(None, None)
