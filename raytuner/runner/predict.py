"""Saved models back (``raytuner.load_model``) and their predictions for a table of new rows
(``raytuner predict``): scikit-learn models (refit, ensemble) and exported torch checkpoints."""

from __future__ import annotations

from typing import Any

import numpy as np

from raytuner.errors import RaytunerError
from pathlib import Path

from raytuner.results.export import SavedModel, load_model as _load_saved


def _torch_model(directory: Path, meta: dict[str, Any]) -> Any:
    from raytuner.trainables.torch.adapter import require_torch

    require_torch()  # DependencyError naming the extra
    from raytuner.trainables.torch.export import load_torch_model

    return load_torch_model(directory, meta)


# model.json's "framework" -> its loader (scikit-learn models are joblib/skops files: no entry)
MODEL_LOADERS = {"torch": _torch_model}


def load_model(path: str | Path, fmt: str | None = None, *, ensemble: bool = False,
               endpoint: str | None = None) -> SavedModel:
    """A saved model of any trainable (``SavedModel``: model, meta, path): see results.export.load_model."""
    return _load_saved(path, fmt, ensemble, endpoint=endpoint, loaders=MODEL_LOADERS)


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
    own = getattr(saved.model, "score_table", None)  # a model scoring the trials' own metrics (torch)
    if target is not None and target in frame.columns and meta.get("metric") and own is not None:
        score = own(X, np.asarray(frame[target]), meta["metric"])
    elif target is not None and target in frame.columns and meta.get("metric"):
        from sklearn.metrics import get_scorer, get_scorer_names

        if meta["metric"] in get_scorer_names():
            score = float(get_scorer(meta["metric"])(saved.model, X, np.asarray(frame[target])))
    return out, score
