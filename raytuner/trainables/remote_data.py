"""Data files on cloud storage: ``trainable.data.source: s3://bucket/train.csv|parquet``.

Read through the same pyarrow filesystems as ``storage.path`` (raytuner.results.storage).
For an S3-compatible store the endpoint is ``trainable.data.endpoint``, which the plan
fills from ``storage.endpoint`` (storage on S3) or the environment's ``AWS_ENDPOINT_URL``.
The driver reads the file (the sklearn trainable hands the rows to its trials through
Ray's object store); a refused request is one StorageAccessError, a missing object a
SpecError naming the field.
"""

from __future__ import annotations

import os
from typing import Any

from raytuner.errors import SpecError


def is_remote(source: str | None) -> bool:
    return source is not None and "://" in source


def default_endpoint(storage: Any) -> str | None:
    """The endpoint an s3:// data file is read with when the spec names none."""
    path = str(getattr(storage, "path", "") or "")
    if path.lower().startswith("s3://") and getattr(storage, "endpoint", None):
        return storage.endpoint
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def with_data_endpoint(trainable_spec: Any, storage: Any) -> Any:
    """The trainable spec with ``data.endpoint`` filled for remote data (unchanged otherwise)."""
    data = getattr(trainable_spec, "data", None)
    if data is None or not hasattr(data, "endpoint") or data.endpoint is not None:
        return trainable_spec
    holdout = getattr(data, "holdout", None)
    if not (is_remote(data.source) or is_remote(getattr(holdout, "source", None))):
        return trainable_spec
    endpoint = default_endpoint(storage)
    if endpoint is None:
        return trainable_spec
    return trainable_spec.model_copy(update={"data": data.model_copy(update={"endpoint": endpoint})})


def location(source: str, endpoint: str | None, field: str) -> Any:
    from raytuner.results.storage import resolve

    try:
        return resolve(source, endpoint=endpoint)
    except SpecError as exc:  # resolve names storage.path
        raise SpecError.at(field, source, exc.problems[0].expected) from None


def credentials_here(source: str) -> bool:
    from raytuner.results.cloud_access import has_credentials

    return has_credentials(source.split("://", 1)[0].lower())


def _open(source: str, endpoint: str | None, field: str) -> tuple[Any, Any]:
    """(location, pyarrow file) of a remote table; SpecError if it is not there."""
    from raytuner.results.cloud_access import access

    where = location(source, endpoint, field)
    import pyarrow.fs as pafs

    with access(where.uri, "read"):
        info = where.fs.get_file_info(where.path)
        if info.type != pafs.FileType.File:
            hint = "" if endpoint else " (an S3-compatible store needs storage.endpoint, trainable.data.endpoint or AWS_ENDPOINT_URL)"
            raise SpecError.at(field, source, f"an existing file{hint}")
        return where, where.fs.open_input_file(where.path)


def remote_columns(source: str, endpoint: str | None, field: str) -> tuple[list[str], int]:
    """(column names, rows in the first chunk or the file) without reading the whole table."""
    import pandas as pd

    from raytuner.results.cloud_access import access

    where, handle = _open(source, endpoint, field)
    with access(where.uri, "read"), handle:
        if source.lower().endswith(".csv"):
            head = pd.read_csv(handle, nrows=1)
            return [str(c) for c in head.columns], len(head)
        import pyarrow.parquet as pq

        meta = pq.read_metadata(handle)
        return list(meta.schema.to_arrow_schema().names), meta.num_rows


def read_remote_table(source: str, endpoint: str | None, field: str = "trainable.data.source") -> Any:
    """A remote CSV / Parquet file as a DataFrame."""
    import pandas as pd

    from raytuner.results.cloud_access import access

    where, handle = _open(source, endpoint, field)
    with access(where.uri, "read"), handle:
        if source.lower().endswith(".csv"):
            return pd.read_csv(handle)
        import pyarrow.parquet as pq

        return pq.read_table(handle).to_pandas()


def unchecked_note(trainable_spec: Any) -> str | None:
    """A note when remote data cannot be checked here (no credentials found); None otherwise."""
    data = getattr(trainable_spec, "data", None)
    source = getattr(data, "source", None)
    if is_remote(source) and not credentials_here(source):
        return (f"note: {source} not read: no credentials found here (set AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE to check it); the run reads it on the cluster")
    return None
