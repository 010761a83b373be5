"""Several experiments read side by side: ``raytuner compare`` / ``raytuner.compare``.

The same experiment under different strategies or schedulers: each directory is read
with :func:`read_experiment`; they must share the metric and its mode (``force=True``
compares them anyway and says what differs). Per experiment, :class:`Totals`: best
score, trials, wall time and CPU-hours (the trials' own run times x the CPUs each trial
reserved: ``resources.cpu`` plus ``child_bundles x child_cpu`` from spec.yaml).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from raytuner.errors import ResultsError
from raytuner.results.experiment import Experiment, finite_number, read_experiment


@dataclass(frozen=True)
class Totals:
    """One row of the comparison table."""

    label: str
    name: str
    path: str
    finished: bool
    strategy: str | None
    scheduler: str | None
    metric: str | None
    mode: str | None
    best_score: float | None
    best_trial: str | None
    trials: int
    failed: int
    wall_time_s: float | None
    trial_time_s: float
    cpus_per_trial: float
    gpus_per_trial: float
    cpu_hours: float
    gpu_hours: float

    def to_data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """The experiments (in the order given), their labels and totals, and notes on what differs."""

    experiments: list[Experiment]
    labels: list[str]
    totals: list[Totals]
    notes: list[str]


def compare_experiments(directories: list[str | Path], *, force: bool = False,
                        endpoint: str | None = None) -> Comparison:
    """Read the experiments and check they can be compared (ResultsError when not)."""
    if len(directories) < 2:
        raise ResultsError(f"compare needs two or more experiment directories (got {len(directories)}); "
                           "give DIR1 DIR2 ...")
    experiments = [read_experiment(d, endpoint=endpoint) for d in directories]
    for directory, experiment in zip(directories, experiments):
        if not experiment.metric:
            raise ResultsError(f"{directory} has no metric (no summary.json, no spec.yaml): it cannot be compared")
    notes = _differences(directories, experiments, force)
    labels = unique_labels(experiments)
    return Comparison(experiments, labels, [totals(e, label) for e, label in zip(experiments, labels)], notes)


def _differences(directories: list[str | Path], experiments: list[Experiment], force: bool) -> list[str]:
    first, notes = experiments[0], []
    for directory, experiment in zip(directories[1:], experiments[1:]):
        if (experiment.metric, experiment.mode) == (first.metric, first.mode):
            continue
        what = (f"{directory} optimises {experiment.metric} ({experiment.mode}) but {directories[0]} "
                f"optimises {first.metric} ({first.mode})")
        if not force:
            raise ResultsError(f"cannot compare: {what}; compare experiments of one metric and mode, "
                               "or pass --force (force=True) to draw them anyway")
        notes.append(f"forced: {what}; scores are not comparable across them")
    return notes


def unique_labels(experiments: list[Experiment]) -> list[str]:
    """Each experiment's directory name (its name plus the start stamp), made unique."""
    labels: list[str] = []
    for experiment in experiments:
        label = Path(experiment.path.rstrip("/")).name or experiment.name
        candidate, n = label, 2
        while candidate in labels:
            candidate, n = f"{label} ({n})", n + 1
        labels.append(candidate)
    return labels


def resources_per_trial(spec: dict[str, Any]) -> tuple[float, float]:
    """(CPUs, GPUs) one trial reserved, from spec.yaml's resources (Ray's defaults: 1 CPU)."""
    res = spec.get("resources") or {}
    bundles = res.get("child_bundles") or 0
    cpu = _number(res.get("cpu"), 1.0) + bundles * _number(res.get("child_cpu"), 1.0)
    gpu = _number(res.get("gpu"), 0.0) + bundles * _number(res.get("child_gpu"), 0.0)
    return cpu, gpu


def _number(value: Any, default: float) -> float:
    return float(value) if finite_number(value) else default


def totals(experiment: Experiment, label: str | None = None) -> Totals:
    trials, summary = experiment.trials, experiment.summary
    cpus, gpus = resources_per_trial(experiment.spec)
    times = [float(t) for t in trials["time_s"] if finite_number(t)]
    trial_time = float(sum(times))
    best_score, best_trial = _best(experiment)
    if summary is not None:
        strategy, scheduler, wall = summary.strategy, summary.scheduler, float(summary.wall_time_s)
    else:
        spec = experiment.spec
        strategy = (spec.get("strategy") or {}).get("name")
        scheduler = (spec.get("scheduler") or {}).get("name")
        starts = [float(s) for s in trials["start"] if finite_number(s)]
        ends = [float(e) for e in trials["end"] if finite_number(e)]
        wall = max(ends) - min(starts) if starts and ends else None
    return Totals(label=label or experiment.name, name=experiment.name, path=experiment.path,
                  finished=experiment.finished, strategy=strategy, scheduler=scheduler, metric=experiment.metric,
                  mode=experiment.mode, best_score=best_score, best_trial=best_trial, trials=len(trials),
                  failed=int((trials["status"] == "error").sum()), wall_time_s=wall, trial_time_s=trial_time,
                  cpus_per_trial=cpus, gpus_per_trial=gpus, cpu_hours=trial_time * cpus / 3600.0,
                  gpu_hours=trial_time * gpus / 3600.0)


def _best(experiment: Experiment) -> tuple[float | None, str | None]:
    summary = experiment.summary
    if summary is not None:
        best = summary.best
        return (float(best.score), best.trial_id) if best is not None and best.score is not None else (None, None)
    scored = [(float(s), str(t)) for s, t in zip(experiment.trials["score"], experiment.trials["trial_id"])
              if finite_number(s) and math.isfinite(float(s))]
    if not scored:
        return None, None
    return max(scored) if experiment.mode == "max" else min(scored)
