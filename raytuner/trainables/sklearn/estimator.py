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
    """One trial's estimator; with raw file columns, ``Pipeline([("preprocess", ...), ("model", ...)])``."""
    if setup.preprocess is None:
        return build_model(setup, config)
    from raytuner.trainables.sklearn.preprocess import PREPROCESS_KEY, with_preprocessing

    rest = {k: v for k, v in config.items() if k != PREPROCESS_KEY}
    return with_preprocessing(setup.preprocess.plan, setup.preprocess.options, build_model(setup, rest),
                              config.get(PREPROCESS_KEY))


def model_config(config: dict[str, Any]) -> dict[str, Any]:
    """A trial's config without its preprocessing values (what the model itself takes)."""
    from raytuner.trainables.sklearn.preprocess import PREPROCESS_KEY

    return {k: v for k, v in config.items() if k != PREPROCESS_KEY}


def build_model(setup: SklearnSetup, config: dict[str, Any]) -> Any:
    """The model alone (estimator, chosen family or pipeline) for a config without preprocessing values."""
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


def fold_arrays(setup: SklearnSetup, config: dict[str, Any], X: Any, y: np.ndarray,
                splits: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[Any, Any]]:
    """Per split, (train features, test features) for models that step on their own (partial_fit,
    warm_start): the preprocessing is fitted on the split's training rows and applied to both."""
    from sklearn.base import clone

    from raytuner.trainables.data import take_rows

    if setup.preprocess is None:
        return [(take_rows(X, train), take_rows(X, test)) for train, test in splits]
    step = build_estimator(setup, config).steps[0][1]
    out = []
    for train, test in splits:
        fitted = clone(step).fit(take_rows(X, train), y[train])
        out.append((fitted.transform(take_rows(X, train)), fitted.transform(take_rows(X, test))))
    return out


def bare_model(estimator: Any, setup: SklearnSetup) -> Any:
    """The model of a preprocessed pipeline (with the parameters preprocessing set on it), else itself."""
    return estimator.steps[-1][1] if setup.preprocess is not None else estimator
