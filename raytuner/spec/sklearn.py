"""The scikit-learn trainable's part of a spec: data, holdout, CV, pipelines, fidelity."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raytuner.spec.code import CodeRef


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoldoutSpec(_Model):
    """A test split kept out of the search (and of ensemble selection), scored at the end."""

    fraction: float | None = Field(None, gt=0, lt=1, description="share of the rows held out")
    source: str | None = Field(
        None, description="a separate .csv / .parquet test file with the same columns"
    )
    stratified: bool | None = Field(None, description="default: true for classifiers")
    seed: int = Field(0, description="seed of the split (independent of the search's seed)")

    @model_validator(mode="after")
    def _one_of(self) -> "HoldoutSpec":
        if (self.fraction is None) == (self.source is None):
            raise ValueError("exactly one of fraction or source")
        return self


class DataSpec(_Model):
    """Where the data comes from: a bundled dataset or a CSV/Parquet file."""

    source: str = Field(
        description="'sklearn:NAME' (iris, digits, wine, breast_cancer, diabetes, "
        "california_housing is not bundled) or a .csv / .parquet file: a path or a URI (s3://bucket/train.csv)",
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
    endpoint: str | None = Field(
        None, description="S3-compatible endpoint (http(s)://host:port) for an s3:// source; default: "
        "storage.endpoint when storage is on S3, else the environment's AWS_ENDPOINT_URL",
    )
    holdout: HoldoutSpec | None = Field(
        None, description="rows the search never sees, to score the final model(s); "
        "a fraction (0.2) or {fraction|source, stratified, seed}",
    )

    @field_validator("holdout", mode="before", json_schema_input_type=float | HoldoutSpec | None)
    @classmethod
    def _holdout_shorthand(cls, raw: Any) -> Any:
        return {"fraction": raw} if isinstance(raw, (int, float)) and not isinstance(raw, bool) else raw


class CVSpec(_Model):
    """k-fold cross-validation; stratified for classifiers by default."""

    folds: int = Field(5, ge=2, le=100)
    shuffle: bool = True
    stratified: bool | None = Field(None, description="default: true for classifiers")


class PipelineOptionSpec(_Model):
    """One alternative for a pipeline step: an estimator by import path and its fixed arguments."""

    estimator: CodeRef = Field(examples=["sklearn.svm.SVC"])
    params: dict[str, Any] = Field(default_factory=dict)


class PipelineStepSpec(_Model):
    """A step of a scikit-learn Pipeline: an estimator, or named options the space chooses from."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", examples=["scale", "clf"])
    estimator: CodeRef | None = Field(
        None, description="import path, or 'passthrough'", examples=["sklearn.preprocessing.StandardScaler"]
    )
    params: dict[str, Any] = Field(default_factory=dict, description="fixed constructor arguments")
    options: dict[str, PipelineOptionSpec] = Field(
        default_factory=dict,
        description="alternatives by name; tune with space: {STEP: {type: choice, values: [names]}} "
        "(the first is the default)",
    )

    @model_validator(mode="after")
    def _one_of(self) -> "PipelineStepSpec":
        if "__" in self.name:
            raise ValueError(f"a step name without '__' (got {self.name!r})")
        if (self.estimator is None) == (not self.options):
            raise ValueError("exactly one of estimator or options")
        if self.options and self.params:
            raise ValueError("params inside each option, not next to options")
        return self

class FidelitySpec(_Model):
    """What one step (one report) of a scikit-learn trial is: what schedulers count.

    folds: one report per cross-validation fold (running mean); epochs: one
    ``partial_fit`` pass (SGDClassifier, MLPClassifier...); estimators: the
    ensemble grows with ``warm_start`` (random forests, gradient boosting) until
    it reaches its n_estimators (max_iter for HistGradientBoosting); rounds: XGBoost /
    LightGBM boosting rounds, reported every n_estimators/steps rounds by the library's
    own training callback (native early stopping respected).
    """

    kind: Literal["folds", "epochs", "estimators", "rounds"] = "folds"
    steps: int | None = Field(
        None, ge=1, le=100000,
        description="reports per trial (default: folds: cv.folds; epochs: 20; estimators: 10; rounds: 10)",
    )
    epochs_per_step: int = Field(1, ge=1, description="epochs: partial_fit passes per report")
    validation: Literal["cv", "holdout"] | None = Field(
        None, description="epochs/estimators: score every step on all cv folds (k models) or on "
        "the first fold only (one model, 1/cv.folds of the data held out); default: cv "
        "(rounds: holdout, the only one it takes)",
    )


