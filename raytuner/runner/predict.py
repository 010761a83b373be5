"""Predictions from a saved model for a table of new rows (``raytuner predict``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from raytuner.errors import RaytunerError
from raytuner.results.export import SavedModel


def predict_table(saved: SavedModel, frame: Any, proba: bool = False) -> tuple[Any, float | None]:
    """Predictions for a table with the training columns; (DataFrame, score when the target is present)."""
    import pandas as pd

    from raytuner.trainables.holdout import features_from_frame, raw_features

    meta = saved.meta
    target = meta.get("target")
    if meta.get("input") == "columns":  # the saved pipeline preprocesses the raw columns itself
        X = raw_features(frame, list(meta["feature_names"]), field="--data")
    else:
        X = features_from_frame(frame, list(meta["feature_names"]), target, field="--data")
    out = pd.DataFrame({"prediction": saved.model.predict(X)})
    if proba:
        if not hasattr(saved.model, "predict_proba"):
            raise RaytunerError("this model has no predict_proba (a regressor, or hard voting)")
        probs = saved.model.predict_proba(X)
        for j, label in enumerate(getattr(saved.model, "classes_", range(probs.shape[1]))):
            out[f"proba_{label}"] = probs[:, j]
    score = None
    if target is not None and target in frame.columns and meta.get("metric"):
        from sklearn.metrics import get_scorer, get_scorer_names

        if meta["metric"] in get_scorer_names():
            score = float(get_scorer(meta["metric"])(saved.model, X, np.asarray(frame[target])))
    return out, score
