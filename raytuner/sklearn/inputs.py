"""In-memory inputs for the sklearn trainable: TuneSearchCV's estimator object, X, y and splits.

The runner stays the one place that builds the Tuner: TuneSearchCV builds an
ExperimentSpec and hands these inputs to the sklearn trainable
(``SklearnTrainable.take_inputs``), which then checks and builds its trials from them
instead of from the spec's import paths and data files.

Each trial evaluates one candidate with scikit-learn's own ``_fit_and_score`` on the
same (train, test) splits GridSearchCV would use, one split per step, and reports the
running mean of the refit metric (for schedulers) plus every split's scores and times
(for ``cv_results_``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from raytuner.spec.params import Space
from raytuner.sklearn.distributions import Decoder

SPLIT_FIELDS = ("fit_time", "score_time", "n_test_samples")


@dataclass(frozen=True)
class SearchInputs:
    """Everything a trial needs (shipped to the workers whole, by ``tune.with_parameters``)."""

    estimator: Any
    X: Any
    y: Any
    splits: list[tuple[np.ndarray, np.ndarray]]
    scorer: Any
    fit_params: dict[str, Any]
    score_params: dict[str, Any]
    return_train_score: bool
    error_score: Any
    decoder: Decoder
    metric: str  # the reported key the search optimises
    refit_name: str | None  # which scorer of a multi-metric dict is the metric

    # -- the SklearnTrainable hook ---------------------------------------------
    def check(self, trainable: Any, space: Space) -> str:
        return "max"  # scikit-learn scorers are greater-is-better

    def preflight(self, trainable: Any, space: Space) -> None:
        """With ``error_score='raise'``, a value the estimator's constraints reject is raised
        before Ray starts, as scikit-learn's InvalidParameterError (GridSearchCV raises it at
        the first fit); otherwise such candidates fail and score ``error_score``, as in GridSearchCV."""
        if self.error_score != "raise" or self.decoder.subspaces is not None:
            return
        from sklearn.utils._param_validation import InvalidParameterError

        from raytuner.errors import SpecError
        from raytuner.trainables.sklearn.preflight import check_values

        decoded = {
            key: node.model_copy(update={"values": [self.decoder.value(key, v) for v in node.values]})
            if key in self.decoder.tables and hasattr(node, "values") else node
            for key, node in space.items()
        }
        try:
            check_values([self.estimator], decoded, {}, set())
        except SpecError as exc:
            raise InvalidParameterError(str(exc).removeprefix("invalid spec: ").replace("space.", "param_distributions.", 1)) from None

    def max_steps(self, trainable: Any) -> int:
        return len(self.splits)

    def build(self, trainable: Any) -> Callable[[dict[str, Any]], None]:
        from ray import tune

        return tune.with_parameters(search_trial, inputs=self)

    def batch_job(self, trainable: Any, objectives: Any, max_steps: int | None, target: float | None) -> Any:
        """The batched path's job: no metrics rule (a NaN score is a result, as in GridSearchCV);
        these inputs go into the object store once (call it with Ray up)."""
        from raytuner.spec.code import code_dirs
        from raytuner.trainables.batch import BatchJob, put_shared

        return BatchJob(SearchEvaluator(put_shared(self)), {}, (), max_steps, target, code_dirs())


def _flat_scores(prefix: str, scores: Any) -> dict[str, float]:
    if isinstance(scores, dict):
        return {f"{prefix}_{name}": float(value) for name, value in scores.items()}
    return {f"{prefix}_score": float(scores)}


def _refit_score(scores: Any, refit_name: str | None) -> float:
    if isinstance(scores, dict):
        if refit_name in scores:
            return float(scores[refit_name])
        return float(next(iter(scores.values())))
    return float(scores)


def search_reports(config: dict[str, Any], inputs: SearchInputs) -> Iterator[dict[str, Any]]:
    """One candidate over every split: one report per split (the running mean of the metric)."""
    from sklearn.base import clone
    from sklearn.model_selection._validation import _fit_and_score

    params = inputs.decoder.decode(config)
    report: dict[str, Any] = {}
    scores: list[float] = []
    for i, (train, test) in enumerate(inputs.splits):
        out = _fit_and_score(
            clone(inputs.estimator), inputs.X, inputs.y,
            scorer=inputs.scorer, train=train, test=test, verbose=0, parameters=params,
            fit_params=inputs.fit_params, score_params=inputs.score_params,
            return_train_score=inputs.return_train_score, return_n_test_samples=True,
            return_times=True, error_score=inputs.error_score,
        )
        scores.append(_refit_score(out["test_scores"], inputs.refit_name))
        report.update(_flat_scores(f"split{i}_test", out["test_scores"]))
        if inputs.return_train_score:
            report.update(_flat_scores(f"split{i}_train", out["train_scores"]))
        for key in SPLIT_FIELDS:
            report[f"split{i}_{key}"] = float(out[key])
        report[f"split{i}_fit_error"] = out["fit_error"] or ""
        yield {**report, inputs.metric: float(np.mean(scores)), "fold": i + 1}


def search_trial(config: dict[str, Any], *, inputs: SearchInputs) -> None:
    """The Ray Tune trial of one candidate: its reports as made, no metrics rule (scikit-learn's
    error_score decides what a failed fit scores)."""
    from raytuner.trainables.reporting import report

    for metrics in search_reports(config, inputs):
        report(metrics, rule=False)


@dataclass(frozen=True)
class SearchEvaluator:
    """The batched trial of one candidate (``execution.batch``, TuneSearchCV's default): the same
    reports as ``search_trial``. ``inputs``: an ObjectRef of the SearchInputs (X, y, splits,
    estimator, scorer), put in the object store once per fit and read once per actor."""

    inputs: Any

    def __call__(self, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from raytuner.trainables.batch import shared

        return search_reports(config, shared(self.inputs))


def split_results(metrics: dict[str, Any], n_splits: int, names: list[str] | None, return_train_score: bool) -> list[dict[str, Any]]:
    """A trial's reported metrics -> one ``_fit_and_score``-like dict per split (NaN where not run)."""
    out = []
    for i in range(n_splits):
        ran = f"split{i}_fit_time" in metrics

        def scores(kind: str) -> Any:
            if names is None:
                return float(metrics.get(f"split{i}_{kind}_score", np.nan)) if ran else np.nan
            return {n: float(metrics.get(f"split{i}_{kind}_{n}", np.nan)) if ran else np.nan for n in names}

        item: dict[str, Any] = {
            "test_scores": scores("test"),
            "fit_time": float(metrics.get(f"split{i}_fit_time", np.nan)),
            "score_time": float(metrics.get(f"split{i}_score_time", np.nan)),
            "n_test_samples": int(metrics.get(f"split{i}_n_test_samples", 0)),
            "fit_error": (metrics.get(f"split{i}_fit_error") or None) if ran else None,
        }
        if return_train_score:
            item["train_scores"] = scores("train")
        out.append(item)
    return out
