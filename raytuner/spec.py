"""The experiment spec: frozen, strict pydantic models. Knows nothing of Ray.

A spec is loaded from YAML by :mod:`raytuner.loader` or built in Python::

    ExperimentSpec(name="demo", trainable={"type": "sklearn", ...}, space={...})

Structural validation lives here; checks that need imports (an estimator, a
dataset, a scorer, a strategy's options) live in :mod:`raytuner.plan`, which runs
before Ray starts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raytuner.params import Space, parse_space

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(_Model):
    """Where the data comes from: a bundled dataset or a CSV/Parquet file."""

    source: str = Field(
        description="'sklearn:NAME' (iris, digits, wine, breast_cancer, diabetes, "
        "california_housing is not bundled) or a path to a .csv / .parquet file",
        examples=["sklearn:digits", "data/train.csv"],
    )
    target: str | None = Field(
        None, description="target column of a CSV/Parquet file (required for files)"
    )
    features: list[str] | None = Field(
        None, description="feature columns to use (default: every other column)"
    )
    task: Literal["classification", "regression"] | None = Field(
        None, description="default: inferred from the estimator"
    )


class CVSpec(_Model):
    """k-fold cross-validation; stratified for classifiers by default."""

    folds: int = Field(5, ge=2, le=100)
    shuffle: bool = True
    stratified: bool | None = Field(None, description="default: true for classifiers")


class SklearnTrainableSpec(_Model):
    """Any scikit-learn estimator by import path, scored by cross-validation."""

    type: Literal["sklearn"] = "sklearn"
    estimator: str = Field(examples=["sklearn.ensemble.RandomForestClassifier"])
    params: dict[str, Any] = Field(
        default_factory=dict, description="fixed constructor arguments"
    )
    data: DataSpec
    cv: CVSpec = CVSpec()


class FunctionTrainableSpec(_Model):
    """A user function ``module:fn(config) -> dict`` (or a generator of dicts, one per step)."""

    type: Literal["function"] = "function"
    function: str = Field(examples=["mypackage.objectives:branin"])
    params: dict[str, Any] = Field(
        default_factory=dict, description="fixed values merged into every config"
    )


TrainableSpec = Annotated[
    Union[SklearnTrainableSpec, FunctionTrainableSpec], Field(discriminator="type")
]


class MetricSpec(_Model):
    """The objective: a name the trainable reports and whether to maximise it."""

    name: str = Field(examples=["accuracy", "neg_log_loss", "r2"])
    mode: Literal["max", "min"] | None = Field(
        None, description="default: the trainable's (max for scikit-learn scorers)"
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


class StopSpec(_Model):
    """Per-trial stopping conditions."""

    max_steps: int | None = Field(None, ge=1, description="stop a trial after N reports")
    target: float | None = Field(
        None, description="stop a trial once its metric reaches this value"
    )


class StorageSpec(_Model):
    path: str = Field("results", description="directory (or URI) for results")


class FailureSpec(_Model):
    max_retries: int = Field(1, ge=0, description="retries of a failed trial")


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
    failure: FailureSpec = FailureSpec()

    @field_validator("space", mode="before")
    @classmethod
    def _parse_space(cls, raw: Any) -> Space:
        return parse_space(raw, "space")

    @field_validator("metric", mode="before")
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

    def to_data(self) -> dict[str, Any]:
        """A plain, JSON-able dict that loads back into an equal spec."""
        return self.model_dump(mode="json")
