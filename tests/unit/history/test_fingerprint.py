"""Fingerprints: meta-features of a dataset, space signatures, and a distance that ranks a
perturbed or subsampled copy of a dataset above an unrelated one."""

from __future__ import annotations

import math

import numpy as np
import sklearn.datasets as ds

from raytuner.results.history.fingerprint import dataset_meta, distance, fingerprint, space_signature
from raytuner.spec.params import parse_space

FAMILY = "sklearn.ensemble.RandomForestClassifier"
SPACE = parse_space({"n_estimators": {"type": "int", "low": 10, "high": 50}, "max_depth": {"type": "choice", "values": [3, 8]},
                     "n_jobs": 1})


def fp(X, y, space=SPACE, family=FAMILY):  # type: ignore[no-untyped-def]
    return fingerprint(family, dataset_meta(X, y), space)


def test_meta_features_of_a_dataset() -> None:
    X, y = ds.load_iris(return_X_y=True)
    X = X.copy()
    X[:15, 0] = np.nan
    meta = dataset_meta(X, y)
    assert (meta["task"], meta["rows"], meta["features"], meta["classes"]) == ("classification", 150, 4, 3)
    assert math.isclose(meta["class_balance"], 1.0)  # 50 / 50 / 50
    assert math.isclose(meta["missing_share"], 15 / 600)
    assert meta["categorical_share"] == 0.0
    assert 0.5 < meta["stump"] < 0.8 and meta["nn1"] > 0.85


def test_space_signature_leaves_fixed_out() -> None:
    assert space_signature(SPACE) == {"n_estimators": "int", "max_depth": "choice"}


def test_regression_landmarkers() -> None:
    X, y = ds.load_diabetes(return_X_y=True)
    meta = dataset_meta(X, y)
    assert meta["task"] == "regression" and meta["classes"] == 0
    assert 0.0 <= meta["stump"] <= 1.0


def test_perturbed_and_subsampled_copies_rank_above_unrelated() -> None:
    rng = np.random.default_rng(0)
    X, y = ds.load_digits(return_X_y=True)
    base = fp(X, y)
    noisy = fp(X + rng.normal(0, 0.5, X.shape), y)
    half = rng.choice(len(y), len(y) // 2, replace=False)
    subsample = fp(X[half], y[half])
    unrelated = [fp(*ds.load_wine(return_X_y=True)), fp(*ds.load_breast_cancer(return_X_y=True)),
                 fp(*ds.load_iris(return_X_y=True))]
    nearest_unrelated = min(distance(base, u) for u in unrelated)
    assert distance(base, noisy) < nearest_unrelated
    assert distance(base, subsample) < nearest_unrelated
    assert distance(base, base) == 0.0


def test_other_family_is_never_similar() -> None:
    X, y = ds.load_iris(return_X_y=True)
    assert distance(fp(X, y), fp(X, y, family="sklearn.svm.SVC")) == math.inf


def test_space_difference_adds_distance() -> None:
    X, y = ds.load_iris(return_X_y=True)
    other = parse_space({"min_samples_leaf": {"type": "int", "low": 1, "high": 9}})
    assert distance(fp(X, y), fp(X, y, space=other)) > distance(fp(X, y), fp(X, y))
