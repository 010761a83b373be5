"""Conditional spaces on Ray: two estimator families, each with its own parameters, searched
by random (the codec's flattening) and by Optuna's TPE (define-by-run), from a Python dict."""

from __future__ import annotations

from pathlib import Path

import pytest

import raytuner

LR = "sklearn.linear_model.LogisticRegression"
HGB = "sklearn.ensemble.HistGradientBoostingClassifier"
OWN = {LR: {"C", "max_iter"}, HGB: {"learning_rate", "max_iter"}}


def _spec(strategy: str, storage: Path) -> dict:
    return {
        "name": f"conditional-{strategy}",
        "trainable": {"type": "sklearn", "data": {"source": "sklearn:breast_cancer"}, "cv": {"folds": 2}},
        "space": {"model": {"type": "choice", "values": [
            {"estimator": LR, "C": {"type": "float", "low": 0.01, "high": 10, "log": True}, "max_iter": 2000},
            {"estimator": HGB, "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
             "max_iter": {"type": "int", "low": 10, "high": 30}},
        ]}},
        "metric": {"name": "accuracy", "mode": "max"},
        "strategy": {"name": strategy, "seed": 1, **({"options": {"n_startup_trials": 3}} if strategy == "optuna-tpe" else {})},
        "budget": {"trials": 6, "max_concurrent": 2},
        "storage": {"path": str(storage)},
    }


@pytest.mark.parametrize("strategy", ["random", "optuna-tpe"])
def test_each_trial_gets_one_family_with_only_its_own_parameters(strategy: str, ray_local: None, storage: Path) -> None:
    summary = raytuner.run(_spec(strategy, storage), show_progress=False)
    assert len(summary.trials) == 6
    assert all(t.status == "ok" for t in summary.trials), [t.error for t in summary.trials]
    families = set()
    for trial in summary.trials:
        model = trial.config["model"]
        families.add(model["estimator"])
        assert set(model) - {"estimator"} == OWN[model["estimator"]]
        assert all(isinstance(v, (int, float)) for k, v in model.items() if k != "estimator")
    assert families == {LR, HGB}
    best = summary.best.config["model"]
    from raytuner.results.export import load_model

    exported = load_model(summary.experiment_path)
    exported = exported.model
    assert f"{type(exported).__module__.split('._')[0]}.{type(exported).__name__}" == best["estimator"]


@pytest.mark.parametrize("step", [1, 2], ids=["ray-generator", "searcher"])
def test_grid_axes_are_crossed_with_random_axes(step: int, ray_local: None, storage: Path) -> None:
    """Every grid value x budget.trials samples, as Ray's grid_search with num_samples
    (step 1: Ray's own generator crosses them; step 2: our searcher does)."""
    spec = {
        "name": "grid-x-random",
        "trainable": {"type": "sklearn", "estimator": "sklearn.tree.DecisionTreeClassifier",
                      "data": {"source": "sklearn:iris"}, "cv": {"folds": 2}},
        "space": {"criterion": {"type": "grid", "values": ["gini", "entropy"]},
                  "max_depth": {"type": "int", "low": 1, "high": 6},
                  "min_samples_leaf": {"type": "int", "low": 1, "high": 9, "step": step}},
        "metric": {"name": "accuracy", "mode": "max"},
        "strategy": {"name": "random", "seed": 0},
        "budget": {"trials": 3, "max_concurrent": 2},
        "storage": {"path": str(storage)},
        "refit": False,
    }
    summary = raytuner.run(spec, show_progress=False)
    assert len(summary.trials) == 6 and all(t.status == "ok" for t in summary.trials)
    criteria = sorted(t.config["criterion"] for t in summary.trials)
    assert criteria == ["entropy"] * 3 + ["gini"] * 3
    for trial in summary.trials:
        assert 1 <= trial.config["max_depth"] <= 6
        assert (trial.config["min_samples_leaf"] - 1) % step == 0
    assert len({(t.config["max_depth"], t.config["min_samples_leaf"]) for t in summary.trials}) > 1
