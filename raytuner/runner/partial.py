"""The partial ``summary.json``: written as the run goes, so ``raytuner results``,
``read_experiment`` and ``raytuner resume`` work on a running, interrupted or killed
experiment.

:class:`PartialSummary` is a Ray Tune callback in the driver: it rewrites summary.json
(atomically on local disk: temp file, then ``os.replace``) with ``"state": "running"``
within ``gap_s`` of a trial completing or failing and ``interval_s`` of a report (never
more often: a write is O(trials), and thousands of fast trials must not pay O(n^2)); and
once a write takes over 50 ms (thousands of trials), never sooner after it than 20 times
what it took (at most 5% of the driver's time goes to it, however many trials there are).
The runner writes the last one: ``"interrupted"`` after Ctrl+C, ``"finished"`` (the
full summary) at the end. A driver killed outright leaves ``"running"`` with its host
and pid, which ``results.summary.run_state`` reads as interrupted once the pid is gone.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ray.tune import Callback

from raytuner.results.summary import (INTERRUPTED, RUNNING, SPEC_FILE, SUMMARY_FILE, Summary, TrialRecord, best_of,
                                      write_summary)
from raytuner.results.versions import versions

log = logging.getLogger(__name__)

_STATUS = {"TERMINATED": "ok", "ERROR": "error"}  # Tune's trial status -> ours; others lower-cased
_SMALL = (int, float, str, bool)


@dataclass(frozen=True)
class RunInfo:
    """What every summary of one experiment shares (a resumed run keeps the first run's start)."""

    name: str  # the spec's name
    experiment_path: str  # a local path or a URI (s3://...)
    metric: str
    mode: str
    strategy: str
    scheduler: str
    started_at: str
    storage: Any  # the spec's StorageSpec (endpoint, region for remote paths)
    prior_wall_s: float = 0.0  # wall time of the runs before a resume
    scope: str = "last"  # metric.scope (results.scope)

    def summary(self, trials: list[TrialRecord], state: str, wall_s: float) -> Summary:
        """A partial summary (no finish steps) in ``state``."""
        ranked = [t for t in trials if t.status == "ok"]
        return Summary(
            name=self.name, experiment_path=self.experiment_path, metric=self.metric, mode=self.mode,
            strategy=self.strategy, scheduler=self.scheduler, started_at=self.started_at,
            wall_time_s=round(self.prior_wall_s + wall_s, 3), trials=trials, best=best_of(ranked, self.mode),
            versions=versions(), state=state, driver={"host": socket.gethostname(), "pid": os.getpid()},
            scope=self.scope,
        )


def write_partial(summary: Summary, storage: Any) -> None:
    """Write a (partial) summary.json where the experiment lives; never raises (a run goes on)."""
    try:
        path = summary.experiment_path
        if "://" not in path:
            Path(path).mkdir(parents=True, exist_ok=True)
            write_summary(summary, path)
            return
        from raytuner.results import storage as store

        location = store.resolve(path, endpoint=getattr(storage, "endpoint", None),
                                 region=getattr(storage, "region", None))
        store.write_text(location, SUMMARY_FILE, json.dumps(summary.to_data(), indent=2, allow_nan=False))
    except Exception as exc:  # a full disk or a flaky bucket must not stop the trials
        log.debug("could not write the partial summary: %s", exc)


def write_spec(spec: Any, experiment_path: str) -> None:
    """spec.yaml (the validated spec, overrides applied) into the experiment directory, at the start,
    and objects.pkl with the Python objects spec.yaml can only name (``runner.objects``)."""
    import yaml

    from raytuner.results import storage
    from raytuner.runner.objects import save_objects

    text = yaml.safe_dump(spec.to_data(), sort_keys=False)
    if "://" not in experiment_path:
        location = storage.resolve(experiment_path)
    else:
        location = storage.resolve(experiment_path, endpoint=spec.storage.endpoint, region=spec.storage.region)
    storage.write_text(location, SPEC_FILE, text)
    save_objects(spec, location)


def trial_record(trial: Any, metric: str, mode: str = "max", scope: str = "last") -> TrialRecord:
    """A Tune Trial (in the driver, at any point of its life) as a TrialRecord; with ``scope``
    "best", the score is the best so far (Tune's per-trial ``metric_analysis``; no step)."""
    result = dict(trial.last_result or {})
    status = _STATUS.get(str(trial.status), str(trial.status).lower())
    score = result.get(metric)
    step = int(result.get("training_iteration") or 0) or None
    if scope == "best" and status != "error":
        seen = (getattr(trial, "metric_analysis", None) or {}).get(metric) or {}
        if isinstance(seen.get(mode), (int, float)) and math.isfinite(seen[mode]):
            score, step = seen[mode], None
    metrics = {k: v for k, v in result.items() if isinstance(v, _SMALL) and k not in ("trial_id", "date", "pid")}
    return TrialRecord(
        trial_id=str(trial.trial_id),
        status=status,
        config=dict(trial.config or {}),
        score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
        steps=int(result.get("training_iteration") or 0),
        time_s=round(float(result.get("time_total_s") or 0.0), 3),
        error="failed (error.txt in its trial directory)" if status == "error" else None,
        path=str(trial.path) if trial.path else None,
        metrics={**metrics, "node_ip": result.get("node_ip")},
        score_step=step,
    )


class PartialSummary(Callback):
    """Rewrites summary.json (state "running") as trials complete, fail or report."""

    def __init__(self, info: RunInfo, interval_s: float = 2.0, gap_s: float = 1.0, retired: Any = None) -> None:
        self.info = info
        self.retired = retired  # runner.retired.RetiredTrials: the trials Tune's controller let go of
        self.interval_s = interval_s
        self.gap_s = gap_s
        self._start = time.time()
        self._last = -math.inf  # no write yet: the first is due at once (monotonic time may start near 0)
        self._due = math.inf  # when the next write is due (monotonic)
        self._cost = 0.0  # seconds the last write took
        self.trials: list[Any] = []  # Tune's Trial objects, as last seen
        self.ended: dict[str, str] = {}  # trial id -> "ok" | "error", as Tune told us
        self.started: set[str] = set()
        self.interrupted = False  # Tune was stopped by Ctrl+C (see on_experiment_end)
        self._tune_sigint: Any = None  # the SIGINT handler Tune installed for the run

    def write(self, trials: list[Any], state: str = RUNNING) -> Summary:
        began = time.monotonic()
        self.trials = list(trials)
        records = [trial_record(t, self.info.metric, self.info.mode, self.info.scope) for t in trials]
        if state == INTERRUPTED:  # Tune marks the trials it stopped "terminated": say what they were
            records = [replace(r, status=self.ended.get(r.trial_id) or self._unended(r.trial_id)) for r in records]
        if self.retired is not None and len(self.retired):
            records = self.retired.merged(records)
        summary = self.info.summary(records, state, time.time() - self._start)
        write_partial(summary, self.info.storage)
        self._last, self._due = time.monotonic(), math.inf
        self._cost = self._last - began
        return summary

    def _unended(self, trial_id: str) -> str:
        return "running" if trial_id in self.started else "pending"

    def _soon(self, within_s: float) -> None:
        floor = 20 * self._cost if self._cost > 0.05 else 0.0
        self._due = min(self._due, self._last + max(within_s, floor))

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if time.monotonic() >= self._due:
            self.write(trials)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._soon(self.interval_s)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.started.add(str(trial.trial_id))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended[str(trial.trial_id)] = "ok"
        self._soon(self.gap_s)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended[str(trial.trial_id)] = "error"
        self._soon(self.gap_s)

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if self._tune_sigint is None:  # the first step (of this run or of a resume)
            self._tune_sigint = signal.getsignal(signal.SIGINT)
            for trial in trials:  # a resume's finished trials
                if str(trial.status) in _STATUS:
                    self.ended.setdefault(str(trial.trial_id), _STATUS[str(trial.status)])

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Tune returns normally after Ctrl+C (and marks the trials it stopped terminated);
        its SIGINT handler puts the previous handler back when it fires: that tells."""
        handler = self._tune_sigint
        self.interrupted = handler is not None and signal.getsignal(signal.SIGINT) is not handler
        if self.interrupted:
            self.write(trials, INTERRUPTED)
        else:
            self.trials = list(trials)  # the runner writes the final summary next

    def __getstate__(self) -> dict[str, Any]:  # Ray pickles callbacks with the experiment
        return {**self.__dict__, "trials": [], "_tune_sigint": None, "retired": None}
