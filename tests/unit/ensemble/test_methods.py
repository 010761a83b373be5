"""Ensemble methods on out-of-fold predictions (no search; small models)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from raytuner.ensemble import build_ensemble
from raytuner.ensemble.core import PredictionScorer, distinct_top, member_oof_and_fit
from raytuner.errors import SpecError


def test_greedy_selection_keeps_a_perfect_member_alone() -> None:
    from raytuner.ensemble._greedy import GreedyMethod, GreedyOptions

    y = np.array([0, 1, 0, 1, 1, 0])
    classes = np.array([0, 1])
    perfect = np.eye(2)[y]
    noisy = np.eye(2)[1 - y] * 0.6 + 0.2
    score = PredictionScorer(get_scorer("accuracy"), y, classes)
    selection = GreedyMethod(GreedyOptions(rounds=10)).select([noisy, perfect, noisy], y, score, "classification")
    assert selection.weights == [0.0, 1.0, 0.0] and selection.oof_score == 1.0
    assert selection.details["member_oof_scores"] == [0.0, 1.0, 0.0]


def test_oof_predictions_come_from_models_that_did_not_see_the_row() -> None:
    X, y = load_iris(return_X_y=True)
    splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    oof, fitted = member_oof_and_fit(KNeighborsClassifier(1), X, y, splits, np.unique(y))
    # 1-NN predicting its own training rows would be perfect; out of fold it is not
    assert oof.shape == (150, 3) and not np.isnan(oof).any()
    assert (oof.argmax(axis=1) == y).mean() < 1.0
    assert fitted.score(X, y) == 1.0


@pytest.mark.parametrize("method, options", [("greedy", {"rounds": 20}), ("voting", {"voting": "hard"}),
                                             ("average", {}), ("stacking", {})])
def test_classification_methods(method: str, options: dict) -> None:
    X, y = load_iris(return_X_y=True)
    X_s, X_t, y_s, y_t = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X_s, y_s))
    members = [LogisticRegression(max_iter=500), SVC(), DecisionTreeClassifier(max_depth=2, random_state=0)]
    model, info = build_ensemble(members, X_s, y_s, splits, get_scorer("accuracy"), method, options,
                                 task="classification")
    assert info["method"] == method and len(info["member_oof_scores"]) == 3
    assert sum(info["weights"]) == pytest.approx(1.0, abs=1e-5) or method == "stacking"
    assert model.score(X_t, y_t) >= 0.85
    assert set(model.predict(X_t)) <= {0, 1, 2}
    assert hasattr(model, "predict_proba") == (method != "voting")  # hard voting has no probabilities


@pytest.mark.parametrize("method", ["greedy", "average", "stacking"])
def test_regression_methods_average_predictions(method: str) -> None:
    X, y = load_diabetes(return_X_y=True)
    X_s, X_t, y_s, y_t = train_test_split(X, y, test_size=0.3, random_state=0)
    splits = list(KFold(3, shuffle=True, random_state=0).split(X_s))
    members = [Ridge(alpha=0.1), KNeighborsRegressor(15), DecisionTreeRegressor(max_depth=3, random_state=0)]
    scorer = get_scorer("r2")
    model, info = build_ensemble(members, X_s, y_s, splits, scorer, method, {}, task="regression")
    assert model.predict(X_t).shape == y_t.shape and not hasattr(model, "predict_proba")
    worst = min(m.fit(X_s, y_s).score(X_t, y_t) for m in members)
    assert model.score(X_t, y_t) > worst
    assert info["oof_score"] >= max(info["member_oof_scores"]) - 0.05


def test_scoring_precomputed_probabilities_with_any_scorer() -> None:
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.45, 0.55]])
    for name, expected in [("accuracy", 0.75), ("roc_auc", 1.0)]:
        assert PredictionScorer(get_scorer(name), y, np.array([0, 1]))(proba) == pytest.approx(expected)
    assert PredictionScorer(get_scorer("neg_log_loss"), y, np.array([0, 1]))(proba) < 0


def test_distinct_top_and_bad_options() -> None:
    assert distinct_top([{"a": 1}, {"a": 1}, {"a": 2}, {"a": 3}], 2) == [0, 2]
    X, y = load_iris(return_X_y=True)
    with pytest.raises(SpecError, match="ensemble.options.rounds"):
        build_ensemble([SVC(), SVC()], X, y, [], get_scorer("accuracy"), "greedy", {"rounds": 0}, task="classification")
    with pytest.raises(ValueError, match="at least 2"):
        build_ensemble([SVC()], X, y, [], get_scorer("accuracy"), "voting", {}, task="classification")


def test_summary_lines_show_holdout_scores_side_by_side_and_step_errors() -> None:
    from raytuner.console.final import describe_final
    from raytuner.results.final import (EnsembleResult, FinalResults, RefitResult, SavedFiles, StepFailure,
                                        StepSkipped)

    final = FinalResults(
        refit=RefitResult(trial_id="t1", config={}, cv_score=0.9, holdout_score=0.9, fit_time_s=0.1, search_rows=100,
                          holdout_rows=50, saved=SavedFiles(path="/x/model")),
        ensemble=EnsembleResult(method="greedy", options={}, members=2, weights=[0.5, 0.5], oof_score=0.95, top_k=2,
                                member_trials=["t1", "t2"], holdout_score=0.92, best_single_holdout_score=0.9,
                                search_rows=100, holdout_rows=50),
    )
    lines = describe_final(final, "accuracy")
    assert "holdout accuracy (50 rows the search never saw): best model 0.9 | ensemble (greedy, 2 configs) 0.92" in lines
    failed = describe_final(FinalResults(ensemble=StepFailure("ValueError: an ensemble needs at least 2 distinct configs (got 1)")), "r2")
    assert failed == ["[red]ensemble failed[/red]: ValueError: an ensemble needs at least 2 distinct configs (got 1)"]
    assert describe_final(FinalResults(refit=StepSkipped("no trial finished with a score")), "r2") == [
        "refit: skipped (no trial finished with a score)"]
