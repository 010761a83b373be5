"""Ensembles of the top configurations: out-of-fold predictions, selection, refit.

The members' out-of-fold (OOF) predictions come from the same CV splits the search
used, on the search rows only; the method (greedy selection, voting, stacking) is fitted
on those OOF predictions; the members are then refit on all search rows. Nothing here
sees a holdout row: the caller scores the result on the holdout afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


def map_tasks(fn: Callable[..., Any], items: list[tuple[Any, ...]], num_cpus: float = 1.0) -> list[Any]:
    """``[fn(*item) for item in items]``, as Ray tasks when Ray is up (in the runner), else in turn."""
    import ray

    if not ray.is_initialized() or len(items) < 2:
        return [fn(*item) for item in items]
    remote = ray.remote(num_cpus=num_cpus, max_retries=0)(fn)
    shared: dict[int, Any] = {}

    def put(value: Any) -> Any:  # large arrays once into the object store, shared by every task
        if isinstance(value, np.ndarray) and value.nbytes > 100_000:
            if id(value) not in shared:
                shared[id(value)] = ray.put(value)
            return shared[id(value)]
        return value

    return ray.get([remote.remote(*(put(v) for v in item)) for item in items])


def member_oof_and_fit(estimator: Any, X: Any, y: Any, splits: list[tuple[np.ndarray, np.ndarray]], classes: Any) -> tuple[np.ndarray, Any]:
    """One member: OOF outputs on the search rows (by the search's splits), then a refit on all of them."""
    from sklearn.base import clone

    from raytuner.ensemble.model import member_outputs

    n = len(y)
    oof: np.ndarray | None = None
    for train, test in splits:
        fold = clone(estimator).fit(_rows(X, train), y[train])
        out = member_outputs(fold, _rows(X, test), classes)
        if oof is None:
            oof = np.full((n,) + out.shape[1:], np.nan)
        oof[test] = out
    fitted = clone(estimator).fit(X, y)
    return oof, fitted  # type: ignore[return-value]


def _rows(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


class PredictionScorer:
    """Scores precomputed predictions with any scikit-learn scorer (accuracy, roc_auc, log loss...)."""

    def __init__(self, scorer: Callable[..., float], y: np.ndarray, classes: np.ndarray | None) -> None:
        self.scorer, self.y, self.classes = scorer, y, classes
        self.index = np.arange(len(y)).reshape(-1, 1)

    def __call__(self, outputs: np.ndarray, rows: np.ndarray | None = None) -> float:
        from raytuner.ensemble.fixed import fixed_model

        rows = np.flatnonzero(~np.isnan(outputs.reshape(len(outputs), -1)).any(axis=1)) if rows is None else rows
        model = fixed_model(outputs, self.classes)
        return float(self.scorer(model, self.index[rows], self.y[rows]))


@dataclass
class Selection:
    """What a method decided from the OOF predictions."""

    weights: list[float]
    oof_score: float
    details: dict[str, Any] = field(default_factory=dict)


def distinct_top(configs: list[dict[str, Any]], k: int) -> list[int]:
    """Indices of the first k distinct configs (configs are best first)."""
    import json

    seen: set[str] = set()
    keep = []
    for i, config in enumerate(configs):
        key = json.dumps(config, sort_keys=True, default=repr)
        if key not in seen:
            seen.add(key)
            keep.append(i)
        if len(keep) == k:
            break
    return keep
