"""What one scikit-learn trial needs to know, shipped to the Ray workers with the trial.

:class:`SklearnSetup` is built once on the driver (``SklearnTrainable.setup``) and passed
to every trial by ``tune.with_parameters``: frozen and picklable, nothing but plain
values and the spec's own (frozen, picklable) pipeline steps. The final steps
(raytuner.runner.refit) build the same estimators and splits from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raytuner.spec.sklearn import PipelineStepSpec, PreprocessSpec
from raytuner.trainables.sklearn.columns import TablePlan


@dataclass(frozen=True)
class CVSetup:
    """The k-fold splits every trial (and every final step) uses."""

    folds: int
    shuffle: bool
    stratified: bool
    seed: int | None = None  # the split's random_state when shuffled


@dataclass(frozen=True)
class FidelitySetup:
    """What one step (one report) of a trial is: a fold, partial_fit epochs or grown estimators."""

    kind: str = "folds"  # "folds" | "epochs" | "estimators"
    steps: int = 5
    epochs_per_step: int = 1
    validation: str = "cv"  # "cv": every fold; "holdout": the first fold only


@dataclass(frozen=True)
class PipelineSetup:
    """A Pipeline's steps as the spec gives them; every step's random_state and n_jobs default."""

    steps: tuple[PipelineStepSpec, ...]
    seed: int | None = None
    n_jobs: int | None = None

    @property
    def names(self) -> set[str]:
        return {step.name for step in self.steps}


@dataclass(frozen=True)
class PreprocessSetup:
    """The preprocessing a file's raw columns get inside the pipeline (trainables.sklearn.preprocess)."""

    plan: TablePlan  # each column's kind, detected on the search rows
    options: PreprocessSpec  # the spec's preprocess block (tuned values go over it per trial)


@dataclass(frozen=True)
class SklearnSetup:
    """One trial's estimator (by import path, or a pipeline), fixed arguments, splits, metric, fidelity."""

    estimator: Any  # an import path, the class itself (a spec built in Python), or None
    fixed: dict[str, Any]  # constructor arguments: the spec's params over seed/n_jobs defaults
    cv: CVSetup
    metric: str  # a scikit-learn scorer name
    fidelity: FidelitySetup = field(default_factory=FidelitySetup)
    pipeline: PipelineSetup | None = None
    choice_key: str | None = None  # a choice of estimators in the space (trainables.sklearn.families)
    seed: int | None = None  # random_state of the chosen family, where it has one left None
    n_jobs: int | None = None  # n_jobs of the chosen family, where it has one left None
    preprocess: PreprocessSetup | None = None  # raw file columns: a ColumnTransformer before the model
