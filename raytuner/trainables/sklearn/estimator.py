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
    if setup.choice_key is not None:  # the chosen family's estimator replaces trainable.estimator
        from raytuner.trainables.sklearn.families import split_config

        path, params = split_config(setup.choice_key, config)
        estimator = import_object(path, f"space.{setup.choice_key}.estimator")(**setup.fixed)
        defaults = estimator.get_params(deep=False)
        if defaults.get("random_state", 0) is None and setup.seed is not None:
            estimator.set_params(random_state=setup.seed)
        if "n_jobs" in defaults and defaults["n_jobs"] is None and setup.n_jobs is not None:
            estimator.set_params(n_jobs=setup.n_jobs)
        return estimator.set_params(**estimator_params(params))
    cls = import_object(setup.estimator, "trainable.estimator")
    estimator = cls(**setup.fixed)
    return estimator.set_params(**estimator_params(config))
