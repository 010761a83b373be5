"""HyperBand (and BOHB's) brackets when trials finish on their own (Ray 2.60 gaps, fixed in
raytuner/schedulers/_brackets.py): the trials paused at max_t are stopped, never left PAUSED."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("ray.tune")

from ray.tune.experiment import Trial  # noqa: E402
from ray.tune.schedulers import HyperBandScheduler, TrialScheduler  # noqa: E402

from raytuner.schedulers._brackets import RaytunerHyperBand  # noqa: E402


class Controller:
    """What the schedulers call on Tune's controller: stopping a paused trial removes it."""

    def __init__(self) -> None:
        self.scheduler: Any = None

    def stop_trial(self, trial: Trial) -> None:
        status = trial.status
        trial.set_status(Trial.TERMINATED)
        if status in (Trial.PAUSED, Trial.PENDING):
            self.scheduler.on_trial_remove(self, trial)


def _trial(name: str) -> Trial:
    trial = Trial("__fake", config={}, stub=True, trial_id=name)
    trial.set_status(Trial.RUNNING)
    return trial


def _last_bracket_run(cls: type) -> tuple[Trial, Trial]:
    """One bracket on its final rung (max_t 4): trial a reaches max_t and is paused while trial b,
    short of it, finishes early (a library's early stopping) instead of reporting."""
    scheduler = cls(metric="score", mode="max", max_t=4, reduction_factor=4)
    controller = Controller()
    controller.scheduler = scheduler
    a, b = _trial("a"), _trial("b")
    for trial in (a, b):
        scheduler.on_trial_add(controller, trial)
    bracket, _ = scheduler._trial_info[a]
    assert scheduler._trial_info[b][0] is bracket and bracket._halves == 0  # the final rung: max_t
    decisions = [scheduler.on_trial_result(controller, a, {"training_iteration": i, "score": 1.0}) for i in (1, 2, 3, 4)]
    assert decisions[-1] == TrialScheduler.PAUSE  # a waits for b to reach max_t
    a.set_status(Trial.PAUSED)
    scheduler.on_trial_result(controller, b, {"training_iteration": 1, "score": 0.5})
    b.set_status(Trial.TERMINATED)
    scheduler.on_trial_complete(controller, b, {"training_iteration": 2, "score": 0.6})  # b ended itself
    return a, b


def test_a_trial_paused_at_max_t_is_stopped_when_its_last_peer_finishes_early() -> None:
    a, _ = _last_bracket_run(RaytunerHyperBand)
    assert a.status == Trial.TERMINATED


def test_ray_still_leaves_it_paused() -> None:
    """When this fails, Ray fixed its HyperBand brackets: raytuner's subclass can go."""
    a, _ = _last_bracket_run(HyperBandScheduler)
    assert a.status == Trial.PAUSED
