"""Building one trial's estimator and its CV splits from the trial set-up."""

from __future__ import annotations

from typing import Any

import numpy as np

from raytuner.spec.registry import import_object
from raytuner.trainables.sklearn.names import estimator_params
from raytuner.trainables.sklearn.setup import CVSetup, SklearnSetup


def make_splits(cv: CVSetup, X: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    kwargs: dict[str, Any] = {"n_splits": cv.folds, "shuffle": cv.shuffle}
    if cv.shuffle:
        kwargs["random_state"] = cv.seed
    splitter = StratifiedKFold(**kwargs) if cv.stratified else KFold(**kwargs)
    return list(splitter.split(X, y))


def build_estimator(setup: SklearnSetup, config: dict[str, Any]) -> Any:
    if setup.pipeline is not None:
        from raytuner.trainables.sklearn.pipeline import build_pipeline

        return build_pipeline(setup.pipeline, setup.fixed, config)
    cls = import_object(setup.estimator, "trainable.estimator")
    estimator = cls(**setup.fixed)
    return estimator.set_params(**estimator_params(config))
