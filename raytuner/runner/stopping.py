"""The spec's per-trial stopping conditions as Ray Tune stoppers (imports Ray)."""

from __future__ import annotations

import math
from typing import Any

from ray.tune.stopper import (
    ExperimentPlateauStopper,
    Stopper,
    TrialPlateauStopper,
)

from raytuner.spec.models import StopSpec


def build_stopper(stop: StopSpec, metric: str, mode: str) -> "RecordingStopper | None":
    """A Ray Stopper for the spec's conditions, or None when there are none."""
    stoppers: list[tuple[str, Any]] = []
    if stop.max_steps is not None:
        stoppers.append(("max_steps", MaxStepsStopper(stop.max_steps)))
    if stop.target is not None:
        stoppers.append(("target", TargetStopper(metric, mode, stop.target)))
    stoppers.extend(plateau_stoppers(stop, metric, mode))
    return RecordingStopper(stoppers) if stoppers else None


class RecordingStopper(Stopper):
    """Ray's CombinedStopper, remembering which condition stopped each trial.

    Every stopper sees every result (plateau stoppers keep a window per trial); the
    first that says stop is the trial's reason. ``stopped_all`` names the condition
    that ended the whole experiment, if one did. Tune calls it in the driver, so the
    runner reads ``reasons`` after the run.
    """

    def __init__(self, stoppers: list[tuple[str, Any]]) -> None:
        self.stoppers = stoppers
        self.reasons: dict[str, str] = {}
        self.stopped_all: str | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        said = [name for name, stopper in self.stoppers if stopper(trial_id, result)]
        if said:
            self.reasons.setdefault(trial_id, said[0])
        return bool(said)

    def stop_all(self) -> bool:
        for name, stopper in self.stoppers:
            if stopper.stop_all():
                self.stopped_all = self.stopped_all or name
                return True
        return False


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


def plateau_stoppers(stop: StopSpec, metric: str, mode: str) -> list[tuple[str, Any]]:
    """Ray's trial- and experiment-level plateau stoppers for the spec's plateau sections."""
    out: list[tuple[str, Any]] = []
    if stop.plateau is not None:
        p = stop.plateau
        out.append((
            "plateau",
            TrialPlateauStopper(
                metric,
                std=p.std,
                num_results=p.window,
                grace_period=p.grace_steps,
                metric_threshold=p.threshold,
                mode=mode if p.threshold is not None else None,
            ),
        ))
    if stop.experiment_plateau is not None:
        e = stop.experiment_plateau
        out.append(("experiment_plateau",
                    ExperimentPlateauStopper(metric, std=e.std, top=e.top, mode=mode, patience=e.patience)))
    return out
