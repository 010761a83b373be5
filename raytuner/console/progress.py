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
    """Counts and the best value so far. Per-trial state (``latest``, ``bad``) is held only
    while a trial runs: ``finish`` folds a trial's last value into the best of the finished
    ones and drops it, so thousands of trials cost the driver no memory here."""

    metric: str
    mode: str
    total: int | None
    started: float = field(default_factory=time.monotonic)
    running: set[str] = field(default_factory=set)
    done: int = 0
    failed: int = 0
    retried: int = 0
    latest: dict[str, float] = field(default_factory=dict)  # last finite value per running trial
    bad: set[str] = field(default_factory=set)  # running trials the metrics rule ended (diverged, no metric)
    finished_best: tuple[str, float] | None = None  # the best (trial, value) of the finished trials

    def observe(self, trial_id: str, value: Any) -> None:
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.latest[trial_id] = float(value)

    def finish(self, trial_id: str) -> bool:
        """The trial ended: keep its value only if it is the best; True if the metrics rule had ended it."""
        self.running.discard(trial_id)
        value = self.latest.pop(trial_id, None)
        if value is not None and (self.finished_best is None or self._better(value, self.finished_best[1])):
            self.finished_best = (trial_id, value)
        if trial_id in self.bad:
            self.bad.discard(trial_id)
            return True
        return False

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def _best_pair(self) -> tuple[str, float] | None:
        pairs = list(self.latest.items()) + ([self.finished_best] if self.finished_best else [])
        if not pairs:
            return None
        pick = max if self.mode == "max" else min
        return pick(pairs, key=lambda pair: pair[1])

    @property
    def best_trial(self) -> str | None:
        pair = self._best_pair()
        return None if pair is None else pair[0]

    @property
    def best(self) -> float | None:
        pair = self._best_pair()
        return None if pair is None else pair[1]

    def line(self) -> str:
        total = f"/{self.total}" if self.total else ""
        pair = self._best_pair()
        best = f"{pair[1]:.6g} ({pair[0]})" if pair is not None else "-"
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
                    self.progress.finish(trial.trial_id)

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
        if self.progress.finish(trial.trial_id):
            self.progress.failed += 1
        else:
            self.progress.done += 1
        self._render(force=True)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.retried += 1

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.progress.latest.pop(trial.trial_id, None)  # a failed trial is never the best
        self.progress.finish(trial.trial_id)
        self.progress.failed += 1
        self._render(force=True)

    def record(self, trial_id: str, metrics: dict[str, Any], ok: bool) -> None:
        """A trial that ran outside Ray Tune (a batched run) ended: ``ok``, or failed/diverged."""
        if ok:
            self.progress.observe(trial_id, metrics.get(self.progress.metric))
            self.progress.finish(trial_id)  # only the best finished value is kept
            self.progress.done += 1
        else:
            self.progress.failed += 1
        self._render()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
