"""TuneSearchCV: scikit-learn's search interface, searched on Ray by any raytuner strategy.

It is a ``BaseSearchCV`` (so ``predict``, ``predict_proba``, ``score``, ``classes_``,
``n_features_in_``, metadata routing and tags behave exactly as in ``GridSearchCV``)
whose ``fit`` builds an ExperimentSpec and runs it through raytuner's runner, with the
user's estimator, X, y and CV splits given to the sklearn trainable in memory. Every
candidate is evaluated with scikit-learn's own ``_fit_and_score`` on the same splits
GridSearchCV would use, so ``cv_results_`` has the same keys and meaning.

With a scheduler (e.g. ASHA over folds) some candidates stop before their last fold:
their unrun splits are NaN, so their mean score is NaN and they rank last; the best
candidate is always one evaluated on every split.
"""

from __future__ import annotations

import numbers
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import _fit_context, clone, is_classifier
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._validation import _warn_or_raise_about_fit_failures
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_method_params, check_random_state, indexable

from raytuner.sklearn.distributions import Decoder, grid_points, to_space
from raytuner.sklearn.inputs import SearchInputs, split_results

_CONSTRAINTS = {k: v for k, v in BaseSearchCV._parameter_constraints.items() if k != "pre_dispatch"}
WARM_S = 300.0  # idle seconds the batched pool waits for the next fit (joblib's loky workers: 300 s)


@dataclass(frozen=True)
class PreparedFit:
    """What ``fit`` works out before Ray and needs again after it."""

    X: Any  # indexable X, y
    y: Any
    routed: Any  # the fit params routed to the estimator, scorer and splitter
    scorers: Any  # a scorer, or a _MultimetricScorer
    refit_metric: Any  # the metric refit selects by
    splits: list[Any]  # (train, test) index arrays
    decoder: Decoder  # raytuner configs -> estimator params
    names: list[str] | None  # the scorers' names of a multi-metric search


