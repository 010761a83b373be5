"""The k-fold CV of one scikit-learn trial, as reports: one per fold, the running mean score.

Both ways a trial runs use :func:`fold_reports`: the Ray Tune trial
(``trainables.sklearn.trainable.sklearn_trial``, which checkpoints the scores so far) and
the batched path's evaluator (:class:`FoldsEvaluator`, run on a warm actor by
``trainables.batch``), so the two report the same metrics on the same splits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from raytuner.trainables.data import Dataset, take_rows
from raytuner.trainables.sklearn.estimator import build_estimator, make_splits
from raytuner.trainables.sklearn.setup import SklearnSetup


def fold_reports(setup: SklearnSetup, dataset: Dataset, config: dict[str, Any],
                 done: Sequence[float] = ()) -> Iterator[tuple[int, dict[str, Any], list[float]]]:
    """(fold, its report, the scores so far) for every fold after the ``done`` ones."""
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    metric_name = setup.metric
    scorer = get_scorer(metric_name)
    template = build_estimator(setup, config)
    scores = list(done)
    X, y = dataset.X, dataset.y
    for fold, (train, test) in enumerate(make_splits(setup.cv, X, y), start=1):
        if fold <= len(done):
            continue  # done before a pause or retry
        start = time.perf_counter()
        estimator = clone(template).fit(take_rows(X, train), y[train])
        score = float(scorer(estimator, take_rows(X, test), y[test]))
        scores.append(score)
        yield fold, {
            metric_name: float(np.mean(scores)),
            "fold": fold,
            "fold_score": score,
            "score_std": float(np.std(scores)),
            "fold_time_s": time.perf_counter() - start,
        }, list(scores)


@dataclass(frozen=True)
class FoldsEvaluator:
    """A batched run's scikit-learn trial (``execution.batch``): ``self(config)`` yields the
    reports the Tune trial makes (``step`` included). ``data``: the search rows as an ObjectRef,
    put in the object store once per run and read once per actor (``trainables.batch.shared``)."""

    setup: SklearnSetup
    data: Any  # an ObjectRef of the Dataset (or the Dataset itself, outside Ray)

    def __call__(self, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from raytuner.trainables.batch import shared
        from raytuner.trainables.checkpointing import STEP_KEY

        for fold, report, _ in fold_reports(self.setup, shared(self.data), config):
            yield {**report, STEP_KEY: fold}
