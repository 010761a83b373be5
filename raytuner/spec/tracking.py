"""Where trials are also tracked: TensorBoard event files, an MLflow store, Weights & Biases.

Structure only (no imports of the tracking libraries): whether a library is installed,
and the default MLflow store under the results folder, are decided in
:mod:`raytuner.runner.tracking` before Ray starts.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from raytuner.spec.sklearn import _Model

# SQLAlchemy database URLs MLflow stores runs in (a driver may follow: postgresql+psycopg2)
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
SERVER_SCHEMES = ("http", "https", "databricks", "file")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)


def mlflow_uri_problem(uri: str) -> str | None:
    """What is wrong with an MLflow tracking URI (None: nothing seen without MLflow)."""
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower().split("+", 1)[0] if match else ""
    if scheme not in DATABASE_SCHEMES + SERVER_SCHEMES:
        return (f"an MLflow tracking URI: sqlite:///PATH/mlflow.db, postgresql://..., mysql://..., "
                f"http(s)://server or databricks (got {uri!r}; a plain folder is MLflow's retired "
                f"file store: write sqlite:///{uri.rstrip('/') or '.'}/mlflow.db)")
    if scheme == "sqlite" and not re.match(r"^sqlite:///.+", uri, re.IGNORECASE):
        return f"sqlite:///relative/path.db or sqlite:////absolute/path.db (got {uri!r})"
    if scheme in ("http", "https") and not re.match(r"^https?://[^/\s]+", uri, re.IGNORECASE):
        return f"http(s)://host[:port] (got {uri!r})"
    return None


class MlflowTrackingSpec(_Model):
    """One MLflow run per trial (Ray's MLflowLoggerCallback): its config as params, every
    reported number as a metric per step."""

    uri: str | None = Field(
        None,
        description="tracking URI (sqlite:///path/mlflow.db, postgresql://..., http(s)://server); "
        "default: sqlite:///<storage.path>/mlruns/mlflow.db (local storage only)",
        examples=["sqlite:///results/mlruns/mlflow.db", "http://127.0.0.1:5000"],
    )
    experiment: str | None = Field(None, description="MLflow experiment name; default: the spec's name")
    tags: dict[str, str] = Field(default_factory=dict, description="tags set on every run")

    @field_validator("uri")
    @classmethod
    def _uri(cls, uri: str | None) -> str | None:
        if uri is not None and (problem := mlflow_uri_problem(uri)):
            raise ValueError(f"expected {problem}")
        return uri


class WandbTrackingSpec(_Model):
    """One Weights & Biases run per trial (Ray's WandbLoggerCallback; needs `pip install wandb`)."""

    project: str | None = Field(None, description="W&B project; default: the spec's name")
    entity: str | None = Field(None, description="W&B team or user; default: your account's")
    group: str | None = Field(None, description="run group; default: the experiment's name")
    mode: Literal["online", "offline", "disabled"] = Field(
        "online", description="offline: runs are written under the trial folders (`wandb sync` later)"
    )
    tags: list[str] = Field(default_factory=list)


def _shorthand(raw: Any) -> Any:
    """``mlflow: true`` (or ``{}``) -> the defaults; ``false`` -> off."""
    if raw is True:
        return {}
    if raw is False:
        return None
    return raw


class TrackingSpec(_Model):
    """Tracking integrations; result.json and progress.csv are always written per trial."""

    tensorboard: bool = Field(
        False,
        description="TensorBoard event files per trial (Ray's TBXLoggerCallback; importing "
        "tensorboardX pulls in torch, about 1.5 s at start-up)",
    )
    mlflow: MlflowTrackingSpec | None = None
    wandb: WandbTrackingSpec | None = None

    @field_validator("mlflow", mode="before", json_schema_input_type=bool | MlflowTrackingSpec | None)
    @classmethod
    def _mlflow_shorthand(cls, raw: Any) -> Any:
        return _shorthand(raw)

    @field_validator("wandb", mode="before", json_schema_input_type=bool | WandbTrackingSpec | None)
    @classmethod
    def _wandb_shorthand(cls, raw: Any) -> Any:
        return _shorthand(raw)
