"""Preflight of the scikit-learn trainable: what would fail in every trial, found in the driver.

Cheap checks (the plan runs them, ``SklearnTrainable.preflight``): the metric fits the
task, and every value the space can give (choice and grid values, fixed values, both
ends of a range) and every fixed constructor argument satisfies the estimator's own
``_parameter_constraints`` (scikit-learn's declared validation; no fit needed).

The data checks and the sample fit (``SklearnTrainable.sample_fit``, run by
raytuner.runner.preflight beside Ray's start-up): the target fits the task, no missing
values the estimator cannot take, enough rows for the folds, then one fold fitted and
scored on a small sample with a sampled config, built by the trial's own code.
"""

from __future__ import annotations

import re
import time
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from raytuner.errors import SpecError
from raytuner.spec.params import ChoiceParam, FixedParam, FloatParam, GridParam, IntParam, Space, iter_params
from raytuner.trainables.base import SampleFit
from raytuner.trainables.data import take_rows

SAMPLE_ROWS = 200

# scikit-learn scorers by the module of their score function: which task they measure
SCORER_TASKS = {
    "sklearn.metrics._classification": "classification",
    "sklearn.metrics._ranking": "classification",
    "sklearn.metrics.cluster._supervised": "classification",
    "sklearn.metrics._regression": "regression",
}
LIKELIHOOD_SCORERS = {"positive_likelihood_ratio", "neg_negative_likelihood_ratio"}  # classification


def scorer_task(name: str) -> str | None:
    """'classification' / 'regression' for a scikit-learn scorer name, None when unknown."""
    from sklearn.metrics import get_scorer

    if name in LIKELIHOOD_SCORERS:
        return "classification"
    func = getattr(get_scorer(name), "_score_func", None)
    return SCORER_TASKS.get(getattr(func, "__module__", ""))


def estimator_task(estimator: Any, data_task: str | None) -> str | None:
    from sklearn.base import is_classifier, is_regressor

    if data_task is not None:
        return data_task
    if is_classifier(estimator):
        return "classification"
    return "regression" if is_regressor(estimator) else None


def check_metric(metric: str, estimator: Any, data_task: str | None) -> None:
    """``accuracy`` on a regressor (or ``r2`` on a classifier) is a SpecError listing the task's metrics."""
    from sklearn.metrics import get_scorer_names

    task = estimator_task(estimator, data_task)
    if task is None or metric not in get_scorer_names():
        return
    kind = scorer_task(metric)
    if kind is None or kind == task:
        return
    valid = [name for name in get_scorer_names() if scorer_task(name) == task]
    raise SpecError.at(
        "metric.name", metric,
        f"a {task} metric for {type(estimator).__name__} ({metric!r} measures {kind}): {', '.join(valid)}",
    )


# -- values against the estimator's own constraints -----------------------------------

def _allowed(exc: Exception) -> str:
    """scikit-learn's 'The 'p' parameter of C must be X. Got v instead.' -> 'X'."""
    found = re.match(r"The '.*?' parameter of \S+ must be (.*)\. Got .* instead\.\s*$", str(exc), re.S)
    return found.group(1) if found else str(exc)


def _owner(template: Any, name: str) -> tuple[Any, str] | None:
    """(the estimator that owns a ``step__param`` name, the param's own name), or None."""
    from sklearn.base import BaseEstimator

    head, sep, param = name.rpartition("__")
    owner = template.get_params(deep=True).get(head) if sep else template
    if not isinstance(owner, BaseEstimator):
        return None
    return owner, param


def value_problem(templates: list[Any], name: str, value: Any) -> str | None:
    """What the owner estimator accepts for ``name``, when ``value`` is not it; else None."""
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

    if isinstance(value, dict):
        return None  # a nested config: checked by its own names
    for template in templates:
        found = _owner(template, name)
        if found is None:
            continue
        owner, param = found
        constraints = getattr(type(owner), "_parameter_constraints", {}).get(param)
        if constraints is None:
            continue
        cls = type(owner).__name__
        try:
            validate_parameter_constraints({param: constraints}, {param: value}, caller_name=cls)
        except InvalidParameterError as exc:
            return f"a value {cls} accepts for {param}: {_allowed(exc)}"
    return None


def _candidates(node: Any) -> Iterator[tuple[str, Any]]:
    """(field suffix, value) of the values a space node can give that decide validity."""
    if isinstance(node, (ChoiceParam, GridParam)):
        yield from (("", v) for v in node.values)
    elif isinstance(node, FixedParam):
        yield "", node.value
    elif isinstance(node, (FloatParam, IntParam)):
        yield ".low", node.low
        yield ".high", node.high


