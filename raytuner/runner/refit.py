"""The refit step: the best config refit on every search row, scored on the holdout, saved.

Also the scikit-learn parts every final step shares (:func:`sklearn_parts`): the data
split exactly as the trials saw it, the same CV splits, the estimator builder, the scorer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from raytuner.results.final import RefitResult, StepSkipped
from raytuner.trainables.data import Dataset
from raytuner.trainables.sklearn.setup import SklearnSetup


@dataclass
class SklearnParts:
    setup: SklearnSetup
    search: Dataset
    holdout: Dataset | None
    splits: list[tuple[np.ndarray, np.ndarray]]
    scorer: Callable[..., float]
    task: str

    def estimator(self, config: dict[str, Any], last: dict[str, Any] | None = None) -> Any:
        """The trial's estimator for a fit on every search row (``last``: the trial's last report)."""
        from raytuner.trainables.sklearn.estimator import build_estimator

        estimator = build_estimator(self.setup, config)
        if self.setup.fidelity.kind == "rounds":  # no validation split: boosting rounds as the trial's early stopping chose
            from raytuner.trainables.sklearn.boosting import final_estimator

            return final_estimator(estimator, last)
        return estimator


def sklearn_parts(ctx: Any) -> SklearnParts:
    if "sklearn" not in ctx.cache:
        from sklearn.base import is_classifier
        from sklearn.metrics import get_scorer

        from raytuner.trainables.holdout import split_data
        from raytuner.trainables.sklearn.estimator import make_splits

        trainable = ctx.plan.trainable
        setup = trainable.setup()
        template = trainable.estimator_class()(**trainable.spec.params)
        search, holdout = split_data(trainable.spec.data, template, raw=getattr(trainable, "raw_data", False))
        ctx.cache["sklearn"] = SklearnParts(
            setup=setup, search=search, holdout=holdout, splits=make_splits(setup.cv, search.X, search.y),
            scorer=get_scorer(ctx.spec.metric.name),
            task="classification" if is_classifier(template) else "regression",
        )
    return ctx.cache["sklearn"]


def is_sklearn_spec_run(plan: Any) -> bool:
    return plan.trainable.sklearn_model and getattr(plan.trainable, "inputs", None) is None


def model_meta(ctx: Any, parts: SklearnParts, kind: str, **extra: Any) -> dict[str, Any]:
    spec = ctx.spec
    classes = np.unique(parts.search.y).tolist() if parts.task == "classification" else None
    return {
        "kind": kind, "experiment": spec.name, "experiment_path": ctx.experiment_path,
        "metric": spec.metric.name, "mode": ctx.plan.mode, "task": parts.task,
        "data_source": spec.trainable.data.source, "target": spec.trainable.data.target,
        "feature_names": list(parts.search.feature_names), "classes": classes,
        "search_rows": len(parts.search.y), "dropped_target_rows": parts.search.dropped_target_rows,
        # "columns": the model is the whole pipeline and takes the file's raw columns; "encoded": a float matrix
        "input": "columns" if hasattr(parts.search.X, "iloc") else "encoded", "holdout_rows": None if parts.holdout is None else len(parts.holdout.y),
        **extra,
    }


class RefitStep:
    @staticmethod
    def check(spec: Any, inputs: Any) -> None:
        """Nothing beyond the spec's own validation."""

    @staticmethod
    def applies(plan: Any) -> bool:
        spec = plan.spec
        if not is_sklearn_spec_run(plan):  # only sklearn data has a holdout
            return False
        return spec.refit.enabled or spec.ensemble is not None or spec.trainable.data.holdout is not None

    def run(self, ctx: Any) -> RefitResult | StepSkipped:
        from raytuner.results.export import MODEL_DIR

        ranked = ctx.ranked()
        if not ranked:
            return StepSkipped("no trial finished with a score")
        best = ranked[0]
        parts = sklearn_parts(ctx)
        start = time.perf_counter()
        model = parts.estimator(best.config, best.metrics).fit(parts.search.X, parts.search.y)
        fit_time = time.perf_counter() - start
        ctx.cache["best_model"] = model
        holdout_score = None
        if parts.holdout is not None:
            holdout_score = float(parts.scorer(model, parts.holdout.X, parts.holdout.y))
        out = RefitResult(
            trial_id=best.trial_id, config=best.config, cv_score=best.score,
            holdout_score=holdout_score, fit_time_s=round(fit_time, 3),
            search_rows=len(parts.search.y),
            holdout_rows=None if parts.holdout is None else len(parts.holdout.y),
        )
        if ctx.spec.refit.enabled:  # local or remote storage (uploaded)
            out = replace(out, saved=ctx.save_model(MODEL_DIR, model, model_meta(ctx, parts, "best", **out.model_data())))
        return out
