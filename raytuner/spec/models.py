"""The experiment spec: frozen, strict pydantic models. Knows nothing of Ray.

A spec is loaded from YAML by :mod:`raytuner.spec.loader` or built in Python::

    ExperimentSpec(name="demo", trainable={"type": "sklearn", ...}, space={...})

Structural validation lives here; checks that need imports (an estimator, a
dataset, a scorer, a strategy's options) live in :mod:`raytuner.runner.plan`, which runs
before Ray starts.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from typing import Annotated, Any, Literal, Union

from annotated_types import Len

from pydantic import AliasChoices, Field, field_validator, model_validator

from raytuner.spec.classes import ClassTrainableSpec
from raytuner.spec.code import CodeRef, json_fallback
from raytuner.spec.params import Space, parse_space
from raytuner.spec.sklearn import SklearnTrainableSpec, _Model
from raytuner.spec.torch import TorchTrainableSpec
from raytuner.spec.tracking import TrackingSpec

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class FunctionTrainableSpec(_Model):
    """A user function ``module:fn(config) -> dict`` (or a generator of dicts, one per step)."""

    type: Literal["function"] = "function"
    function: CodeRef = Field(examples=["mypackage.objectives:branin"],
                              description="import path, or (from Python) the function itself")
    params: dict[str, Any] = Field(
        default_factory=dict, description="fixed values merged into every config"
    )


TrainableSpec = Annotated[
    Union[SklearnTrainableSpec, FunctionTrainableSpec, TorchTrainableSpec, ClassTrainableSpec], Field(discriminator="type")
]


class MetricSpec(_Model):
    """The objective: a name the trainable reports and whether to maximise it."""

    name: str = Field(examples=["accuracy", "neg_log_loss", "r2"])
    mode: Literal["max", "min"] | None = Field(
        None, description="default: the trainable's (max for scikit-learn scorers)"
    )
    scope: Literal["last", "best"] = Field(
        "last", description="a trial's score: its last step's value (last) or its best step's (best), as "
        "Ray Tune's scope; the leaderboard, the best trial and the exported checkpoint follow it"
    )


class StrategySpec(_Model):
    """How configs are chosen (``raytuner strategies`` lists the names)."""

    name: str = "random"
    seed: int | None = Field(0, description="one seed for searcher, splits and models")
    options: dict[str, Any] = Field(default_factory=dict)
    points_to_evaluate: list[dict[str, Any]] = Field(
        default_factory=list, description="known configs to try first"
    )


class SchedulerSpec(_Model):
    """When trials are stopped or changed (``raytuner strategies`` lists the names)."""

    name: str = "fifo"
    options: dict[str, Any] = Field(default_factory=dict)


class BudgetSpec(_Model):
    trials: int | None = Field(
        None, ge=1, description="number of trials (default: the strategy's)"
    )
    max_concurrent: int | None = Field(
        None, ge=1, description="trials running at once (default: what resources allow)"
    )
    time_limit_s: float | None = Field(None, gt=0, description="wall-clock limit")


class ResourcesSpec(_Model):
    cpu: float = Field(1.0, gt=0, description="CPUs per trial (fractions allowed)")
    gpu: float = Field(0.0, ge=0, description="GPUs per trial (fractions allowed)")
    placement: Literal["pack", "spread", "strict_pack", "strict_spread"] | None = Field(
        None,
        description="reserve each trial's resources as a Ray placement group with this "
        "strategy (spread: prefer different nodes; pack: fill nodes first); default: "
        "Ray Tune's default placement",
    )
    child_bundles: int = Field(
        0, ge=0, le=1024,
        description="extra resource bundles reserved per trial for the Ray tasks/actors the "
        "trial starts (they are placed into the trial's placement group); placement decides "
        "whether they share the trial's node (pack) or go to other nodes (spread)",
    )
    child_cpu: float = Field(1.0, ge=0, description="CPUs per child bundle")
    child_gpu: float = Field(0.0, ge=0, description="GPUs per child bundle")
    wait_for_nodes_s: float | None = Field(
        None, ge=0,
        description="when no node of the cluster can hold a trial: seconds to wait for one to "
        "join before refusing the run (default: 300 when the cluster's autoscaler has a node "
        "type that fits, else 0: refused at once)",
    )


class TrialPlateauSpec(_Model):
    """Stop a trial whose metric stopped moving (Ray's TrialPlateauStopper)."""

    std: float = Field(0.01, ge=0, description="stop when the std of the last `window` results is below this")
    window: int = Field(4, ge=2, description="number of recent results compared")
    grace_steps: int = Field(4, ge=0, description="reports before a trial can plateau")
    threshold: float | None = Field(
        None, description="only stop trials whose metric is at least this good (>= for max, <= for min)"
    )


class ExperimentPlateauSpec(_Model):
    """Stop the whole experiment when the best results stopped improving (ExperimentPlateauStopper)."""

    std: float = Field(0.001, ge=0, description="stop when the std of the top results is below this")
    top: int = Field(10, ge=2, description="how many of the best results are compared")
    patience: int = Field(0, ge=0, description="further results to wait once the plateau is reached")


class StopSpec(_Model):
    """Per-trial stopping conditions."""

    max_steps: int | None = Field(None, ge=1, description="stop a trial after N reports")
    target: float | None = Field(
        None, description="stop a trial once its metric reaches this value"
    )
    plateau: TrialPlateauSpec | None = Field(None, description="stop a trial whose metric plateaued")
    experiment_plateau: ExperimentPlateauSpec | None = Field(
        None, description="stop the experiment once its top results plateaued"
    )


class StorageSpec(_Model):
    path: str = Field("results", description="directory (or URI) for results")
    endpoint: str | None = Field(
        None,
        description="endpoint of an S3-compatible store (MinIO, Ceph, moto...) or a GCS "
        "emulator, e.g. http://127.0.0.1:9000; credentials come from the environment",
    )
    region: str | None = Field(None, description="S3 region, e.g. us-west-2")
    tensorboard: bool | None = Field(
        None, description="deprecated: moved to tracking.tensorboard (still read, with a note)"
    )

    @model_validator(mode="after")
    def _endpoint_needs_uri(self) -> "StorageSpec":
        if self.endpoint is None:
            return self
        scheme = self.path.split("://", 1)[0].lower() if "://" in self.path else ""
        if scheme not in ("s3", "gs", "gcs"):
            raise ValueError(f"storage.endpoint is set but storage.path {self.path!r} is not an s3:// or gs:// URI")
        try:
            endpoint_parts(self.endpoint)
        except ValueError as exc:
            raise ValueError(f"storage.endpoint: {exc}") from None
        return self


def endpoint_parts(endpoint: str) -> tuple[str, str]:
    """'http://127.0.0.1:9000' -> ('127.0.0.1:9000', 'http')."""
    split = urlsplit(endpoint)
    if split.scheme not in ("http", "https") or not split.netloc or split.path not in ("", "/"):
        raise ValueError(f"expected http(s)://host[:port], got {endpoint!r}")
    return split.netloc, split.scheme


class CheckpointsSpec(_Model):
    """How many checkpoints each trial keeps on storage."""

    keep: Annotated[int, Field(ge=1)] | Literal["all"] | None = Field(
        None,
        description="the newest N per trial, or all; default: 2 (enough for retries and pauses), "
        "all with a scheduler that clones trials (pbt, pb2: a clone may restore a donor's "
        "checkpoint long after it was written); a number too small for such a scheduler is refused",
    )


class FailureSpec(_Model):
    max_retries: int = Field(1, ge=0, description="retries of a failed trial")


class RefitSpec(_Model):
    """After the search: refit the best config on all search rows and save it (sklearn)."""

    enabled: bool = True
    formats: list[Literal["joblib", "skops"]] = Field(
        default_factory=lambda: ["joblib", "skops"],
        description="files written to <experiment>/model/ (skops only when installed)",
    )


class EnsembleSpec(_Model):
    """After the search: an ensemble of the top-k configs, scored on the holdout (sklearn)."""

    top_k: int = Field(5, ge=2, le=100, description="distinct configs, best first")
    method: str = Field("greedy", description="greedy | voting | average | stacking")
    options: dict[str, Any] = Field(default_factory=dict, description="the method's options")


class HistorySpec(_Model):
    """The experiment history store (``raytuner history``): where this run is recorded."""

    url: str | None = Field(
        None, description="SQLAlchemy URL (postgresql://user@host/db for a team); default: "
        "$RAYTUNER_HISTORY_URL, else sqlite in $RAYTUNER_HOME/history.db (~/.raytuner)",
    )
    record: bool = Field(True, description="record this run (false: nothing is written; also --no-history)")


class WarmStartSpec(_Model):
    """Seed the strategy with the best configs of past experiments (as points_to_evaluate)."""

    source: str = Field(
        validation_alias=AliasChoices("from", "source"),
        description="'history': the k most similar past experiments of the same model family in the "
        "history store; or a previous experiment directory (its best configs)",
    )
    k: int = Field(5, ge=1, le=100, description="experiments (from history) or configs (from a directory) to seed")
    max_distance: float = Field(
        0.5, gt=0, description="from history: only experiments at most this far (task fingerprint distance; "
        "`raytuner history similar SPEC` shows them) seed the search; an unrelated task runs unseeded",
    )
    reuse: bool = Field(
        True, description="on the same task (same data, trainable settings, metric and seed), tell the searcher "
        "the past trials' scores instead of re-running them, where it learns from results (optuna-*, tpe, "
        "skopt, bayesopt, nevergrad)",
    )


class ExecutionSpec(_Model):
    """How trials are executed: one Ray Tune trial each, or batches on a warm actor pool."""

    batch: Literal["off", "auto"] | Annotated[int, Field(ge=1, le=100_000)] = Field(
        "off",
        description="off: every trial is a Ray Tune trial; N: cheap function trials run N per "
        "call on a pool of warm Ray actors (one per CPU slot, spread over the nodes), the same "
        "searcher asking and the same experiment directory written; auto: batches when the "
        "function's first evaluations take under 100 ms, else off",
    )
    warm_s: float = Field(
        0.0, ge=0, le=3600,
        description="batched runs: seconds the actor pool stays up after the run, for the next "
        "batched run of this process to reuse (0: stopped when the run ends; a Ray Tune run "
        "stops it at once)",
    )

    @field_validator("batch", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        """YAML reads an unquoted ``off`` (``batch: off``, ``--set execution.batch=off``) as false,
        and ``on``/``yes``/``true`` as true, which is no batch size (pydantic would read it as 1)."""
        if value is True:
            raise ValueError("'auto', 'off' or a number of trials per batch (YAML reads on/yes/true as true)")
        return "off" if value is False else value


class ExperimentSpec(_Model):
    """One tuning experiment: what to train, over which space, how, with what budget."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    trainable: TrainableSpec
    space: Space = Field(default_factory=dict, description="the search space")
    metric: MetricSpec
    objectives: list[MetricSpec] = Field(
        default_factory=list,
        description="several metrics (multi-objective, e.g. strategy nsga2): give `metric` a list "
        "of {name, mode}; the first is also `metric` (progress, best trial, schedulers)",
    )
    strategy: StrategySpec = StrategySpec()
    scheduler: SchedulerSpec = SchedulerSpec()
    budget: BudgetSpec = BudgetSpec()
    resources: ResourcesSpec = ResourcesSpec()
    stop: StopSpec = StopSpec()
    storage: StorageSpec = StorageSpec()
    tracking: TrackingSpec = TrackingSpec()
    failure: FailureSpec = FailureSpec()
    checkpoints: CheckpointsSpec = CheckpointsSpec()
    refit: RefitSpec = RefitSpec()
    ensemble: EnsembleSpec | None = None
    history: HistorySpec = HistorySpec()
    warm_start: WarmStartSpec | None = None
    execution: ExecutionSpec = ExecutionSpec()

    @field_validator("refit", mode="before", json_schema_input_type=bool | RefitSpec)
    @classmethod
    def _refit_shorthand(cls, raw: Any) -> Any:
        return {"enabled": raw} if isinstance(raw, bool) else raw

    @field_validator("space", mode="before")
    @classmethod
    def _parse_space(cls, raw: Any) -> Space:
        return parse_space(raw, "space")

    @field_validator("metric", mode="before",
                     json_schema_input_type=str | MetricSpec | Annotated[list[str | MetricSpec], Len(min_length=1)])
    @classmethod
    def _metric_shorthand(cls, raw: Any) -> Any:
        return {"name": raw} if isinstance(raw, str) else raw

    @model_validator(mode="before")
    @classmethod
    def _metric_list(cls, raw: Any) -> Any:
        """``metric: [{name: a, mode: max}, {name: b, mode: min}]`` -> metric a, objectives a and b."""
        if isinstance(raw, dict) and isinstance(raw.get("metric"), list):
            items = [{"name": m} if isinstance(m, str) else m for m in raw["metric"]]
            if not items:
                raise ValueError("metric: a metric, or a non-empty list of metrics")
            if raw.get("objectives"):
                raise ValueError("metric as a list and objectives together; give the list once, in metric")
            raw = {**raw, "metric": items[0], "objectives": items if len(items) > 1 else []}
        return raw

    @model_validator(mode="after")
    def _objectives(self) -> "ExperimentSpec":
        if not self.objectives:
            return self
        names = [m.name for m in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"metric: distinct metric names (got {names})")
        if self.objectives[0].name != self.metric.name:
            raise ValueError(f"objectives[0] to be the metric {self.metric.name!r} (got {names[0]!r})")
        for i, m in enumerate(self.objectives[1:], start=1):
            if m.mode is None:
                raise ValueError(f"metric.{i}.mode: 'max' or 'min' for the objective {m.name!r}")
        return self

    @model_validator(mode="after")
    def _space_vs_params(self) -> "ExperimentSpec":
        fixed = set(self.trainable.params)
        clash = sorted(fixed & set(self.space))
        if clash:
            raise ValueError(
                f"parameters {clash} are both fixed in trainable.params and tuned in "
                "space; keep each in one place"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _tensorboard_moved(cls, raw: Any) -> Any:
        """``storage.tensorboard`` (the old place) is read into ``tracking.tensorboard`` (the
        plan notes the move); the two disagreeing is refused."""
        if not isinstance(raw, dict) or not isinstance(raw.get("storage"), dict):
            return raw
        old = raw["storage"].get("tensorboard")
        if old is None:
            return raw
        tracking = raw.get("tracking")
        if tracking is None:
            tracking = {}
        if not isinstance(tracking, dict):
            return raw  # the tracking field reports its own type error
        if "tensorboard" in tracking and tracking["tensorboard"] != old:
            raise ValueError(f"storage.tensorboard ({old}) and tracking.tensorboard "
                             f"({tracking['tensorboard']}) disagree; keep tracking.tensorboard only")
        return {**raw, "tracking": {**tracking, "tensorboard": old}}

    def to_data(self) -> dict[str, Any]:
        """A plain, JSON-able dict that loads back into an equal spec (Python objects given for
        user code are written as their names: ``raytuner.spec.code.code_name``)."""
        return self.model_dump(mode="json", fallback=json_fallback)
