"""The Pareto front of a multi-objective experiment: trials no other trial dominates."""

from __future__ import annotations

import math
from typing import Any, Sequence


def objective_values(metrics: dict[str, Any], objectives: Sequence[tuple[str, str]]) -> list[float] | None:
    """The trial's values as losses (lower is better), or None if any is missing or not finite."""
    out = []
    for name, mode in objectives:
        value = metrics.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        out.append(-float(value) if mode == "max" else float(value))
    return out


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(trials: Sequence[Any], objectives: Sequence[tuple[str, str]]) -> list[str]:
    """Trial ids of the non-dominated successful trials, ordered by the first objective."""
    scored = []
    for trial in trials:
        if getattr(trial, "status", "ok") != "ok":
            continue
        values = objective_values(trial.metrics, objectives)
        if values is not None:
            scored.append((trial.trial_id, values))
    front = [(tid, v) for tid, v in scored if not any(dominates(w, v) for _, w in scored)]
    front.sort(key=lambda item: item[1])
    return [tid for tid, _ in front]
