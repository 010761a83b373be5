"""TuneSearchCV: the same answers as GridSearchCV, cv_results_ like it, pipelines, ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from raytuner.sklearn import TuneSearchCV

GRID_KEYS = {
    "mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time", "params",
    "mean_test_score", "std_test_score", "rank_test_score",
}


@pytest.fixture(scope="module")
def iris_grids(ray_local: None) -> tuple[TuneSearchCV, GridSearchCV]:
    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1.0, 10.0], "kernel": ["linear", "rbf"]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    tune = TuneSearchCV(SVC(), grid, strategy="grid", cv=cv, return_train_score=True).fit(X, y)
    sk = GridSearchCV(SVC(), grid, cv=cv, return_train_score=True).fit(X, y)
    return tune, sk


def test_same_best_params_and_scores_as_gridsearchcv(iris_grids: tuple[TuneSearchCV, GridSearchCV]) -> None:
    tune, sk = iris_grids
    assert tune.best_params_ == sk.best_params_
    assert tune.best_score_ == pytest.approx(sk.best_score_, abs=1e-12)
    ours = {repr(sorted(p.items())): i for i, p in enumerate(tune.cv_results_["params"])}
    assert len(ours) == len(sk.cv_results_["params"]) == 6
    for j, params in enumerate(sk.cv_results_["params"]):
        i = ours[repr(sorted(params.items()))]
        for key in ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score",
                    "split2_test_score", "mean_train_score"):
            assert tune.cv_results_[key][i] == pytest.approx(sk.cv_results_[key][j], abs=1e-12), key
    X, y = load_iris(return_X_y=True)
    np.testing.assert_array_equal(tune.predict(X), sk.predict(X))
    assert tune.score(X, y) == sk.score(X, y)
    assert tune.n_splits_ == 3 and tune.n_features_in_ == 4
    np.testing.assert_array_equal(tune.classes_, sk.classes_)


def test_cv_results_has_gridsearchcv_keys_and_loads_into_pandas(iris_grids: tuple[TuneSearchCV, GridSearchCV]) -> None:
    tune, sk = iris_grids
    assert set(tune.cv_results_) == set(sk.cv_results_)
    assert GRID_KEYS | {"param_C", "param_kernel", "split1_train_score"} <= set(tune.cv_results_)
    frame = pd.DataFrame(tune.cv_results_)
    assert list(frame.columns) == list(pd.DataFrame(sk.cv_results_).columns)
    assert len(frame) == 6 and frame["rank_test_score"].min() == 1
    assert isinstance(tune.cv_results_["param_C"], np.ma.MaskedArray)


def test_random_search_with_distributions_and_multimetric(ray_local: None) -> None:
    X, y = load_iris(return_X_y=True)
    search = TuneSearchCV(
        LogisticRegression(max_iter=500),
        {"C": loguniform(1e-2, 1e2), "tol": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
        n_trials=3, cv=GroupKFold(2), random_state=0, scoring={"acc": "accuracy", "f1": "f1_macro"}, refit="f1",
    ).fit(X, y, groups=np.arange(len(y)) % 6, sample_weight=np.ones(len(y)))  # routed like GridSearchCV
    results = search.cv_results_
    assert {"mean_test_acc", "mean_test_f1", "rank_test_f1", "split1_test_acc"} <= set(results)
    assert len(results["params"]) == 3
    assert all(1e-2 <= p["C"] <= 1e2 and 1e-5 <= p["tol"] <= 1e-3 for p in results["params"])
    assert search.best_index_ == int(np.argmin(results["rank_test_f1"]))
    assert search.best_score_ == results["mean_test_f1"][search.best_index_]
    assert search.best_estimator_.C == search.best_params_["C"]
    assert set(search.scorer_) == {"acc", "f1"}
    assert search.predict(X).shape == y.shape


def test_pipeline_tuning_matches_gridsearchcv(ray_local: None) -> None:
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    grid = [{"scale": [MinMaxScaler()], "clf__C": [0.1, 10.0]},  # a list of grids, as GridSearchCV takes
            {"scale": ["passthrough"], "clf__C": [1.0], "clf__kernel": ["linear", "poly"]}]
    tune = TuneSearchCV(pipe, grid, strategy="grid", cv=2).fit(X, y)
    sk = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert repr(tune.best_params_) == repr(sk.best_params_)
    assert tune.best_score_ == pytest.approx(sk.best_score_, abs=1e-12)
    assert set(tune.cv_results_) == set(sk.cv_results_)
    ours = sorted(zip(map(repr, tune.cv_results_["params"]), tune.cv_results_["mean_test_score"]))
    theirs = sorted(zip(map(repr, sk.cv_results_["params"]), sk.cv_results_["mean_test_score"]))
    assert [p for p, _ in ours] == [p for p, _ in theirs] and len(ours) == 4
    np.testing.assert_allclose([m for _, m in ours], [m for _, m in theirs], atol=1e-12)
    assert tune.cv_results_["param_clf__kernel"].mask.sum() == 2  # masked where a sub-space lacks it
    assert tune.best_estimator_.named_steps["clf"].C == sk.best_params_["clf__C"]


def test_ensemble_of_diverse_models_beats_or_ties_best_on_holdout(ray_local: None) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    models = [LogisticRegression(max_iter=2000), KNeighborsClassifier(), GaussianNB(),
              DecisionTreeClassifier(max_depth=4, random_state=0)]
    search = TuneSearchCV(pipe, {"clf": models}, strategy="grid", cv=3,
                          ensemble={"method": "greedy", "top_k": 4}).fit(X_train, y_train)
    info = search.ensemble_info_
    assert info["members"] == 4 and sum(info["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert len(info["member_oof_scores"]) == 4
    best, ensemble = search.best_estimator_.score(X_test, y_test), search.ensemble_.score(X_test, y_test)
    assert ensemble >= best
    assert search.ensemble_.predict_proba(X_test).shape == (len(y_test), 2)


def test_n_iter_is_randomizedsearchcv_name_for_the_candidate_count(ray_local: None) -> None:
    X, y = load_iris(return_X_y=True)
    search = TuneSearchCV(LogisticRegression(max_iter=300), {"C": loguniform(1e-2, 1e2)}, n_iter=5, cv=2,
                          random_state=0).fit(X, y)
    assert len(search.cv_results_["params"]) == 5
    assert len(search.summary_.trials) == 5
    assert search.get_params()["n_iter"] == 5


def test_n_iter_and_n_trials_that_disagree_are_refused_before_ray() -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=r"n_iter=5 and n_trials=3 disagree"):
        TuneSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, n_iter=5, n_trials=3).fit(X, y)


@pytest.mark.parametrize("kernels", [["precomputed"], ["linear", "precomputed"]], ids=["all-fail", "one-fails"])
def test_error_score_raise_reraises_the_fits_own_exception_as_randomizedsearchcv(ray_local: None, kernels: list[str]) -> None:
    from sklearn.model_selection import RandomizedSearchCV

    X, y = load_iris(return_X_y=True)
    space = {"kernel": kernels}
    with pytest.raises(Exception) as ours:
        TuneSearchCV(SVC(), space, n_iter=len(kernels), cv=2, error_score="raise", random_state=0).fit(X, y)
    with pytest.raises(Exception) as sks:
        RandomizedSearchCV(SVC(), space, n_iter=len(kernels), cv=2, error_score="raise", random_state=0).fit(X, y)
    assert type(ours.value) is type(sks.value) is ValueError
    assert str(ours.value) == str(sks.value)
    assert "Ray" not in str(ours.value)