class NumericPrep(_Model):
    """Numeric columns: imputation (only where the estimator cannot take NaN), indicator, scaling."""

    impute: Literal["auto", "mean", "median", "most_frequent", "none"] = Field(
        "auto", description="auto: median where the estimator cannot take missing values, none otherwise")
    indicator: bool = Field(True, description="add a missing-value indicator column for each imputed column that had gaps")
    scale: bool = Field(False, description="standardise (StandardScaler) after imputation")


class CategoricalPrep(_Model):
    """Text columns with few distinct values: one-hot, ordinal, or native categoricals."""

    encode: Literal["auto", "onehot", "native", "ordinal", "drop"] = Field(
        "auto", description="auto: native where the estimator supports categoricals (HistGradientBoosting), else onehot")
    max_categories: int | None = Field(20, ge=2, le=10000, description="cap per column; rarer ones share one 'infrequent' column")
    min_frequency: float | None = Field(None, gt=0, description="categories rarer than this (a count >= 1 or a share < 1) are infrequent")


class PreprocessSpec(_Model):
    """Preprocessing fitted inside the tuned pipeline, per CV fold (files only; bundled data is numeric).

    Every field can be tuned at ``space.preprocess.<field>`` (e.g. ``space: {preprocess: {categorical:
    {max_categories: {type: int, low: 5, high: 50}}}}``, i.e. ``preprocess__categorical__max_categories``).
    """

    enabled: bool = Field(True, description="false: the estimator (or pipeline) gets the raw columns as a DataFrame")
    numeric: NumericPrep = NumericPrep()
    categorical: CategoricalPrep = CategoricalPrep()
    date: Literal["expand", "drop"] = Field("expand", description="ISO dates: year, month, day, day of week; or drop them")
    text: Literal["drop", "categorical"] = Field(
        "drop", description="identifier-like text (distinct values in over text_unique_share of the rows): drop, or encode as categorical")
    text_unique_share: float = Field(0.5, gt=0, le=1, description="a text column with more distinct values than this share of its rows is identifier-like")
    missing_target: Literal["drop", "error"] = Field("drop", description="rows without a target value: dropped (counted in the summary) or an error")
    columns: dict[str, Literal["numeric", "categorical", "date", "text", "drop"]] = Field(
        default_factory=dict, description="a column's kind, over the detected one (drop: leave it out)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return {"enabled": raw} if isinstance(raw, bool) else raw


class SklearnTrainableSpec(_Model):
    """Any scikit-learn estimator by import path, scored by cross-validation."""

    type: Literal["sklearn"] = "sklearn"
    estimator: CodeRef | None = Field(
        None, examples=["sklearn.ensemble.RandomForestClassifier"],
        description="import path (or give a pipeline, or a choice of estimators in space, instead)",
    )
    pipeline: list[PipelineStepSpec] | None = Field(
        None, min_length=1, description="a Pipeline of steps (instead of estimator); "
        "tune step parameters as nested space entries (STEP: {param: ...})",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="fixed constructor arguments"
    )
    data: DataSpec
    cv: CVSpec = CVSpec()
    preprocess: PreprocessSpec = Field(
        PreprocessSpec(), description="preprocessing of a file's columns inside the tuned pipeline "
        "(false: none); see README 'Tabular data'",
    )
    fidelity: FidelitySpec = Field(
        FidelitySpec(), description="what one step is: a fold, an epoch or a growth step"
    )

    @model_validator(mode="after")
    def _estimator_or_pipeline(self) -> "SklearnTrainableSpec":
        if self.estimator is not None and self.pipeline is not None:
            raise ValueError("exactly one of estimator or pipeline")
        # neither: the space must hold a choice of estimators (checked with the space, by the trainable)
        names = [step.name for step in self.pipeline or []]
        if len(set(names)) != len(names):
            raise ValueError(f"unique pipeline step names (got {names})")
        return self
