"""Tabular data as users bring it (#16 items 1-2): raytuner's per-fold preprocessing pipeline
against the old route (the whole file one-hot encoded before the split, outside the estimator).

In-process, no Ray: 5-fold CV of each estimator on the shipped raw CSVs (tests/data), the two
routes interleaved in each repeat; medians of the repeats. Scores are the same folds' means.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import benchlib  # noqa: E402

CASES = [  # (file, target, estimator, params, metric)
    ("penguins_like.csv", "species", "sklearn.linear_model.LogisticRegression", {"max_iter": 500}, "accuracy"),
    ("penguins_like.csv", "species", "sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 50}, "accuracy"),
    ("cars_like.csv", "Miles_per_Gallon", "sklearn.linear_model.Ridge", {}, "r2"),
    ("cars_like.csv", "Miles_per_Gallon", "sklearn.ensemble.HistGradientBoostingRegressor", {"max_iter": 50}, "r2"),
]


def _ours(source: str, target: str, estimator: str, params: dict, metric: str):  # type: ignore[no-untyped-def]
    from raytuner.spec.loader import load_spec
    from raytuner.runner.plan import make_plan
    from raytuner.trainables.sklearn.estimator import build_estimator

    spec = load_spec(ROOT / "experiments" / "quickstart.yaml", [
        f"trainable.data={{source: {source}, target: {target}}}", f"trainable.estimator={estimator}",
        f"trainable.params={params}", "space={}", "resources.cpu=1", f"metric={{name: {metric}, mode: max}}", "trainable.cv.folds=5"])
    plan = make_plan(spec)
    dataset = plan.trainable.check_data()
    return build_estimator(plan.trainable.setup(), {}), dataset.X, dataset.y


def _old(source: str, target: str, estimator: str, params: dict):  # type: ignore[no-untyped-def]
    """The route before #16: get_dummies on the whole file, a float matrix, the bare estimator."""
    import numpy as np
    import pandas as pd

    from raytuner.spec.registry import import_object

    frame = pd.read_csv(source)
    frame = frame[frame[target].notna()]  # the old route failed outright on a missing target
    features = frame.drop(columns=[target])
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    X = pd.get_dummies(features, columns=text, dtype=float).to_numpy(dtype=float)
    model = import_object(estimator, "bench")(**params)
    return model, X, np.asarray(frame[target])


def _cv(model, X, y, metric: str) -> tuple[float | None, float, str]:  # type: ignore[no-untyped-def]
    from sklearn.base import is_classifier
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    splitter = (StratifiedKFold if is_classifier(model) else KFold)(5, shuffle=True, random_state=0)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cross_val_score(model, X, y, cv=splitter, scoring=metric, error_score="raise")
    except ValueError as exc:
        return None, time.perf_counter() - start, " ".join(str(exc).split())[:60]
    return float(scores.mean()), time.perf_counter() - start, ""


def sections(quick: bool) -> list[benchlib.Section]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # one thread, as a one-CPU trial (OpenMP spinning on a shared machine costs seconds)
        return _sections(quick)


def _sections(quick: bool) -> list[benchlib.Section]:
    repeats = 2 if quick else 5
    rows, notes, worked, overheads = [], [], 0, []
    for file, target, estimator, params, metric in CASES:
        source = str(ROOT / "tests" / "data" / file)
        ours_model, X_raw, y_raw = _ours(source, target, estimator, params, metric)
        old_model, X_old, y_old = _old(source, target, estimator, params)
        ours_t, old_t, ours_s, old_s, old_err = [], [], None, None, ""
        for _ in range(repeats):  # interleaved
            ours_s, t, _err = _cv(ours_model, X_raw, y_raw, metric)
            ours_t.append(t)
            old_s, t, old_err = _cv(old_model, X_old, y_old, metric)
            old_t.append(t)
        worked += ours_s is not None
        n_out = ours_model.fit(X_raw, y_raw).named_steps["preprocess"].transform(X_raw.head(1)).shape[1]
        if old_s is not None:
            overheads.append(benchlib.median(ours_t) / benchlib.median(old_t))
        rows.append([file, estimator.rsplit(".", 1)[1], metric,
                     f"{ours_s:.3f}" if ours_s is not None else "fails", f"{old_s:.3f}" if old_s is not None else f"fails ({old_err})",
                     f"{n_out}", f"{X_old.shape[1]}", benchlib.median_spread(ours_t), benchlib.median_spread(old_t)])
    notes.append(benchlib.goal(worked == len(CASES), f"every raw CSV tunes without user preprocessing ({worked}/{len(CASES)} cases score)"))
    worst = max(overheads) if overheads else 0.0
    notes.append(benchlib.goal(
        worst <= 3.0, f"per-fold preprocessing costs at most 3x the old pre-encoded fit on these small files (worst {worst:.2f}x); "
        "the cost is the ColumnTransformer's per-fold fit on 150 rows; on larger files the model's fit dominates "
        "(to close a gap: cache the fitted preprocessing per fold across trials with equal preprocessing values)"))
    notes.append("old route: the file one-hot encoded before the split (leaks category sets and cannot take NaN); "
                 "features: model inputs after preprocessing (ours) vs get_dummies columns (old)")
    return [benchlib.Section(
        key="tabular", title="Raw CSVs: per-fold preprocessing pipeline vs the old pre-encoded route",
        command="python scripts/bench_tabular.py" + (" --quick" if quick else ""),
        headers=["file", "estimator", "metric", "CV score (ours)", "CV score (old)", "features (ours)",
                 "features (old)", "5-fold CV time (ours)", "5-fold CV time (old)"],
        rows=rows, notes=notes)]


if __name__ == "__main__":
    raise SystemExit(benchlib.main(sections))
