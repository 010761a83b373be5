"""A scikit-learn estimator by import path, scored by k-fold cross-validation.

Each fold is one step: the trial reports the running mean of the fold scores after
every fold, so a scheduler can drop a poor config after a few folds.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from raytuner.trainables.data import Dataset, check_data
from raytuner.errors import SpecError
from raytuner.spec.params import Space
from raytuner.spec.registry import import_object
from raytuner.spec.sklearn import SklearnTrainableSpec
from raytuner.trainables.base import SampleFit, Trainable
from raytuner.trainables.sklearn.boosting import BoostingRequires
from raytuner.trainables.sklearn.names import estimator_params, tree_names
from raytuner.trainables.sklearn.setup import CVSetup, SklearnSetup
from raytuner.trainables.sklearn.steps import check_fidelity, fidelity_setup, fidelity_steps, step_trial


class SklearnTrainable(Trainable):
    kind = "sklearn"
    sklearn_model = True
    batchable = True  # k-fold trials (and TuneSearchCV's) on the warm actor pool: batch_job
    auto_batch = 1  # execution.batch auto: one trial per call, no probe (warm actors help any CV fit)
    spec: SklearnTrainableSpec
    inputs: Any = None  # in-memory inputs from Python (raytuner.sklearn.inputs), see take_inputs
    _dataset: Dataset | None = None  # the search rows, once loaded (by the sample fit or build)
    _data_checked: bool = False
    _choice: Any = None  # the space's choice of estimators (trainables.sklearn.families), set by check
    _prep: Any = None  # the preprocessing's column plan (PreprocessSetup), once the data is loaded

    requires = BoostingRequires()  # type: ignore[assignment]  # xgboost / lightgbm when the estimator is theirs

    def take_inputs(self, inputs: Any) -> None:
        """In-memory X, y and estimator (TuneSearchCV): ``inputs`` checks and builds the trial."""
        self.inputs = inputs

    def estimator_class(self) -> Any:
        from sklearn.base import BaseEstimator

        if self.spec.pipeline is not None:  # a factory of Pipelines (raytuner.trainables.sklearn.pipeline)
            from raytuner.trainables.sklearn.pipeline import pipeline_factory

            return pipeline_factory(self.spec.pipeline)
        if self.spec.estimator is None and self._choice is not None:  # the first family stands for them all
            from raytuner.trainables.sklearn.families import family_class

            return family_class(self._choice.families[0])
        cls = import_object(self.spec.estimator, "trainable.estimator")
        if not (isinstance(cls, type) and hasattr(cls, "fit") and issubclass(cls, BaseEstimator)):
            raise SpecError.at("trainable.estimator", self.spec.estimator, "a scikit-learn estimator class")
        return cls

    def check(self, space: Space) -> str:
        if self.inputs is not None:
            return self.inputs.check(self, space)
        from raytuner.trainables.sklearn.families import estimator_choice, family_class
        from raytuner.trainables.sklearn.prepcheck import check_preprocess_space
        from raytuner.trainables.sklearn.preprocess import split_space

        space, prep = split_space(space)  # space.preprocess: the preprocessing's options, not the model's
        self._choice = choice = estimator_choice(space)
        if choice is not None and self.spec.pipeline is not None:
            raise SpecError.at(f"space.{choice.key}", "a choice of estimators",
                               "no choice of estimators with trainable.pipeline (give the step options instead)")
        if choice is None and self.spec.estimator is None and self.spec.pipeline is None:
            raise SpecError.at("trainable.estimator", None, "an estimator import path, a pipeline, or a choice of "
                               "estimators in space ({type: choice, values: [{estimator: ..., PARAM: ...}, ...]})")
        classes = [self.estimator_class()] if choice is None else [family_class(f) for f in choice.families]
        if choice is None:
            mode = self._check_one(self.estimator_class(), space, lambda name: "space." + name.replace("__", "."))
        else:
            mode = "max"
        for family in choice.families if choice is not None else ():
            where = {name: f"{family.field}.{name.replace('__', '.')}" for name in estimator_params(tree_names(family.space))}
            mode = self._check_one(family_class(family), {**choice.others, **family.space},
                                   lambda name: where.get(name, "space." + name.replace("__", ".")))
        # after the constructor arguments were checked (a bad one is a SpecError there)
        check_preprocess_space(self.spec.preprocess, prep, [c(**self.spec.params) for c in classes], self.raw_data)
        return mode

    def _check_one(self, cls: Any, space: Space, field: Callable[[str], str]) -> str:
        """The checks of one estimator class (each family's, of a choice of estimators)."""
        metric = self.metric
        from sklearn.base import is_classifier, is_regressor
        from sklearn.metrics import get_scorer_names

        try:
            estimator = cls(**self.spec.params)
        except TypeError as exc:
            raise SpecError.at("trainable.params", self.spec.params, f"constructor arguments of {cls.__name__} ({exc})") from None
        valid = set(estimator.get_params(deep=True))
        if self.spec.pipeline is not None:  # names valid for every option a step may take
            from raytuner.trainables.sklearn.pipeline import check_pipeline_space

            valid = check_pipeline_space(self.spec, space)
        names = estimator_params(tree_names(space))
        for name in names:
            if name not in valid:
                raise SpecError.at(
                    field(name),
                    name,
                    f"a parameter of {cls.__name__}: {', '.join(sorted(p for p in valid if '__' not in p))}",
                )
        check_fidelity(self.spec, estimator)
        check_data(self.spec.data)
        from raytuner.trainables.holdout import check_holdout

        check_holdout(self.spec.data)
        data_task = self.spec.data.task or _bundled_task(self.spec.data.source)
        if data_task == "regression" and is_classifier(estimator):
            raise SpecError.at("trainable.estimator", self.spec.estimator or cls.__name__, f"a regressor for the regression data {self.spec.data.source}")
        if data_task == "classification" and is_regressor(estimator):
            raise SpecError.at("trainable.estimator", self.spec.estimator or cls.__name__, f"a classifier for the classification data {self.spec.data.source}")
        if metric.name not in get_scorer_names():
            raise SpecError.at(
                "metric.name", metric.name,
                "a scikit-learn scorer name (e.g. accuracy, f1_macro, roc_auc, r2, "
                "neg_mean_squared_error; see sklearn.metrics.get_scorer_names())",
            )
        if metric.mode == "min":
            raise SpecError.at("metric.mode", "min", "'max' (scikit-learn scorers are greater-is-better; use a neg_* scorer for losses)")
        return "max"

    def preflight(self, space: Space) -> None:
        """Every value of the space and fixed argument against the estimator's constraints; the metric against the task."""
        if self.inputs is not None:  # TuneSearchCV: scikit-learn's error_score rules decide
            return self.inputs.preflight(self, space)
        from raytuner.trainables.sklearn.preflight import check_metric, check_values, templates
        from raytuner.trainables.sklearn.preprocess import split_space

        space = split_space(space)[0]
        task = self.spec.data.task or _bundled_task(self.spec.data.source)
        if self._choice is not None:  # each family's values against its own estimator
            from raytuner.trainables.sklearn.families import family_class

            for family in self._choice.families:
                estimator = family_class(family)(**self.spec.params)
                check_metric(self.metric.name, estimator, task)
                check_values([estimator], self._choice.others, dict(self.spec.params), set())
                check_values([estimator], family.space, {}, set(), prefix=family.field)
            return
        estimator = self.estimator_class()(**self.spec.params)
        check_metric(self.metric.name, estimator, task)
        steps = self.spec.pipeline or []
        check_values(templates(estimator, steps, self.spec.params, space), space, dict(self.spec.params), {s.name for s in steps})

    def sample_fit(self, config: dict[str, Any]) -> SampleFit | None:
        """Load the search rows as the trials will, check them against the estimator, fit one fold of a sample."""
        if self.inputs is not None:
            return None
        from raytuner.trainables.sklearn.preflight import fit_sample

        return fit_sample(self.setup(), self.check_data(), config)

    def check_data(self) -> Dataset | None:
        """Load the search rows as the trials will (once) and check them against the estimator."""
        if self.inputs is not None:
            return None
        if not self._data_checked:
            from raytuner.trainables.sklearn.preflight import check_dataset, estimator_task

            estimator = self.estimator_class()(**self.spec.params)
            task = estimator_task(estimator, self.spec.data.task or _bundled_task(self.spec.data.source))
            dataset = self.search_dataset()
            if dataset.dropped_target_rows and self.spec.preprocess.missing_target == "error":
                raise SpecError.at("trainable.data.target", self.spec.data.target,
                                   f"a value in every row ({dataset.dropped_target_rows} rows of {dataset.source} have "
                                   "none); or set trainable.preprocess.missing_target: drop")
            check_dataset(dataset, estimator, task, self.spec.cv.folds, self.spec.data.target,
                          preprocessed=self.preprocess_setup() is not None)
            self._data_checked = True
        return self.search_dataset()

    def search_dataset(self) -> Dataset:
        """The rows the search may use (no holdout rows), loaded once."""
        if self._dataset is None:
            from raytuner.trainables.holdout import search_data

            self._dataset = search_data(self.spec.data, self.estimator_class()(**self.spec.params), raw=self.raw_data)
        return self._dataset

    @property
    def raw_data(self) -> bool:
        """A file's columns reach the pipeline as they are (bundled datasets are numeric arrays)."""
        return not self.spec.data.source.startswith("sklearn:")

    def preprocess_setup(self) -> Any:
        """The column plan and options of the preprocessing step (None: bundled data, or preprocess: false)."""
        if not (self.raw_data and self.spec.preprocess.enabled):
            return None
        if self._prep is None:
            from raytuner.trainables.sklearn.columns import plan_table
            from raytuner.trainables.sklearn.setup import PreprocessSetup

            dataset = self.search_dataset()
            plan = plan_table(dataset.X, self.spec.preprocess, dataset.dropped_target_rows)
            self._prep = PreprocessSetup(plan=plan, options=self.spec.preprocess)
        return self._prep

    def data_report(self) -> dict[str, Any] | None:
        """What the preprocessing does with each column (printed once before Ray starts, kept in the summary)."""
        prep = self.preprocess_setup() if self.inputs is None else None
        if prep is None:
            return None
        from raytuner.trainables.sklearn.families import family_class
        from raytuner.trainables.sklearn.preprocess import treatment

        classes = [self.estimator_class()] if self._choice is None else [family_class(f) for f in self._choice.families]
        how = [treatment(prep.options, cls(**self.spec.params)) for cls in classes]
        return {**prep.plan.to_data(prep.options), "lines": prep.plan.describe(prep.options) + how}

    def max_steps(self) -> int | None:
        if self.inputs is not None:
            return self.inputs.max_steps(self)
        return fidelity_steps(self.spec)

    def checkpoints(self) -> bool:
        # every fidelity (folds, epochs, estimators) saves and restores per step; the
        # in-memory trials of TuneSearchCV run scikit-learn's _fit_and_score and do not
        return self.inputs is None

    def setup(self) -> SklearnSetup:
        cls = self.estimator_class()
        estimator = cls(**self.spec.params)
        from sklearn.base import is_classifier

        stratified = self.spec.cv.stratified
        if stratified is None:
            stratified = is_classifier(estimator)
        defaults: dict[str, Any] = {}
        params = estimator.get_params()
        if "random_state" in params and params["random_state"] is None and self.seed is not None:
            defaults["random_state"] = self.seed
        if "n_jobs" in params and params["n_jobs"] is None:
            defaults["n_jobs"] = max(1, int(self.resources.cpu))
        if self._choice is not None:  # set per family when it is built (trainables.sklearn.estimator)
            defaults = {}
        pipeline = None
        if self.spec.pipeline is not None:  # steps built per trial by raytuner.trainables.sklearn.pipeline
            from raytuner.trainables.sklearn.pipeline import pipeline_setup

            pipeline = pipeline_setup(self.spec.pipeline, self.seed, max(1, int(self.resources.cpu)))
        return SklearnSetup(
            estimator=self.spec.estimator,
            fixed={**defaults, **self.spec.params},
            cv=CVSetup(folds=self.spec.cv.folds, shuffle=self.spec.cv.shuffle, stratified=stratified, seed=self.seed),
            metric=self.metric.name,
            fidelity=fidelity_setup(self.spec),
            pipeline=pipeline,
            choice_key=self._choice.key if self._choice is not None else None,
            seed=self.seed,
            n_jobs=max(1, int(self.resources.cpu)),
            preprocess=self.preprocess_setup(),
        )

    def batch_refusal(self) -> str | None:
        """Plain k-fold trials run batched; the other fidelities keep fitted models per step."""
        kind = self.spec.fidelity.kind
        if self.inputs is None and kind != "folds":
            return (f"with trainable.fidelity.kind '{kind}' (its trials keep fitted models between steps as "
                    "checkpoints; only kind 'folds' runs batched)")
        return None

    def batch_job(self, objectives: Any, max_steps: int | None, target: float | None) -> Any:
        """Each trial's folds on a warm actor (``FoldsEvaluator``); the search rows go into Ray's
        object store once per run. Call it with Ray up."""
        if self.inputs is not None:
            return self.inputs.batch_job(self, objectives, max_steps, target)
        from raytuner.spec.code import code_dirs
        from raytuner.trainables.batch import BatchJob, put_shared
        from raytuner.trainables.sklearn.folds import FoldsEvaluator

        evaluator = FoldsEvaluator(self.setup(), put_shared(self.search_dataset()))
        return BatchJob(evaluator, {}, tuple((str(n), str(m)) for n, m in objectives), max_steps, target, code_dirs())

    def build(self) -> Callable[[dict[str, Any]], None]:
        from ray import tune

        if self.inputs is not None:
            return self.inputs.build(self)
        dataset = self.search_dataset()  # no holdout rows
        setup = self.setup()
        trial = step_trial(setup) or sklearn_trial
        return tune.with_parameters(partial(trial, setup=setup), dataset=dataset)


def _bundled_task(source: str) -> str | None:
    from raytuner.trainables.data import BUNDLED

    if source.startswith("sklearn:"):
        entry = BUNDLED.get(source.split(":", 1)[1])
        return entry[1] if entry else None
    return None


def sklearn_trial(config: dict[str, Any], *, setup: SklearnSetup, dataset: Dataset) -> None:
    """One trial: k folds, reporting the running mean score after each (checkpoint: the scores)."""
    from raytuner.trainables.checkpointing import report_step, restore
    from raytuner.trainables.sklearn.folds import fold_reports

    restored = restore()
    for fold, report, scores in fold_reports(setup, dataset, config, list(restored.state) if restored else []):
        report_step(report, step=fold, state=scores)
