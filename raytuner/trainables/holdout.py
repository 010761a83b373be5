"""The holdout split: rows a search never sees, kept to score the final model(s) honestly.

``trainable.data.holdout`` is either a fraction of the rows (split with its own seed,
stratified for classifiers) or a separate test file. The split is a pure function of
the data spec and the estimator, so the trials (which get :func:`search_data`) and the
final steps (which get both parts from :func:`split_data`) agree on every row.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from raytuner.trainables.data import Dataset, check_data, load_data
from raytuner.errors import SpecError
from raytuner.spec.sklearn import DataSpec


def check_holdout(spec: DataSpec, field: str = "trainable.data") -> None:
    """Validate the holdout of a data spec (a test file must exist and have the columns)."""
    holdout = spec.holdout
    if holdout is None or holdout.source is None:
        return
    if spec.source.startswith("sklearn:"):
        raise SpecError.at(f"{field}.holdout.source", holdout.source, "unset for a bundled dataset (use fraction)")
    check_data(spec.model_copy(update={"source": holdout.source, "holdout": None}), f"{field}.holdout")


def is_stratified(spec: DataSpec, estimator: Any) -> bool:
    from sklearn.base import is_classifier

    holdout = spec.holdout
    if holdout is not None and holdout.stratified is not None:
        return holdout.stratified
    return bool(is_classifier(estimator))


def split_data(spec: DataSpec, estimator: Any, raw: bool = False) -> tuple[Dataset, Dataset | None]:
    """(search part, holdout part or None) of the data a spec names (``raw``: see load_data)."""
    dataset = load_data(spec.model_copy(update={"holdout": None}), raw=raw)
    holdout = spec.holdout
    if holdout is None:
        return dataset, None
    if holdout.source is not None:
        frame = read_table(holdout.source, spec.endpoint, field="trainable.data.holdout.source")
        if raw:
            frame = frame[frame[spec.target].notna()].reset_index(drop=True)
            X = raw_features(frame, dataset.feature_names, "trainable.data.holdout.source")
            return dataset, Dataset(X, frame[spec.target].to_numpy(), list(dataset.feature_names), dataset.task, holdout.source)
        X = features_from_frame(frame, dataset.feature_names, spec.target, field="trainable.data.holdout.source")
        test = Dataset(X, frame[spec.target].to_numpy(), list(dataset.feature_names), dataset.task, holdout.source)
        return dataset, test
    search_rows, test_rows = holdout_rows(dataset.y, holdout.fraction or 0.0, holdout.seed, is_stratified(spec, estimator))
    return take(dataset, search_rows), take(dataset, test_rows)


def search_data(spec: DataSpec, estimator: Any, raw: bool = False) -> Dataset:
    """The rows the search may use (all of them when no holdout is set)."""
    return split_data(spec, estimator, raw)[0]


def holdout_rows(y: np.ndarray, fraction: float, seed: int, stratified: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices (search, holdout) for a fraction held out."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    try:
        search, test = train_test_split(rows, test_size=fraction, random_state=seed, stratify=y if stratified else None)
    except ValueError as exc:  # e.g. a class with a single row cannot be stratified
        raise SpecError.at("trainable.data.holdout", fraction, f"a split this data allows ({exc})") from None
    return np.sort(search), np.sort(test)


def take(dataset: Dataset, rows: np.ndarray) -> Dataset:
    X = dataset.X.iloc[rows].reset_index(drop=True) if hasattr(dataset.X, "iloc") else dataset.X[rows]
    return replace(dataset, X=X, y=dataset.y[rows])


def raw_features(frame: Any, feature_names: list[str], field: str = "data") -> Any:
    """A table's training columns, in order, as they are (the saved pipeline encodes them);
    a missing column is an error naming it."""
    columns = {str(c): c for c in frame.columns}
    missing = [name for name in feature_names if name not in columns]
    if missing:
        raise SpecError.at(field, f"columns {sorted(columns)}", f"every training column (missing {missing})")
    out = frame[[columns[name] for name in feature_names]]
    out.columns = list(feature_names)
    return out


def read_table(path: str, endpoint: str | None = None, field: str = "data") -> Any:
    """A CSV / Parquet file (local or s3://...) as a DataFrame."""
    from pathlib import Path

    import pandas as pd

    from raytuner.trainables.data import FILE_READERS
    from raytuner.trainables.remote_data import is_remote, read_remote_table

    reader = FILE_READERS.get(Path(path).suffix.lower())
    if reader is None:
        raise SpecError.at(field, path, "a .csv or .parquet file")
    if is_remote(path):
        return read_remote_table(path, endpoint, field)
    return getattr(pd, reader)(path)


def features_from_frame(frame: Any, feature_names: list[str], target: str | None, field: str = "data") -> np.ndarray:
    """A table's feature matrix in the training columns' order, one-hot encoded like raytuner.trainables.data.

    The target column is dropped when present; a category absent from this table is a
    column of zeros; a missing original column is an error naming it.
    """
    import pandas as pd

    features = frame.drop(columns=[target]) if target is not None and target in frame.columns else frame
    categorical = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if categorical:
        features = pd.get_dummies(features, columns=categorical, dtype=float)
    columns = {str(c): c for c in features.columns}
    missing = [
        name for name in feature_names
        if name not in columns and not any(name.startswith(f"{c}_") for c in categorical)
    ]
    if missing:
        raise SpecError.at(field, f"columns {sorted(columns)}", f"every training column (missing {missing})")
    X = np.zeros((len(features), len(feature_names)))
    for j, name in enumerate(feature_names):
        if name in columns:
            X[:, j] = features[columns[name]].to_numpy(dtype=float)
    return X
