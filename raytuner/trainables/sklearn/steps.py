"""scikit-learn fidelities: what one step of a trial is, so schedulers can stop or clone it.

``trainable.fidelity.kind``:

* ``folds`` (default): one report per cross-validation fold, the running mean
  (:func:`raytuner.trainables.sklearn.trainable.sklearn_trial`); ASHA can drop a config after
  2 of 5 folds. The checkpoint is the fold scores so far.
* ``epochs``: one ``partial_fit`` pass per step (``epochs_per_step``), for estimators
  that learn incrementally (SGDClassifier, MLPClassifier, Perceptron...).
* ``estimators``: ``warm_start`` growth: the ensemble grows by n_estimators/steps
  trees per step (``max_iter`` for HistGradientBoosting), scored after each.

``epochs`` and ``estimators`` score each step on every cv fold (k models, the mean
reported) or, with ``validation: holdout``, on the first fold only. Their checkpoint
is the fitted models: a restored trial (a PBT clone, a HyperBand resume, a retry)
continues training them, with the (possibly mutated) config applied by ``set_params``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from raytuner.errors import SpecError
from raytuner.spec.sklearn import SklearnTrainableSpec
from raytuner.trainables.sklearn.estimator import fold_arrays
from raytuner.trainables.sklearn.setup import FidelitySetup, SklearnSetup

DEFAULT_STEPS = {"epochs": 20, "estimators": 10, "rounds": 10}


def fidelity_steps(spec: SklearnTrainableSpec) -> int:
    """Reports per trial (the schedulers' max_t in steps)."""
    fidelity = spec.fidelity
    if fidelity.kind == "folds":
        return spec.cv.folds
    return fidelity.steps or DEFAULT_STEPS[fidelity.kind]


def growth_param(estimator: Any) -> str | None:
    """What warm_start grows: n_estimators of an ensemble, max_iter of HistGradientBoosting*."""
    params = estimator.get_params()
    if "warm_start" not in params:
        return None
    if "n_estimators" in params:
        return "n_estimators"
    if "max_iter" in params and type(estimator).__name__.startswith("HistGradientBoosting"):
        return "max_iter"  # boosting iterations (for SGD/MLP max_iter means epochs: use kind 'epochs')
    return None


def check_fidelity(spec: SklearnTrainableSpec, estimator: Any) -> None:
    """SpecError when the estimator cannot report per step the way the spec asks."""
    fidelity = spec.fidelity
    name = type(estimator).__name__
    if fidelity.kind == "folds":
        if fidelity.steps is not None and fidelity.steps != spec.cv.folds:
            raise SpecError.at("trainable.fidelity.steps", fidelity.steps,
                               f"unset or cv.folds ({spec.cv.folds}): with kind 'folds' a step is a fold")
        if fidelity.validation not in (None, "cv") or fidelity.epochs_per_step != 1:
            raise SpecError.at("trainable.fidelity", fidelity.model_dump(exclude_defaults=True),
                               "only kind (and steps) with kind 'folds'")
        return
    if fidelity.kind == "rounds":
        from raytuner.trainables.sklearn.boosting import check_rounds

        check_rounds(estimator, fidelity_steps(spec), fidelity.validation)
    if fidelity.kind in ("estimators", "rounds") and fidelity.epochs_per_step != 1:
        raise SpecError.at("trainable.fidelity.epochs_per_step", fidelity.epochs_per_step,
                           "unset: it applies to kind 'epochs' only")
    if fidelity.kind == "epochs" and not hasattr(estimator, "partial_fit"):
        raise SpecError.at(
            "trainable.fidelity.kind", "epochs",
            f"'folds' or 'estimators': {name} has no partial_fit (epochs need SGDClassifier, "
            "MLPClassifier, Perceptron... )",
        )
    if fidelity.kind == "estimators" and growth_param(estimator) is None:
        raise SpecError.at(
            "trainable.fidelity.kind", "estimators",
            f"'folds' or 'epochs': {name} cannot grow with warm_start (estimators need warm_start and "
            "n_estimators or max_iter: RandomForest*, ExtraTrees*, GradientBoosting*, HistGradientBoosting*)",
        )


def step_trial(setup: SklearnSetup) -> Callable[..., None] | None:
    """The trial function for a per-step fidelity, or None for folds (the default trial)."""
    from raytuner.trainables.sklearn.boosting import rounds_trial

    return {"epochs": epochs_trial, "estimators": growth_trial, "rounds": rounds_trial}.get(setup.fidelity.kind)


def fidelity_setup(spec: SklearnTrainableSpec) -> FidelitySetup:
    f = spec.fidelity
    validation = f.validation or ("holdout" if f.kind == "rounds" else "cv")
    return FidelitySetup(kind=f.kind, steps=fidelity_steps(spec), epochs_per_step=f.epochs_per_step, validation=validation)


# -- the trials ---------------------------------------------------------------


def _splits(setup: SklearnSetup, X: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    from raytuner.trainables.sklearn.estimator import make_splits

    splits = make_splits(setup.cv, X, y)
    return splits[:1] if setup.fidelity.validation == "holdout" else splits


def _start(setup: SklearnSetup, config: dict[str, Any], n_models: int) -> tuple[int, list[Any]]:
    """(steps done, models): restored from the checkpoint with the config applied, or fresh."""
    from sklearn.base import clone

    from raytuner.trainables.checkpointing import restore
    from raytuner.trainables.sklearn.estimator import build_estimator
    from raytuner.trainables.sklearn.names import estimator_params

    from raytuner.trainables.sklearn.estimator import bare_model, model_config

    restored = restore()
    if restored is None:
        template = bare_model(build_estimator(setup, config), setup)  # features come preprocessed (fold_arrays)
        return 0, [clone(template) for _ in range(n_models)]
    models = list(restored.state)
    params = estimator_params(model_config(config))
    for model in models:
        model.set_params(**params)
        _sync_optimizer(model)
    return restored.step, models


def _sync_optimizer(model: Any) -> None:
    """MLP keeps its optimizer across partial_fit calls: give it a mutated learning rate."""
    optimizer = getattr(model, "_optimizer", None)
    rate = model.get_params().get("learning_rate_init")
    if optimizer is not None and rate is not None and hasattr(optimizer, "learning_rate_init"):
        optimizer.learning_rate_init = rate
        optimizer.learning_rate = rate


def _report(setup: SklearnSetup, scores: list[float], step: int, models: list[Any], extra: dict[str, Any]) -> None:
    from raytuner.trainables.checkpointing import report_step

    metrics = {setup.metric: float(np.mean(scores)), "score_std": float(np.std(scores)), **extra}
    report_step(metrics, step=step, state=models)


def epochs_trial(config: dict[str, Any], *, setup: SklearnSetup, dataset: Any) -> None:
    """One partial_fit pass (or epochs_per_step) per step, on each validation split."""
    from sklearn.base import is_classifier
    from sklearn.metrics import get_scorer

    X, y = dataset.X, dataset.y
    scorer = get_scorer(setup.metric)
    splits = _splits(setup, X, y)
    step, models = _start(setup, config, len(splits))
    per_step = setup.fidelity.epochs_per_step
    extra_fit: dict[str, Any] = {"classes": np.unique(y)} if is_classifier(models[0]) else {}
    folds = fold_arrays(setup, config, X, y, splits)
    while step < setup.fidelity.steps:
        step += 1
        start = time.perf_counter()
        scores = []
        for model, (train, test), (X_train, X_test) in zip(models, splits, folds):
            for _ in range(per_step):
                model.partial_fit(X_train, y[train], **extra_fit)
            scores.append(float(scorer(model, X_test, y[test])))
        _report(setup, scores, step, models, {"epoch": step * per_step, "step_time_s": time.perf_counter() - start})


def growth_target(model: Any, param: str) -> int:
    value = model.get_params()[param]
    return int(value) if value is not None else 100


def growth_trial(config: dict[str, Any], *, setup: SklearnSetup, dataset: Any) -> None:
    """warm_start growth: after step i of n, each model has ceil(final * i / n) estimators."""
    import math

    from sklearn.metrics import get_scorer

    X, y = dataset.X, dataset.y
    scorer = get_scorer(setup.metric)
    splits = _splits(setup, X, y)
    step, models = _start(setup, config, len(splits))
    param = growth_param(models[0]) or "n_estimators"
    final = growth_target(build_config_estimator(setup, config), param)
    steps = setup.fidelity.steps
    folds = fold_arrays(setup, config, X, y, splits)
    while step < steps:
        step += 1
        size = max(1, math.ceil(final * step / steps))
        start = time.perf_counter()
        scores = []
        for model, (train, test), (X_train, X_test) in zip(models, splits, folds):
            model.set_params(**{param: max(size, _grown(model, param)), "warm_start": True})
            model.fit(X_train, y[train])
            scores.append(float(scorer(model, X_test, y[test])))
        _report(setup, scores, step, models, {param: size, "step_time_s": time.perf_counter() - start})


def build_config_estimator(setup: SklearnSetup, config: dict[str, Any]) -> Any:
    from raytuner.trainables.sklearn.estimator import bare_model, build_estimator

    return bare_model(build_estimator(setup, config), setup)


def _grown(model: Any, param: str) -> int:
    """Estimators a (restored) model already has: warm_start cannot shrink an ensemble."""
    if hasattr(model, "estimators_"):
        return len(model.estimators_)
    return int(getattr(model, "n_iter_", 0) or 0)
