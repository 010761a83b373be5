"""Tabular data for trainables: bundled scikit-learn datasets or CSV/Parquet files.

Nothing is downloaded: only the datasets that ship inside scikit-learn are offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from raytuner.errors import SpecError, StorageAccessError
from raytuner.trainables.remote_data import credentials_here, is_remote, read_remote_table, remote_columns
from raytuner.spec.sklearn import DataSpec


def _bundled(loader_name: str, task: str) -> tuple[Callable[[], tuple[Any, Any]], str]:
    def load() -> tuple[Any, Any]:
        import sklearn.datasets as ds

        return getattr(ds, loader_name)(return_X_y=True)

    return load, task


BUNDLED: dict[str, tuple[Callable[[], tuple[Any, Any]], str]] = {
    "iris": _bundled("load_iris", "classification"),
    "digits": _bundled("load_digits", "classification"),
    "wine": _bundled("load_wine", "classification"),
    "breast_cancer": _bundled("load_breast_cancer", "classification"),
    "diabetes": _bundled("load_diabetes", "regression"),
}

FILE_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


@dataclass(frozen=True)
class Dataset:
    X: Any  # a float array (bundled data, encoded files) or the file's raw feature columns (a DataFrame)
    y: np.ndarray
    feature_names: list[str]
    task: str | None  # "classification" / "regression" when known from the source
    source: str
    dropped_target_rows: int = 0  # rows of a raw file dropped because their target is missing


def take_rows(X: Any, rows: Any) -> Any:
    """Rows of an array or a DataFrame (by position)."""
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def check_data(spec: DataSpec, field: str = "trainable.data") -> None:
    """Validate a data spec without loading more than a file's header."""
    if spec.source.startswith("sklearn:"):
        name = spec.source.split(":", 1)[1]
        if name not in BUNDLED:
            raise SpecError.at(
                f"{field}.source",
                spec.source,
                "a bundled dataset: " + ", ".join(f"sklearn:{n}" for n in BUNDLED),
            )
        for extra in ("target", "features"):
            if getattr(spec, extra) is not None:
                raise SpecError.at(f"{field}.{extra}", getattr(spec, extra), "unset for a bundled dataset")
        return
    path = Path(spec.source)
    if path.suffix.lower() not in FILE_READERS:
        raise SpecError.at(
            f"{field}.source", spec.source, "'sklearn:NAME' or a .csv / .parquet file (local or s3://...)"
        )
    remote = is_remote(spec.source)
    if not remote and not path.is_file():
        raise SpecError.at(f"{field}.source", spec.source, "an existing file")
    if spec.target is None:
        raise SpecError.at(f"{field}.target", None, "the name of the target column of the file")
    if remote and not credentials_here(spec.source):
        return  # read (and checked) where credentials are: the run's driver
    columns = _columns(path, f"{field}.source") if not remote else _remote_columns(spec, f"{field}.source")
    if spec.target not in columns:
        raise SpecError.at(f"{field}.target", spec.target, f"one of the file's columns: {', '.join(columns)}")
    for name in spec.features or []:
        if name not in columns:
            raise SpecError.at(f"{field}.features", name, f"one of the file's columns: {', '.join(columns)}")


def _columns(path: Path, field: str = "trainable.data.source") -> list[str]:
    """The file's column names; a file without a header or without a data row is a SpecError."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            head = pd.read_csv(path, nrows=1)
            columns, rows = [str(c) for c in head.columns], len(head)
        else:
            import pyarrow.parquet as pq

            meta = pq.read_metadata(path)
            columns, rows = list(meta.schema.to_arrow_schema().names), meta.num_rows
    except pd.errors.EmptyDataError:
        raise SpecError.at(field, str(path), "a table with a header and at least one row (the file is empty)") from None
    except Exception as exc:  # unreadable file: a user error, not a crash
        raise SpecError.at(field, str(path), f"a readable table ({' '.join(str(exc).split())[:300]})") from None
    if rows == 0:
        raise SpecError.at(field, str(path), f"a table with at least one row of data (the file has only a header: {', '.join(columns)})")
    return columns


def _remote_columns(spec: DataSpec, field: str) -> list[str]:
    try:
        columns, rows = remote_columns(spec.source, spec.endpoint, field)
    except (SpecError, StorageAccessError):
        raise
    except Exception as exc:  # unreadable object: a user error, not a crash
        raise SpecError.at(field, spec.source, f"a readable table ({' '.join(str(exc).split())[:300]})") from None
    if rows == 0:
        raise SpecError.at(field, spec.source, f"a table with at least one row of data (only a header: {', '.join(columns)})")
    return columns


def load_data(spec: DataSpec, raw: bool = False) -> Dataset:
    """The data a spec names. ``raw``: a file's feature columns as they are (a DataFrame, for the
    preprocessing inside the pipeline), rows without a target dropped and counted; otherwise
    text columns are one-hot encoded here (for trainables without a pipeline: torch)."""
    check_data(spec)
    if spec.source.startswith("sklearn:"):
        name = spec.source.split(":", 1)[1]
        loader, task = BUNDLED[name]
        X, y = loader()
        names = [f"x{i}" for i in range(X.shape[1])]
        return Dataset(np.asarray(X), np.asarray(y), names, spec.task or task, spec.source)
    import pandas as pd

    path = Path(spec.source)
    if is_remote(spec.source):
        frame = read_remote_table(spec.source, spec.endpoint)
    else:
        frame = getattr(pd, FILE_READERS[path.suffix.lower()])(path)
    if raw:
        kept = frame[frame[spec.target].notna()].reset_index(drop=True)
        features = kept[spec.features] if spec.features else kept.drop(columns=[spec.target])
        features.columns = [str(c) for c in features.columns]
        return Dataset(features, kept[spec.target].to_numpy(), list(features.columns), spec.task, spec.source,
                       dropped_target_rows=len(frame) - len(kept))
    y = frame[spec.target].to_numpy()
    features = frame[spec.features] if spec.features else frame.drop(columns=[spec.target])
    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if categorical:  # one-hot encode text columns so any estimator can take them
        features = pd.get_dummies(features, columns=categorical, dtype=float)
    X = features.to_numpy(dtype=float)
    return Dataset(X, y, [str(c) for c in features.columns], spec.task, spec.source)
