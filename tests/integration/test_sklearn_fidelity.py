"""scikit-learn trainables report per step: epochs (partial_fit), warm_start growth, folds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import raytuner
from raytuner.results.summary import Summary


def run(storage: Path, estimator: str, space: dict[str, Any], fidelity: dict[str, Any], scheduler: dict[str, Any],
        *, params: dict[str, Any] | None = None, folds: int = 3, concurrent: int = 2, steps: int | None = None) -> Summary:
    spec = {
        "name": "fid",
        "trainable": {"type": "sklearn", "estimator": estimator, "params": params or {},
                      "data": {"source": "sklearn:digits"}, "cv": {"folds": folds}, "fidelity": fidelity},
        "space": space,
        "metric": "accuracy",
        "strategy": {"name": "grid", "seed": 0},
        "scheduler": scheduler,
        "budget": {"max_concurrent": concurrent},
        "storage": {"path": str(storage)},
    }
    if steps:
        spec["stop"] = {"max_steps": steps}
    return raytuner.run(spec, show_progress=False)


def rows(trial: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(trial.path, "result.json").read_text().splitlines() if line.strip()]


def test_estimators_grow_with_warm_start(ray_local: None, storage: Path) -> None:
    summary = run(storage, "sklearn.ensemble.RandomForestClassifier",
                  {"n_estimators": {"type": "grid", "values": [6]}}, {"kind": "estimators", "steps": 3},
                  {"name": "fifo"}, params={"n_jobs": 1}, folds=2)
    (trial,) = summary.trials
    assert [r["n_estimators"] for r in rows(trial)] == [2, 4, 6]
    assert trial.steps == 3 and trial.score is not None and trial.score > 0.7


def test_asha_drops_a_config_after_a_few_folds(ray_local: None, storage: Path) -> None:
    summary = run(storage, "sklearn.tree.DecisionTreeClassifier",
                  {"max_depth": {"type": "grid", "values": [None, 12, 1, 2]}}, {"kind": "folds"},
                  {"name": "asha", "options": {"grace_period": 1, "reduction_factor": 2}}, folds=5)
    steps = {t.config["max_depth"]: t.steps for t in summary.trials}
    assert steps[None] == 5
    assert steps[1] < 5 and steps[2] < 5  # dropped before the last fold
    assert summary.scheduling.early_stopping.stopped_early >= 2


def test_pbt_on_partial_fit_epochs(ray_local: None, storage: Path) -> None:
    summary = run(storage, "sklearn.linear_model.SGDClassifier",
                  {"eta0": {"type": "grid", "values": [1e-5, 1e-4, 1e-2, 1e-1]}},
                  {"kind": "epochs", "steps": 6, "epochs_per_step": 2, "validation": "holdout"},
                  {"name": "pbt", "options": {"perturbation_interval": 2,
                                              "mutations": {"eta0": {"type": "float", "low": 1e-6, "high": 1.0, "log": True}}}},
                  params={"learning_rate": "constant", "loss": "log_loss"}, concurrent=4)
    for trial in summary.trials:  # one report per 2 partial_fit passes, a checkpoint per step
        assert trial.status == "ok" and trial.steps == 6 and trial.metrics["epoch"] == 12
        assert list(Path(trial.path).glob("checkpoint_*"))
    assert max(t.score for t in summary.trials) > 0.8
    population = summary.scheduling.population
    assert population.exploits >= 1
    for event in population.events:
        assert set(event.changed) <= {"eta0"}