class TuneSearchCV(BaseSearchCV):
    """Hyperparameter search with cross-validation, run on Ray by a raytuner strategy.

    Parameters
    ----------
    estimator : estimator object
        Cloned for every fit (any scikit-learn estimator or Pipeline).
    param_distributions : dict
        Parameter name -> list of values, scipy.stats distribution (uniform,
        loguniform, randint) or raytuner space node (``{"type": "float", ...}``).
    strategy : str or dict, default="random"
        A raytuner strategy name (``raytuner strategies``) or ``{"name": ..., "options": {...}}``.
        ``"grid"`` tries every combination (like GridSearchCV) and ignores ``n_trials``.
    scheduler : str or dict, default="fifo"
        A raytuner scheduler (e.g. ASHA stops poor candidates after a few folds).
    n_trials : int, default=None
        Candidates to evaluate (not used by the grid strategy); 10 when neither it nor
        ``n_iter`` is given.
    n_iter : int, default=None
        RandomizedSearchCV's name for ``n_trials`` (either may be given; both only if equal).
    scoring, refit, cv, error_score, return_train_score, verbose
        As in GridSearchCV. ``error_score="raise"`` re-raises the first failed fit's own
        exception (its class and message, as RandomizedSearchCV does), brought back
        from the Ray worker.
    n_jobs : int, default=None
        Candidates evaluated at once (None or -1: as many as Ray's CPUs allow).
    random_state : int, RandomState or None
        Seed of the strategy (and of Ray's sampling).
    resources : dict, default=None
        Per-candidate resources, e.g. ``{"cpu": 2, "gpu": 0.5}`` (default one CPU).
    address : str, default=None
        Ray cluster address; None uses the Ray of this process or starts a local one.
    time_budget_s : float, default=None
        Wall-clock limit of the search.
    ensemble : str or dict, default=None
        After the search, an ensemble of the top configs: a method name
        (``greedy``, ``voting``, ``average``, ``stacking``) or ``{"method": ...,
        "top_k": 5, "options": {...}}``. Selected on out-of-fold predictions of the
        training data only, available as ``ensemble_`` (``predict`` keeps using
        ``best_estimator_``); score it on data the search never saw.
    storage_path : str, default=None
        Keep Ray Tune's results there (``experiment_path_``); None uses a temporary
        directory removed after ``fit``.
    batched : bool, default=True
        Candidates on a pool of warm Ray actors (``execution.batch``) when the scheduler lets
        each run all its folds (fifo); the pool is kept for later fits, as joblib keeps its
        executor, until ``WARM_S`` idle seconds, a Ray Tune run or exit. False: Tune trials.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_,
    n_splits_, refit_time_, multimetric_ : as in GridSearchCV.
    summary_ : raytuner.Summary of the run (trials, wall time, versions).
    ensemble_, ensemble_info_ : the fitted ensemble and what was chosen (with ``ensemble``).
    """

    _parameter_constraints: dict = {
        **_CONSTRAINTS,
        "param_distributions": [dict, list],
        "strategy": [str, dict],
        "scheduler": [str, dict],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "resources": [dict, None],
        "address": [str, None],
        "time_budget_s": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "ensemble": [str, dict, None],
        "storage_path": [str, None],
        "batched": ["boolean"],
    }

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        strategy: str | dict[str, Any] = "random",
        scheduler: str | dict[str, Any] = "fifo",
        n_trials: int | None = None,
        n_iter: int | None = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: Any = True,
        cv: Any = None,
        verbose: int = 0,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        random_state: Any = None,
        resources: dict[str, float] | None = None,
        address: str | None = None,
        time_budget_s: float | None = None,
        ensemble: str | dict[str, Any] | None = None,
        storage_path: str | None = None,
        batched: bool = True,
    ) -> None:
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.strategy = strategy
        self.scheduler = scheduler
        self.n_trials = n_trials
        self.n_iter = n_iter
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.random_state = random_state
        self.resources = resources
        self.address = address
        self.time_budget_s = time_budget_s
        self.ensemble = ensemble
        self.storage_path = storage_path
        self.batched = batched

    def _run_search(self, evaluate_candidates: Any, *, callback_ctx: Any = None) -> None:  # pragma: no cover
        raise NotImplementedError("TuneSearchCV searches on Ray in fit(); it does not use evaluate_candidates")

    # -- the spec -------------------------------------------------------------
    def _seed(self) -> int | None:
        if self.random_state is None or isinstance(self.random_state, numbers.Integral):
            return None if self.random_state is None else int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _n_candidates(self) -> int:
        """``n_trials`` or its RandomizedSearchCV name ``n_iter`` (10 when neither is given)."""
        if self.n_trials is not None and self.n_iter is not None and self.n_trials != self.n_iter:
            raise ValueError(
                f"n_iter={self.n_iter} and n_trials={self.n_trials} disagree: they are the same "
                "setting (n_iter is RandomizedSearchCV's name for it); give one of them"
            )
        chosen = self.n_trials if self.n_trials is not None else self.n_iter
        return 10 if chosen is None else int(chosen)

    @staticmethod
    def _component(value: str | dict[str, Any], kind: str) -> dict[str, Any]:
        if isinstance(value, str):
            return {"name": value}
        unknown = set(value) - {"name", "options"}
        if unknown or "name" not in value:
            raise ValueError(f"{kind} must be a name or {{'name': ..., 'options': {{...}}}} (got {value!r})")
        return {"name": value["name"], "options": dict(value.get("options") or {})}

    def _spec(self, space: dict[str, Any], decoder: Any, metric: str, n_splits: int, storage: str) -> Any:
        from raytuner.spec.loader import validate_spec

        strategy = {**self._component(self.strategy, "strategy"), "seed": self._seed()}
        n_candidates = self._n_candidates()  # n_trials / n_iter disagreeing: refused before Ray
        trials = None if strategy["name"] == "grid" else n_candidates
        if strategy["name"] == "grid" and decoder.subspaces is not None:
            # a list of grids, as GridSearchCV takes: exactly their points, each once, in order
            points = grid_points(space, decoder)
            strategy = {"name": "random", "seed": strategy["seed"], "points_to_evaluate": points}
            trials = len(points)
        n_jobs = self.n_jobs if self.n_jobs is not None and self.n_jobs > 0 else None
        cls = type(self.estimator)
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"tunesearchcv-{cls.__name__}")[:100]
        return validate_spec({
            "name": name,
            "description": "TuneSearchCV: in-memory estimator and data",
            "trainable": {
                "type": "sklearn", "estimator": f"{cls.__module__}.{cls.__qualname__}",
                "data": {"source": "memory"}, "cv": {"folds": min(max(n_splits, 2), 100), "shuffle": False},
            },
            "space": space,
            "metric": {"name": metric, "mode": "max"},
            "strategy": strategy,
            "scheduler": self._component(self.scheduler, "scheduler"),
            "budget": {"trials": trials,
                       "max_concurrent": n_jobs, "time_limit_s": self.time_budget_s},
            "resources": dict(self.resources or {}),
            "storage": {"path": storage},
            "failure": {"max_retries": 0},
            "refit": False,
            # auto: batched under a scheduler that lets candidates finish (else Ray Tune trials)
            "execution": {"batch": "auto" if self.batched else "off", "warm_s": WARM_S},
        })

    def _check_names(self, names: list[str]) -> None:
        valid = set(self.estimator.get_params(deep=True))
        for name in names:
            head = name.split("__", 1)[0]
            if name not in valid and not ("__" in name and head in names):
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self.estimator}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )

    # -- fit --------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any = None, **params: Any) -> "TuneSearchCV":
        """Search on Ray, then (with ``refit``) fit the best candidate on all of X, y.

        ``params`` go to the estimator's fit, the scorer and the splitter (``groups``)
        exactly as in GridSearchCV.
        """
        from raytuner.errors import ExperimentFailed
        from raytuner.runner.experiment import run_experiment

        storage = self.storage_path or tempfile.mkdtemp(prefix="rt-search-", dir="/tmp")
        try:
            spec, inputs, prepared = self._prepare(X, y, params, storage)
            try:
                summary = run_experiment(spec, address=self.address, inputs=inputs,
                                         show_progress=self.verbose > 0, verbose=self.verbose > 1)
            except ExperimentFailed as exc:  # every candidate failed
                if self.error_score != "raise" or exc.summary is None:
                    raise
                summary = exc.summary
            original = self._first_fit_error(summary)  # read while the trial directories exist
        finally:
            if self.storage_path is None:
                shutil.rmtree(storage, ignore_errors=True)
        if original is not None:
            raise original
        self.summary_ = summary
        if self.storage_path is not None:
            self.experiment_path_ = summary.experiment_path
        results, out = self._results(summary, prepared.decoder, prepared.names)
        self._finish(prepared, results, out)
        return self

    def _prepare(self, X: Any, y: Any, params: dict[str, Any], storage: str) -> tuple[Any, SearchInputs, PreparedFit]:
        """Everything before Ray: scorers, CV splits, the space, the spec and the in-memory inputs."""
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self.n_splits_ = cv.get_n_splits(X, y, **routed.splitter.split)
        splits = list(cv.split(X, y, **routed.splitter.split))
        if len(splits) != self.n_splits_:
            raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. Expected {self.n_splits_} splits, got {len(splits)}")
        space, decoder = to_space(self.param_distributions)
        self._check_names(decoder.param_names(space))
        names = list(scorers._scorers) if isinstance(scorers, _MultimetricScorer) else None
        refit_name = self.refit if isinstance(self.refit, str) else (names[0] if names else None)
        metric = f"test_{refit_name}" if names else "test_score"
        inputs = SearchInputs(
            estimator=clone(self.estimator), X=X, y=y, splits=splits, scorer=scorers,
            fit_params=routed.estimator.fit, score_params=routed.scorer.score,
            return_train_score=self.return_train_score, error_score=self.error_score,
            decoder=decoder, metric=metric, refit_name=refit_name,
        )
        spec = self._spec(space, decoder, metric, self.n_splits_, storage)
        return spec, inputs, PreparedFit(X=X, y=y, routed=routed, scorers=scorers, refit_metric=refit_metric,
                                         splits=splits, decoder=decoder, names=names)

    def _first_fit_error(self, summary: Any) -> BaseException | None:
        """With ``error_score='raise'``: the first failed candidate's own exception (class and
        message as the fit raised it on its worker, Ray's wrappers removed), else None."""
        if self.error_score != "raise":
            return None
        from raytuner.runner.records import original_error

        failed = [t for t in summary.trials if t.status == "error"]
        if not failed:
            return None
        return original_error(failed[0]) or RuntimeError(
            f"a fit failed (error_score='raise') in trial {failed[0].trial_id}: {failed[0].error}")

    def _results(self, summary: Any, decoder: Any, names: list[str] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        failed = [t for t in summary.trials if t.status == "error"]
        if failed:
            warnings.warn(f"{len(failed)} of {len(summary.trials)} candidates failed on Ray and score "
                          f"error_score={self.error_score}; first error: {failed[0].error}", UserWarning, stacklevel=3)
        if names is None:  # a callable scoring may return a dict: read the names it reported
            reported = [k[len("split0_test_"):] for t in summary.trials for k in t.metrics if k.startswith("split0_test_")]
            found = list(dict.fromkeys(reported))
            names = None if found in ([], ["score"]) else found
        candidates, out = [], []
        for trial in summary.trials:
            candidates.append(dict(sorted(decoder.decode(trial.config).items())))  # as ParameterGrid
            splits = split_results(trial.metrics, self.n_splits_, names, self.return_train_score)
            if trial.status == "error":
                for item in splits:
                    if not isinstance(self.error_score, str):
                        item["test_scores"] = {n: self.error_score for n in names} if names else self.error_score
            out.extend(splits)
        if not candidates:
            raise ValueError("No fits were performed. Was the CV iterator empty? Were there no candidates?")
        if not isinstance(self.error_score, str):
            _warn_or_raise_about_fit_failures(out, self.error_score)
        return self._format_results(candidates, self.n_splits_, out), out

    def _finish(self, prepared: PreparedFit, results: dict[str, Any], out: list[dict[str, Any]]) -> None:
        X, y, routed, scorers, refit_metric = prepared.X, prepared.y, prepared.routed, prepared.scorers, prepared.refit_metric
        first = out[0]["test_scores"]
        self.multimetric_ = isinstance(first, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        base = clone(self.estimator)
        if self.refit:
            self.best_estimator_ = clone(base).set_params(**clone(self.best_params_, safe=False))
            start = time.time()
            if y is not None:
                self.best_estimator_.fit(X, y, **routed.estimator.fit)
            else:
                self.best_estimator_.fit(X, **routed.estimator.fit)
            self.refit_time_ = time.time() - start
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        self.cv_results_ = results
        if self.ensemble is not None:
            self._fit_ensemble(X, y, base, results, refit_metric, prepared.splits)

    def _fit_ensemble(self, X: Any, y: Any, base: Any, results: dict[str, Any], refit_metric: Any, splits: list[Any]) -> None:
        from raytuner.ensemble import build_ensemble
        from raytuner.ensemble.core import distinct_top
        from raytuner.runner.batched import release_pool

        release_pool()  # the warm pool's CPUs go to the ensemble's Ray tasks

        conf = {"method": self.ensemble} if isinstance(self.ensemble, str) else dict(self.ensemble)  # type: ignore[arg-type]
        unknown = set(conf) - {"method", "top_k", "options"}
        if unknown:
            raise ValueError(f"ensemble takes method, top_k and options (got {sorted(unknown)})")
        key = refit_metric if isinstance(refit_metric, str) and f"rank_test_{refit_metric}" in results else "score"
        if f"rank_test_{key}" not in results:
            key = next(k[len("rank_test_"):] for k in results if k.startswith("rank_test_"))
        means = np.asarray(results[f"mean_test_{key}"], dtype=float)
        order = [i for i in np.argsort(results[f"rank_test_{key}"], kind="stable") if np.isfinite(means[i])]
        params = [results["params"][i] for i in order]
        keep = distinct_top(params, int(conf.get("top_k", 5)))
        scorer = self.scorer_[key] if isinstance(self.scorer_, dict) else self.scorer_
        estimators = [clone(base).set_params(**clone(params[i], safe=False)) for i in keep]
        cpus = float((self.resources or {}).get("cpu", 1.0))
        self.ensemble_, info = build_ensemble(
            estimators, X, y, splits, scorer, conf.get("method", "greedy"), conf.get("options"),
            task="classification" if is_classifier(self.estimator) else "regression", num_cpus=cpus,
        )
        self.ensemble_info_ = {**info, "params": [params[i] for i in keep]}
