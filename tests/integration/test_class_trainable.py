"""Class trainables (Ray Tune's class API) run for real: ASHA over their steps, PBT clones that
continue their donor's checkpointed state, the metrics rule, done, and a retry after a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import raytuner
from raytuner.results.summary import Summary

CLASSES = "raytuner.testing.classes"


def run(storage: Path, cls: str, space: dict[str, Any], scheduler: dict[str, Any], *, steps: int,
        **extra: Any) -> Summary:
    spec: dict[str, Any] = {
        "name": "cls",
        "trainable": {"type": "class", "class": f"{CLASSES}:{cls}", "steps": steps},
        "space": space,
        "metric": {"name": "loss", "mode": "min"},
        "strategy": {"name": "grid"},
        "scheduler": scheduler,
        "budget": {"max_concurrent": 2},
        "storage": {"path": str(storage)},
        "history": {"record": False},
        **extra,
    }
    return raytuner.run(spec, show_progress=False)


def test_asha_stops_a_plain_class_between_its_steps(ray_local: None, storage: Path) -> None:
    lrs = [0.5, 0.3, 0.05, 0.02, 0.01]  # a larger lr descends faster: 0.5 is best at every step
    summary = run(storage, "Descent", {"lr": {"type": "grid", "values": lrs}},
                  {"name": "asha", "options": {"grace_period": 1, "reduction_factor": 3}}, steps=6)
    trials = {t.config["lr"]: t for t in summary.trials}
    assert trials[0.5].steps == 6 and trials[0.5].status == "ok"
    stopped = [lr for lr, t in trials.items() if t.steps < 6]
    assert set(stopped) & {0.05, 0.02, 0.01} and 0.5 not in stopped
    assert summary.scheduling.early_stopping.stopped_by == {"scheduler": len(stopped)}
    for trial in summary.trials:  # one report per step(), one instance per trial
        trace = json.loads(trial.metrics["trace"])
        assert trial.metrics["step"] == trial.steps and [e[0] for e in trace] == list(range(1, trial.steps + 1))
        assert trial.metrics["setups"] == 1 and {e[3] for e in trace} == {-1}


def test_pbt_clone_of_a_tune_trainable_continues_its_donors_state(ray_local: None, storage: Path) -> None:
    """FileDescent is a ray.tune.Trainable saving a file: a clone is a new instance set up
    with its mutated lr, then load_checkpoint of its donor's directory: its step counter,
    Trainable.iteration and w continue from the donor's, descending at the new lr. Each
    trial's last report carries its lineage's trace (kept in the checkpoints)."""
    steps = 6
    summary = run(storage, "FileDescent", {"lr": {"type": "grid", "values": [0.02, 0.05, 0.3, 0.5]}},
                  {"name": "pbt", "options": {"perturbation_interval": 2, "mutations": {
                      "lr": {"type": "float", "low": 0.01, "high": 0.6}}}},
                  steps=steps, budget={"max_concurrent": 4})
    population = summary.scheduling.population
    assert population.exploits >= 1
    last_clone = {e.trial: e for e in population.events}
    for trial in summary.trials:
        metrics = trial.metrics
        assert trial.status == "ok" and metrics["step"] == metrics["own_steps"] == steps
        assert metrics["iteration"] == steps - 1 and metrics["setups"] == 1
        trace = json.loads(metrics["trace"])  # [own_steps, lr, w, loaded_from] per step of the lineage
        assert [e[0] for e in trace] == list(range(1, steps + 1))  # no step lost or repeated across restores
        for before, entry in zip(trace, trace[1:]):
            assert math.isclose(entry[2], before[2] - min(entry[1], 0.9) * (before[2] - 3.0))  # w went on
            assert entry[1] == before[1] or entry[3] == before[0]  # the lr changes only where a checkpoint loaded
        event = last_clone.get(trial.trial_id)
        if event is not None and event.donor_step >= steps:
            continue  # it cloned a finished donor: nothing was left to run, its last report is the donor's
        assert math.isclose(trace[-1][1], trial.config["lr"])
        if event is not None:  # its last clone: the first step after the donor's, at the mutated lr
            first = trace[event.donor_step]
            assert first[3] == event.donor_step and math.isclose(first[1], trial.config["lr"])
            if "lr" in event.changed:
                assert math.isclose(first[1], event.changed["lr"][1])


def test_metrics_rule_done_and_a_retry_from_the_own_checkpoint(ray_local: None, storage: Path, tmp_path: Path) -> None:
    faults = ["nan", "missing", "done", "crash"]
    summary = run(storage, "Descent", {"fault": {"type": "grid", "values": faults}}, {"name": "fifo"}, steps=4,
                  trainable={"type": "class", "class": f"{CLASSES}:Descent", "steps": 4,
                             "params": {"lr": 0.5, "fault_at": 2, "marker_dir": str(tmp_path)}},
                  failure={"max_retries": 1})
    trials = {t.config["fault"]: t for t in summary.trials}
    assert trials["nan"].status == "diverged" and trials["nan"].steps == 2
    assert trials["missing"].status == "error" and trials["missing"].steps == 2
    assert trials["done"].status == "ok" and trials["done"].steps == 2
    crashed = trials["crash"]  # raised at its 2nd step once; retried from its step-1 checkpoint
    assert crashed.status == "ok" and crashed.metrics["own_steps"] == 4 and crashed.metrics["step"] == 4
    assert [(e[0], e[3]) for e in json.loads(crashed.metrics["trace"])] == [(1, -1), (2, 1), (3, 1), (4, 1)]
    assert math.isclose(crashed.metrics["w"], 3.0 - 3.0 * 0.5**4)  # 4 steps from w=0: the state went on where saved
