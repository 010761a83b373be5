"""The spec's per-trial stopping conditions as Ray Tune stoppers (imports Ray)."""

from __future__ import annotations

import math
from typing import Any

from ray.tune.stopper import CombinedStopper, MaximumIterationStopper, Stopper

from raytuner.spec import StopSpec


def build_stopper(stop: StopSpec, metric: str, mode: str) -> Any:
    """A Ray Stopper for the spec's conditions, or None when there are none."""
    stoppers: list[Any] = []
    if stop.max_steps is not None:
        stoppers.append(MaximumIterationStopper(stop.max_steps))
    if stop.target is not None:
        stoppers.append(TargetStopper(metric, mode, stop.target))
    if not stoppers:
        return None
    return stoppers[0] if len(stoppers) == 1 else CombinedStopper(*stoppers)


class TargetStopper(Stopper):
    """Stop a trial once its metric reaches the target (>= for max, <= for min)."""

    def __init__(self, metric: str, mode: str, target: float) -> None:
        self.metric, self.mode, self.target = metric, mode, target

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = result.get(self.metric)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return False
        return value >= self.target if self.mode == "max" else value <= self.target

    def stop_all(self) -> bool:
        return False
