"""The spec's per-trial stopping conditions as Ray Tune stoppers (imports Ray)."""

from __future__ import annotations

import math
from typing import Any

from ray.tune.stopper import (
    CombinedStopper,
    ExperimentPlateauStopper,
    Stopper,
    TrialPlateauStopper,
)

from raytuner.spec import StopSpec


def build_stopper(stop: StopSpec, metric: str, mode: str) -> Any:
    """A Ray Stopper for the spec's conditions, or None when there are none."""
    stoppers: list[Any] = []
    if stop.max_steps is not None:
        stoppers.append(MaxStepsStopper(stop.max_steps))
    if stop.target is not None:
        stoppers.append(TargetStopper(metric, mode, stop.target))
    stoppers.extend(plateau_stoppers(stop, metric, mode))
    if not stoppers:
        return None
    return stoppers[0] if len(stoppers) == 1 else CombinedStopper(*stoppers)


class MaxStepsStopper(Stopper):
    """Stop a trial once its step counter (training_iteration) reaches max_steps.

    Unlike Ray's MaximumIterationStopper, which counts the results it has seen per
    trial, this reads the counter: a trial restored from a checkpoint (a PBT clone,
    a HyperBand resume, a retry) continues from the checkpoint's step and still
    stops at max_steps.
    """

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return int(result.get("training_iteration") or 0) >= self.max_steps

    def stop_all(self) -> bool:
        return False


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


def plateau_stoppers(stop: StopSpec, metric: str, mode: str) -> list[Any]:
    """Ray's trial- and experiment-level plateau stoppers for the spec's plateau sections."""
    out: list[Any] = []
    if stop.plateau is not None:
        p = stop.plateau
        out.append(
            TrialPlateauStopper(
                metric,
                std=p.std,
                num_results=p.window,
                grace_period=p.grace_steps,
                metric_threshold=p.threshold,
                mode=mode if p.threshold is not None else None,
            )
        )
    if stop.experiment_plateau is not None:
        e = stop.experiment_plateau
        out.append(ExperimentPlateauStopper(metric, std=e.std, top=e.top, mode=mode, patience=e.patience))
    return out
