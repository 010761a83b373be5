"""The spec's tracking integrations as Ray Tune logger callbacks: checked before Ray starts
(``tracking_plan``), built with Ray up (``tracking_callbacks``).

Ray's callbacks run in the driver: MLflow's store is opened there (a local sqlite file
works on a cluster too, as only the driver writes it), and W&B's runs are started there.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raytuner.errors import SpecError
from raytuner.spec.models import ExperimentSpec

MLFLOW_DEFAULT_FOLDER = "mlruns"
MLFLOW_DEFAULT_DB = "mlflow.db"


@dataclass(frozen=True)
class MlflowTarget:
    uri: str
    experiment: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WandbTarget:
    project: str
    entity: str | None
    group: str | None
    mode: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tracking:
    """What each trial is also logged to, besides result.json and progress.csv."""

    tensorboard: bool = False
    mlflow: MlflowTarget | None = None
    wandb: WandbTarget | None = None
    notes: tuple[str, ...] = ()  # for the plan's notes (a deprecated key, the store's place)


def tracking_plan(spec: ExperimentSpec, storage_root: str | None = None) -> Tracking:
    """The spec's tracking, checked: libraries installed, MLflow's store resolved (no Ray, no
    import of the libraries). ``storage_root``: the local results folder (default: spec's)."""
    tracking = spec.tracking
    notes: tuple[str, ...] = ()
    if spec.storage.tensorboard is not None:
        notes += (f"storage.tensorboard is deprecated: write tracking: {{tensorboard: "
                  f"{str(spec.storage.tensorboard).lower()}}} instead",)
    mlflow = wandb = None
    if tracking.mlflow is not None:
        _need("mlflow", "tracking.mlflow", "pip install 'raytuner[mlflow]' (or mlflow-skinny)")
        uri = tracking.mlflow.uri or default_mlflow_uri(spec, storage_root)
        if uri.lower().startswith("file:") and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() not in (
                "1", "true"):
            raise SpecError.at("tracking.mlflow.uri", uri,
                               "a database or server URI: MLflow 3 retired its file store (write "
                               "sqlite:///PATH/mlflow.db, or set MLFLOW_ALLOW_FILE_STORE=true)")
        mlflow = MlflowTarget(uri=uri, experiment=tracking.mlflow.experiment or spec.name,
                              tags=dict(tracking.mlflow.tags))
        if tracking.mlflow.uri is None:
            notes += (f"MLflow runs go to {uri} (read them with `mlflow ui --backend-store-uri {uri}`)",)
    if tracking.wandb is not None:
        _need("wandb", "tracking.wandb", "pip install wandb")
        w = tracking.wandb
        wandb = WandbTarget(project=w.project or spec.name, entity=w.entity, group=w.group, mode=w.mode,
                            tags=tuple(w.tags))
    return Tracking(tensorboard=tracking.tensorboard, mlflow=mlflow, wandb=wandb, notes=notes)


def default_mlflow_uri(spec: ExperimentSpec, storage_root: str | None) -> str:
    """sqlite:///<storage root>/mlruns/mlflow.db; remote storage needs an explicit URI."""
    root = storage_root or spec.storage.path
    if "://" in root:
        raise SpecError.at("tracking.mlflow.uri", None,
                           f"an MLflow database or server URI (sqlite:///PATH/mlflow.db, http://host:5000): "
                           f"storage.path {spec.storage.path!r} is remote and the default store is a local file")
    db = Path(root).expanduser().resolve() / MLFLOW_DEFAULT_FOLDER / MLFLOW_DEFAULT_DB
    return f"sqlite:///{db}"


def _need(module: str, path: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise SpecError.at(path, "set", f"the '{module}' package, which is not installed here: {install}")


def tracking_callbacks(tracking: Tracking, experiment_name: str) -> list[Any]:
    """Ray's logger callbacks for ``tracking`` (imports Ray and the libraries)."""
    callbacks: list[Any] = []
    if tracking.tensorboard:
        from ray.tune.logger import TBXLoggerCallback

        callbacks.append(TBXLoggerCallback())
    if tracking.mlflow is not None:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        target = tracking.mlflow
        _make_sqlite_folder(target.uri)
        callbacks.append(MLflowLoggerCallback(
            tracking_uri=target.uri, experiment_name=target.experiment,
            tags={"raytuner.experiment": experiment_name, **target.tags},
        ))
    if tracking.wandb is not None:
        callbacks.append(_wandb_callback(tracking.wandb, experiment_name))
    return callbacks


def _wandb_callback(w: WandbTarget, experiment_name: str) -> Any:
    """Ray's WandbLoggerCallback, told the spec's mode before it looks for an API key: Ray
    reads only the WANDB_MODE variable there, so ``mode: offline`` alone asked for a login."""
    from ray.air.integrations.wandb import WANDB_MODE_ENV_VAR, WandbLoggerCallback

    class SpecModeWandbLoggerCallback(WandbLoggerCallback):  # type: ignore[misc]
        def setup(self, *args: Any, **kwargs: Any) -> None:
            before = os.environ.get(WANDB_MODE_ENV_VAR)
            os.environ[WANDB_MODE_ENV_VAR] = w.mode
            try:
                super().setup(*args, **kwargs)
            finally:
                if before is None:
                    os.environ.pop(WANDB_MODE_ENV_VAR, None)
                else:
                    os.environ[WANDB_MODE_ENV_VAR] = before

        def _start_logging_actor(self, trial: Any, exclude_results: list[str], **init: Any) -> None:
            # Ray starts W&B in the trial's staging folder under Ray's temp dir and copies it to
            # storage when it syncs, which the last trials' runs finish after: on local storage,
            # W&B writes into the trial folder itself (its logging actor runs on this node)
            folder = _local_trial_folder(trial)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                init.setdefault("dir", str(folder))
            super()._start_logging_actor(trial, exclude_results, **init)

    extra: dict[str, Any] = {"mode": w.mode, "tags": list(w.tags)}
    if w.entity:
        extra["entity"] = w.entity
    return SpecModeWandbLoggerCallback(project=w.project, group=w.group or experiment_name, **extra)


def _local_trial_folder(trial: Any) -> Path | None:
    """The trial's folder in storage where that storage is this machine's disk."""
    import pyarrow.fs

    storage = getattr(trial, "storage", None)
    if storage is None or not isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem):
        return None
    return Path(storage.trial_fs_path)


def _make_sqlite_folder(uri: str) -> None:
    """SQLite creates the database file, not its folder."""
    if uri.lower().startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
