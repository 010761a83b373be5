"""Task fingerprints: meta-features of a dataset and a signature of the search space, and a
distance between two fingerprints to rank past experiments for warm starts.

Dataset meta-features: rows, features, classes, class balance (normalised entropy), share of
categorical-looking and of missing values, and two landmarkers: the 3-fold CV score of a
decision stump and of 1-nearest-neighbour on a sample of at most 500 rows (accuracy for
classification, R² clipped to [0, 1] for regression). Space signature: each tuned
parameter's name and kind, and the estimator (model) family. Fingerprints are plain dicts
(JSON in the store); experiments of different families are never similar.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from raytuner.spec.params import Space, iter_params

SAMPLE_ROWS = 500
# weight of each normalised meta-feature in the distance
WEIGHTS: dict[str, float] = {
    "log_rows": 1.0, "log_features": 1.5, "log_classes": 1.5, "class_balance": 1.0,
    "categorical_share": 1.0, "missing_share": 1.0, "stump": 2.0, "nn1": 2.0,
}
SPACE_WEIGHT = 0.5


def dataset_meta(X: Any, y: Any, task: str | None = None, seed: int | None = 0) -> dict[str, Any]:
    """The meta-features of (X, y); ``task`` "classification"/"regression" (guessed when None)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    rows, features = X.shape if X.ndim == 2 else (len(X), 1)
    task = task or _guess_task(y)
    meta: dict[str, Any] = {"task": task, "rows": int(rows), "features": int(features)}
    if task == "classification":
        _, counts = np.unique(y, return_counts=True)
        share = counts / counts.sum()
        meta["classes"] = int(len(counts))
        meta["class_balance"] = float(-(share * np.log(share)).sum() / math.log(len(counts))) if len(counts) > 1 else 1.0
    else:
        meta["classes"] = 0
        meta["class_balance"] = 1.0
    meta["missing_share"] = float(np.isnan(X).mean()) if X.size else 0.0
    meta["categorical_share"] = _categorical_share(X)
    meta.update(landmarkers(X, y, task, seed))
    return meta


def _guess_task(y: np.ndarray) -> str:
    if y.dtype.kind in "OUSb":
        return "classification"
    values = np.unique(y[~np.isnan(y)] if y.dtype.kind == "f" else y)
    integral = y.dtype.kind in "iu" or bool(np.all(np.mod(values, 1) == 0))
    return "classification" if integral and len(values) <= max(20, int(0.05 * len(y))) else "regression"


def _categorical_share(X: np.ndarray) -> float:
    """Share of columns that look categorical: integral values with at most 10 distinct ones."""
    if X.ndim != 2 or X.shape[1] == 0:
        return 0.0
    count = 0
    for column in X.T:
        values = np.unique(column[~np.isnan(column)])
        if len(values) <= 10 and bool(np.all(np.mod(values, 1) == 0)):
            count += 1
    return count / X.shape[1]


def landmarkers(X: np.ndarray, y: np.ndarray, task: str, seed: int | None = 0) -> dict[str, float | None]:
    """CV scores of a decision stump and of 1-NN on at most ``SAMPLE_ROWS`` rows (None if they cannot run)."""
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rng = np.random.default_rng(seed or 0)
    if len(y) > SAMPLE_ROWS:
        index = rng.choice(len(y), SAMPLE_ROWS, replace=False)
        X, y = X[index], y[index]
    classify = task == "classification"
    models = {
        "stump": DecisionTreeClassifier(max_depth=1, random_state=0) if classify else DecisionTreeRegressor(max_depth=1, random_state=0),
        "nn1": KNeighborsClassifier(1) if classify else KNeighborsRegressor(1),
    }
    out: dict[str, float | None] = {}
    for name, model in models.items():
        pipe = make_pipeline(SimpleImputer(), StandardScaler(), model)
        try:
            cv = 3
            if classify:
                cv = max(2, min(3, int(np.unique(y, return_counts=True)[1].min())))
            score = float(np.mean(cross_val_score(pipe, X, y, cv=cv, scoring="accuracy" if classify else "r2")))
            out[name] = min(1.0, max(0.0, score)) if math.isfinite(score) else None
        except ValueError:  # too few rows of a class, one class...
            out[name] = None
    return out


def space_signature(space: Space) -> dict[str, str]:
    """Each tuned parameter's dotted name -> its kind (float, int, choice, grid); fixed ones left out."""
    return {".".join(path): param.type for path, param in iter_params(space) if getattr(param, "type", "fixed") != "fixed"}


def fingerprint(family: str, meta: dict[str, Any], space: Space) -> dict[str, Any]:
    return {"family": family, **meta, "space": space_signature(space)}


def normalized(fp: dict[str, Any]) -> dict[str, float]:
    """Meta-features on comparable [0, ~1] scales (None where unknown)."""
    out: dict[str, float] = {}

    def put(key: str, value: Any, transform: Any = float) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(transform(value))

    put("log_rows", fp.get("rows"), lambda v: math.log10(v + 1) / 6)
    put("log_features", fp.get("features"), lambda v: math.log10(v + 1) / 4)
    put("log_classes", fp.get("classes"), lambda v: math.log10(v + 1) / 2)
    for key in ("class_balance", "categorical_share", "missing_share", "stump", "nn1"):
        put(key, fp.get(key))
    return out


def distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Weighted Euclidean distance of the normalised meta-features plus a space term (Jaccard
    distance of the tuned parameter names); inf across families or tasks."""
    if a.get("family") != b.get("family") or (a.get("task") and b.get("task") and a.get("task") != b.get("task")):
        return math.inf
    na, nb = normalized(a), normalized(b)
    shared = [k for k in WEIGHTS if k in na and k in nb]
    total = sum(WEIGHTS[k] * (na[k] - nb[k]) ** 2 for k in shared)
    sa, sb = set(a.get("space") or {}), set(b.get("space") or {})
    space = 1 - len(sa & sb) / len(sa | sb) if sa | sb else 0.0
    return math.sqrt(total) + SPACE_WEIGHT * space
