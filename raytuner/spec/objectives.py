"""What a run optimises: every objective as a typed (name, mode) pair.

The plan computes the objectives once (the first is ``metric``, with the mode the
trainable resolved; a multi-objective spec adds the rest) and hands the same tuple to
the strategy (``SearchContext``) and the scheduler (``ScheduleContext``).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Objective(NamedTuple):
    """One objective. A named tuple: immutable, and ``name, mode = objective`` still works."""

    name: str
    mode: str  # "max" or "min"


def resolve_objectives(metric: Any, objectives: Any, mode: str) -> tuple[Objective, ...]:
    """Every objective of a spec: ``objectives`` (several metrics) or just ``metric``.

    ``mode``: the first metric's mode as the trainable resolved it; the others name their own.
    """
    if not objectives:
        return (Objective(str(metric.name), mode),)
    return tuple(Objective(str(m.name), mode if i == 0 else str(m.mode or mode)) for i, m in enumerate(objectives))