def templates(estimator: Any, steps: list[Any], params: dict[str, Any], space: Space) -> list[Any]:
    """The estimators whose constraints the values must meet: the estimator, or for a
    pipeline one per option each step may take (the space's choices of it)."""
    if not steps:
        return [estimator]
    from raytuner.trainables.sklearn.pipeline import build_pipeline, pipeline_setup

    setup = pipeline_setup(steps, None, None)
    out = [build_pipeline(setup, params, {})]
    for step in steps:
        node = space.get(step.name)
        if isinstance(node, (ChoiceParam, GridParam, FixedParam)):
            out.extend(build_pipeline(setup, params, {step.name: value}) for _, value in _candidates(node))
    return out


def check_values(templates: list[Any], space: Space, params: dict[str, Any], step_names: set[str],
                 prefix: str = "space") -> None:
    """Every value of the space and every fixed argument against the estimators' constraints
    (``prefix``: where the space is in the spec; a family's sub-space of a choice of estimators)."""
    for name, value in params.items():
        problem = value_problem(templates, name, value)
        if problem:
            raise SpecError.at(f"trainable.params.{name}", value, problem)
    for path, node in iter_params(space):
        if len(path) == 1 and path[0] in step_names:
            continue  # a pipeline step's choice of option: checked with the pipeline
        name, field = "__".join(path), f"{prefix}." + ".".join(path)
        for suffix, value in _candidates(node):
            problem = value_problem(templates, name, value)
            if problem is None:
                continue
            if isinstance(node, FloatParam) and float(value).is_integer() and value_problem(templates, name, int(value)) is None:
                raise SpecError.at(
                    field, node.model_dump(exclude_none=True),
                    f"an int range ({{type: int, low: {int(node.low)}, high: {int(node.high)}}}): {problem}",
                )
            raise SpecError.at(field + suffix, value, problem)


# -- the data and the sample fit ------------------------------------------------------

def _column_names(dataset: Any, columns: np.ndarray) -> str:
    names = [dataset.feature_names[j] for j in columns[:10]]
    more = f" and {len(columns) - 10} more" if len(columns) > 10 else ""
    return ", ".join(names) + more


def check_dataset(dataset: Any, estimator: Any, task: str | None, folds: int, target: str | None,
                  preprocessed: bool = False) -> None:
    """The loaded data against the estimator: rows for the folds, the target's kind, missing values."""
    from sklearn.utils.multiclass import type_of_target

    field = "trainable.data.target" if target else "trainable.data.source"
    name = type(estimator).__name__
    if len(dataset.y) < folds:
        raise SpecError.at("trainable.cv.folds", folds, f"at most the {len(dataset.y)} rows of {dataset.source}")
    y = dataset.y
    if _has_missing(y):
        raise SpecError.at(field, target or dataset.source, "a target with a value in every row (drop the rows without one)")
    kind = type_of_target(y)
    if task == "classification" and kind.startswith("continuous"):
        raise SpecError.at(field, target or dataset.source,
                           f"a column of class labels for the classifier {name} (it holds continuous numbers); "
                           "use a regressor, or set trainable.data.task: regression")
    if task == "regression" and y.dtype.kind not in "biuf":
        raise SpecError.at(field, target or dataset.source,
                           f"a numeric column for the regressor {name} (it holds {y.dtype} values such as {y[0]!r}); "
                           "use a classifier, or another target")
    if preprocessed:  # raw file columns: the pipeline's preprocessing imputes where the model needs it
        return
    holes = dataset.X.isna().to_numpy() if hasattr(dataset.X, "isna") else np.isnan(dataset.X)
    missing = np.flatnonzero(holes.any(axis=0))
    from raytuner.trainables.sklearn.preprocess import takes_nan

    if missing.size and not takes_nan(estimator, unknown=True):  # no tags: let the sample fit tell
        rows = int(holes.any(axis=1).sum())
        raise SpecError.at(
            "trainable.data.source", dataset.source,
            f"no missing values in the columns {name} is given: {_column_names(dataset, missing)} hold missing values "
            f"({rows} rows) and {name} cannot take them; add an imputer as the first pipeline step "
            "(trainable.pipeline: [{name: impute, estimator: sklearn.impute.SimpleImputer}, "
            f"{{name: model, estimator: {type(estimator).__module__.split('._')[0]}.{name}}}]), "
            "or use an estimator that takes missing values (e.g. HistGradientBoostingClassifier/Regressor)"
            + ("; or leave trainable.preprocess on (it imputes inside the pipeline)" if hasattr(dataset.X, "isna") else ""),
        )


