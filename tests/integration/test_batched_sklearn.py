"""scikit-learn trials on the batched warm pool (execution.batch): the same scores as Ray Tune
trials, TuneSearchCV's pool kept across fits, and scikit-learn's error_score rules."""

from __future__ import annotations

import glob
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

import raytuner
from raytuner.results.experiment import read_experiment
from raytuner.sklearn import TuneSearchCV


@pytest.fixture(autouse=True, scope="module")
def _pool_released_after() -> object:
    yield
    from raytuner.runner.batched import release_pool

    release_pool()


def _spec(storage: Path, batch: str) -> dict:
    return {
        "name": f"sk-{batch}",
        "trainable": {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
                      "params": {"max_iter": 300}, "data": {"source": "sklearn:iris"},
                      "cv": {"folds": 3, "shuffle": True}},
        "space": {"C": {"type": "choice", "values": [0.01, 0.3, 10.0]}, "tol": {"type": "float", "low": 1e-4, "high": 1e-2}},
        "metric": {"name": "accuracy", "mode": "max"},
        "strategy": {"name": "random", "seed": 4},
        "budget": {"trials": 3},
        "refit": {"enabled": False},
        "storage": {"path": str(storage / batch)},
        "history": {"record": False},
        "execution": {"batch": batch, "warm_s": 60},
    }


def _folds(path: str) -> list[tuple[int, float]]:
    return [(row["fold"], row["fold_score"]) for row in read_experiment(path).history.to_dict("records")]


def test_batched_sklearn_trials_score_as_tune_trials(ray_local: None, storage: Path) -> None:
    tune = raytuner.run(_spec(storage, "off"), show_progress=False)
    batched = raytuner.run(_spec(storage, "auto"), show_progress=False)  # its pool kept for the next tests

    def by_config(summary: raytuner.Summary) -> dict[str, tuple[float, int]]:
        return {json.dumps(t.config, sort_keys=True): (t.score, t.steps) for t in summary.trials}

    assert by_config(batched) == by_config(tune) and len(by_config(tune)) == 3
    assert [t.status for t in batched.trials] == ["ok"] * 3
    history = read_experiment(batched.experiment_path).history
    assert sorted(history["fold"]) == [1, 1, 1, 2, 2, 2, 3, 3, 3] and "score_std" in history
    assert sorted(_folds(batched.experiment_path)) == sorted(_folds(tune.experiment_path))


def test_the_data_travels_by_object_ref_not_in_every_batch(ray_local: None, storage: Path) -> None:
    import cloudpickle
    import ray

    from raytuner.runner.plan import make_plan
    from raytuner.spec.loader import validate_spec

    spec = validate_spec({**_spec(storage, "auto"), "trainable": {
        "type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression", "data": {"source": "sklearn:digits"}}})
    plan = make_plan(spec)
    job = plan.trainable.batch_job(plan.objectives, plan.schedule.max_steps, None)
    assert isinstance(job.fn_path.data, ray.ObjectRef)
    assert len(cloudpickle.dumps(job)) < 20_000 < len(cloudpickle.dumps(ray.get(job.fn_path.data)))


def _pids(storage: str) -> set[int]:
    return {json.loads(line)["pid"] for f in glob.glob(f"{storage}/*/trial_*/result.json") for line in open(f)}


def test_tunesearchcv_fitted_twice_reuses_the_warm_actors(ray_local: None, tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    unbatched = TuneSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, n_trials=3, cv=3,
                             random_state=0, batched=False).fit(X, y)  # Ray Tune trials
    fits = []
    for i in range(2):
        search = TuneSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, n_trials=3, cv=3,
                              random_state=0, storage_path=str(tmp_path / str(i))).fit(X, y)
        fits.append(search)
    first, second = _pids(str(tmp_path / "0")), _pids(str(tmp_path / "1"))
    assert first and second <= first  # the second fit ran on the first fit's actor processes
    assert list(fits[0].cv_results_["mean_test_score"]) == list(fits[1].cv_results_["mean_test_score"])
    assert list(unbatched.cv_results_["mean_test_score"]) == list(fits[0].cv_results_["mean_test_score"])
    assert unbatched.cv_results_["params"] == fits[0].cv_results_["params"]


@pytest.mark.parametrize("error_score", [np.nan, 0.0])
def test_batched_failed_fits_score_error_score_as_gridsearchcv(ray_local: None, error_score: float) -> None:
    X, y = load_iris(return_X_y=True)
    grid = {"C": [1.0, -1.0]}  # C=-1 fails in fit (scikit-learn's parameter validation)
    with pytest.warns(FitFailedWarning):
        ours = TuneSearchCV(SVC(), grid, strategy="grid", cv=2, error_score=error_score).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = GridSearchCV(SVC(), grid, cv=2, error_score=error_score).fit(X, y)
    assert ours.cv_results_["params"] == sk.cv_results_["params"]
    np.testing.assert_equal(ours.cv_results_["mean_test_score"], sk.cv_results_["mean_test_score"])
    np.testing.assert_equal(ours.cv_results_["rank_test_score"], sk.cv_results_["rank_test_score"])
    assert ours.best_params_ == sk.best_params_ == {"C": 1.0}
    assert ours.summary_.counts["error"] == 0  # a failed fit is a score, not a failed trial
