"""A live progress view fed by a Ray Tune callback: one line, not Ray's wall of text."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from ray.tune import Callback

from raytuner.results.metric_rule import flagged


@dataclass
class Progress:
    metric: str
    mode: str
    total: int | None
    started: float = field(default_factory=time.monotonic)
    running: set[str] = field(default_factory=set)
    done: int = 0
    failed: int = 0
    retried: int = 0
    latest: dict[str, float] = field(default_factory=dict)  # last finite value per trial
    bad: set[str] = field(default_factory=set)  # trials the metrics rule ended (diverged, no metric)

    def observe(self, trial_id: str, value: Any) -> None:
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.latest[trial_id] = float(value)

    @property
    def best_trial(self) -> str | None:
        if not self.latest:
            return None
        pick = max if self.mode == "max" else min
        return pick(self.latest, key=self.latest.__getitem__)

    @property
    def best(self) -> float | None:
        trial = self.best_trial
        return None if trial is None else self.latest[trial]

    def line(self) -> str:
        total = f"/{self.total}" if self.total else ""
        best = f"{self.best:.6g} ({self.best_trial})" if self.best is not None else "-"
        elapsed = time.monotonic() - self.started
        return (
            f"trials {self.done + self.failed}{total} | running {len(self.running)} | "
            f"failed {self.failed} | best {self.metric} {best} | {elapsed:.1f}s"
        )


class ProgressView(Callback):
    """Ray Tune callback that keeps a Progress and renders it to a stream."""

    def __init__(self, progress: Progress, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.progress = progress
        self._stream = stream
        self.live = self.stream.isatty() if live is None else live
        self._last = 0.0
        self._counted = False

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def __getstate__(self) -> dict[str, Any]:  # Ray pickles callbacks with the experiment state
        state = dict(self.__dict__)
        state["_stream"] = None
        return state

    def _render(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.live:
            if force or now - self._last > 0.2:
                self.stream.write("\r\x1b[2K" + self.progress.line())
                self.stream.flush()
                self._last = now
        elif force:
            self.stream.write(self.progress.line() + "\n")
            self.stream.flush()

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if not self._counted:  # the first step; a resumed experiment: count the trials that ended before
            self._counted = True
            statuses = [str(t.status) for t in trials]
            self.progress.done += statuses.count("TERMINATED")
            self.progress.failed += statuses.count("ERROR")
            for trial in trials:
                if str(trial.status) == "TERMINATED":
                    self.progress.observe(trial.trial_id, (trial.last_result or {}).get(self.progress.metric))

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.running.add(trial.trial_id)
        self._render()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if flagged(result):  # its metric is a stand-in for NaN/inf/missing: never the best
            self.progress.bad.add(trial.trial_id)
            self.progress.latest.pop(trial.trial_id, None)
        else:
            self.progress.observe(trial.trial_id, result.get(self.progress.metric))
        self._render()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.running.discard(trial.trial_id)
        if trial.trial_id in self.progress.bad:
            self.progress.failed += 1
        else:
            self.progress.done += 1
        self._render(force=True)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.retried += 1

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.running.discard(trial.trial_id)
        self.progress.failed += 1
        self._render(force=True)

    def record(self, trial_id: str, metrics: dict[str, Any], ok: bool) -> None:
        """A trial that ran outside Ray Tune (a batched run) ended: ``ok``, or failed/diverged."""
        if ok:
            self.progress.observe(trial_id, metrics.get(self.progress.metric))
            self.progress.done += 1
        else:
            self.progress.failed += 1
        self._render()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