def _has_missing(values: np.ndarray) -> bool:
    import pandas as pd

    return bool(pd.isna(values).any())


def sample_rows(y: np.ndarray, rows: int, folds: int, stratified: bool, seed: int | None) -> np.ndarray:
    """About ``rows`` row indices, every class kept (at least ``folds`` rows of each it has)."""
    n = len(y)
    if n <= rows:
        return np.arange(n)
    rng = np.random.default_rng(seed or 0)
    if not stratified:
        return np.sort(rng.permutation(n)[:rows])
    picked = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        picked.append(members[: max(min(len(members), folds), round(rows * len(members) / n))])
    return np.sort(np.concatenate(picked))


def _fit(estimator: Any, X: np.ndarray, y: np.ndarray) -> Any:
    return estimator.fit(X, y)


def _partial_fit(estimator: Any, X: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.base import is_classifier

    extra = {"classes": np.unique(y)} if is_classifier(estimator) else {}
    return estimator.partial_fit(X, y, **extra)


def _fit_rounds(estimator: Any, X: np.ndarray, y: np.ndarray) -> Any:
    from raytuner.trainables.sklearn.boosting import sample_fit

    return sample_fit(estimator, X, y)


FIT_STEP: dict[str, Callable[[Any, np.ndarray, np.ndarray], Any]] = {
    "folds": _fit, "estimators": _fit, "epochs": _partial_fit, "rounds": _fit_rounds,
}


def _fit_one_fold(setup: Any, X: np.ndarray, y: np.ndarray, config: dict[str, Any]) -> float:
    """Build the trial's estimator, fit it on the first fold's training rows, score the test rows."""
    from sklearn.metrics import get_scorer
    from threadpoolctl import threadpool_limits

    from raytuner.trainables.sklearn.estimator import bare_model, build_estimator, fold_arrays, make_splits

    # one thread, as a one-CPU trial on Ray (OpenMP spinning on a busy driver costs seconds);
    # the trial's warnings (convergence on a small sample, deprecations) are not the user's
    # business here (catch_warnings is process-wide: harmless for this short block)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        estimator = build_estimator(setup, config)
        train, test = make_splits(setup.cv, X, y)[0]
        X_train, X_test = take_rows(X, train), take_rows(X, test)
        if setup.fidelity.kind != "folds":  # the model steps on preprocessed features, as in its trial
            [(X_train, X_test)] = fold_arrays(setup, config, X, y, [(train, test)])
            estimator = bare_model(estimator, setup)
        FIT_STEP[setup.fidelity.kind](estimator, X_train, y[train])
        try:
            return float(get_scorer(setup.metric)(estimator, X_test, y[test]))
        except Exception as exc:
            raise _ScoringFailed(exc) from exc


class _ScoringFailed(Exception):
    """The fit worked; the metric could not score it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:600]


def fit_sample(setup: Any, dataset: Any, config: dict[str, Any]) -> SampleFit:
    """Fit and score the first fold of a small sample with the trial's estimator and splits.

    A config that fails on the sample is tried on all the rows before it is refused (a
    sample can be too small for it, e.g. n_neighbors above the sample's rows)."""
    start = time.perf_counter()
    rows = sample_rows(dataset.y, SAMPLE_ROWS, setup.cv.folds, setup.cv.stratified, setup.cv.seed)
    try:
        try:
            score = _fit_one_fold(setup, take_rows(dataset.X, rows), dataset.y[rows], config)
        except SpecError:
            raise
        except Exception:
            if len(rows) == len(dataset.y):
                raise
            rows = np.arange(len(dataset.y))
            score = _fit_one_fold(setup, dataset.X, dataset.y, config)
    except SpecError:
        raise
    except _ScoringFailed as exc:
        raise SpecError.at(
            "metric.name", setup.metric,
            f"a metric that can score this model on {dataset.source}: scoring one fold failed with "
            f"{_describe(exc.error)} (config {config})",
        ) from None
    except Exception as exc:
        raise SpecError.at(
            "space", config,
            f"a config the estimator can fit: one fold of {len(rows)} rows of {dataset.source} "
            f"failed with {_describe(exc)}; change the space (or the data) so every config can be fitted",
        ) from None
    return SampleFit(config=config, rows=len(rows), score=score, seconds=time.perf_counter() - start)
