"""What the console says about scheduling and early stopping (no Ray: a summary as the runner writes it)."""

from __future__ import annotations

from dataclasses import replace

from raytuner.console.scheduling import scheduling_lines
from raytuner.results.scheduling import EarlyStopping, SchedulingReport
from raytuner.results.summary import Summary, TrialRecord


def test_summary_says_nothing_of_early_stopping_when_fifo_stopped_nothing() -> None:
    early = EarlyStopping(max_steps=3, trials=2, stopped_early=0, stopped_by={}, stop_reasons={},
                          steps_used=6, steps_if_all_ran=6, steps_saved=0, stopped_trials=[])
    trials = [TrialRecord(trial_id=i, status="ok", config={}, score=1.0, metrics={}, steps=3, path="", time_s=0.1) for i in "ab"]
    summary = Summary(name="s", experiment_path="", metric="m", mode="max", strategy="random", scheduler="fifo",
                      started_at="", wall_time_s=1.0, trials=trials, best=trials[0], versions={},
                      scheduling=SchedulingReport(scheduler="fifo", early_stopping=early))
    assert scheduling_lines(summary) == []
    summary.scheduling = replace(summary.scheduling, scheduler="asha")
    assert scheduling_lines(summary)[0].startswith("early stopping: 0 of 2 trials stopped before 3 steps")
