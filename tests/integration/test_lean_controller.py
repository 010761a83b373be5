"""Finished trials out of Tune's controller (#15, goal 5: runner.lean_controller, runner.retired).

With the window of finished trials Tune keeps made tiny, a run retires most of its trials
while it runs; an interrupted run resumed to the end still has every trial once, ran none
twice, and its searcher's points and budget are kept.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from raytuner.testing.faults import recorded

KEEP, BUDGET, CONCURRENT, STOP_AFTER = 2, 16, 2, 5
POINTS = [{"x": 0.25}, {"x": 0.5}]


def _spec(tmp_path: Path) -> dict[str, Any]:
    return {
        "name": "lean",
        "trainable": {"type": "function", "function": "raytuner.testing.faults:recorded_steps"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 6.0}, "steps": 1, "sleep": 0.0,
                  "record_dir": str(tmp_path / "steps")},
        "metric": {"name": "loss", "mode": "min"},
        "strategy": {"name": "optuna-tpe", "seed": 0, "points_to_evaluate": POINTS},
        "budget": {"trials": BUDGET, "max_concurrent": CONCURRENT},
        "storage": {"path": str(tmp_path / "results")},
    }


def test_finished_trials_leave_the_controller_and_resume_reruns_none(
        ray_local: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import raytuner
    import raytuner.runner.experiment as experiment
    from raytuner.errors import Interrupted
    from raytuner.runner import retired

    (tmp_path / "steps").mkdir()
    monkeypatch.setattr(retired, "KEEP_FINISHED", KEEP)
    keepers: list[retired.RetiredTrials] = []
    interrupt = {"after": STOP_AFTER}

    class Watched(retired.RetiredTrials):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            keepers.append(self)

        def add(self, trial: Any) -> Any:
            record = super().add(trial)
            if len(self) == interrupt["after"]:  # Ctrl+C once, in the driver, mid-run
                os.kill(os.getpid(), signal.SIGINT)
            return record

    monkeypatch.setattr(experiment, "RetiredTrials", Watched)
    with pytest.raises(Interrupted) as stopped:
        raytuner.run(_spec(tmp_path), show_progress=False)
    first = keepers[0]
    assert len(first) >= STOP_AFTER
    gone = {r.trial_id for r in first.records()}

    interrupt["after"] = -1
    summary = raytuner.resume(stopped.value.experiment_path, show_progress=False)
    assert summary.state == "finished"
    assert summary.counts == {"total": BUDGET, "ok": BUDGET, "error": 0}  # the budget, no more, no less
    ids = [t.trial_id for t in summary.trials]
    assert len(set(ids)) == BUDGET and gone <= set(ids)  # the first run's retired trials are in it
    runs = recorded(str(tmp_path / "steps"))
    assert len(runs) == BUDGET and all(lines == ["step 1 0", "end"] for lines in runs.values())  # none ran twice
    xs = [t.config["x"] for t in summary.trials]
    assert all(xs.count(p["x"]) == 1 for p in POINTS)  # the searcher's points, once each
    assert len(keepers[1]) >= BUDGET - len(gone) - KEEP - 2 * CONCURRENT  # the resumed run retired trials too
    for keeper in keepers:  # Tune's controller held the window, the running and the pending, never more
        assert 0 < keeper.held_max <= KEEP + 2 * CONCURRENT
    assert summary.best is not None and summary.best.score == min(t.score for t in summary.trials)
