"""XGBoost and LightGBM: boosting rounds as the fidelity (``trainable.fidelity.kind: rounds``).

One booster per trial is trained on the first cv fold (``validation: holdout``) by the
library's own scikit-learn estimator, with ``eval_set`` = the held-out fold and a native
training callback (``xgboost.callback.TrainingCallback``; a LightGBM ``fn(env)``) that,
every ``n_estimators/steps`` rounds, scores the booster on the held-out fold with the
spec's scikit-learn scorer and reports it (with the library's own eval metrics, as
``eval_<name>``) through :func:`raytuner.trainables.checkpointing.report_step`.

* Native early stopping (``early_stopping_rounds`` in params or space) is the library's:
  when it stops, the trial reports the rounds done and finishes normally.
* The checkpoint is the booster (xgboost ``save_raw``, LightGBM ``model_to_string``) and
  its round count: a restored trial (PBT clone, HyperBand resume, retry) builds the
  estimator from its (possibly mutated) config and continues the booster
  (``xgb_model=`` / ``init_model=``) for the rounds left, instead of round 0.
* Families are a registry (:data:`FAMILIES`, by the estimator's top-level module); each
  says what it can do as class attributes (``native_categorical``), so the data loader
  can hand them pandas ``category`` columns instead of one-hot codes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from raytuner.spec.code import code_name
from raytuner.errors import SpecError

GROWS = "n_estimators"  # the rounds parameter of both scikit-learn wrappers
STOPPED_BY = "stopped_by"  # in the last report of a trial the library's early stopping ended
EARLY_STOPPING = "early_stopping_rounds"


@dataclass(frozen=True)
class RoundsState:
    """A checkpoint of a rounds trial: the booster after ``rounds`` rounds."""

    library: str
    rounds: int
    booster: bytes


# -- families -------------------------------------------------------------------


class BoostingFamily:
    """How to train, save, continue and predict one library's booster with a per-round callback."""

    library: ClassVar[str]
    extra: ClassVar[str]  # pip install 'raytuner[EXTRA]'
    native_categorical: ClassVar[bool] = True  # takes pandas category columns as they are

    def fit(self, model: Any, X: Any, y: Any, Xv: Any, yv: Any, on_round: Callable[[Any, dict[str, float]], None],
            init: bytes | None) -> None:
        raise NotImplementedError

    def dump(self, booster: Any) -> bytes:
        raise NotImplementedError

    def predict(self, booster: Any, X: Any) -> np.ndarray:
        raise NotImplementedError


def _rows(X: Any, index: np.ndarray) -> Any:
    """Rows of an array or of a DataFrame (whose category columns the boosting libraries take as they are)."""
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _has_categories(X: Any) -> bool:
    dtypes = getattr(X, "dtypes", None)
    return dtypes is not None and any(str(d) == "category" for d in dtypes)


class XGBoostFamily(BoostingFamily):
    library = "xgboost"
    extra = "xgboost"

    def fit(self, model: Any, X: Any, y: Any, Xv: Any, yv: Any, on_round: Callable[[Any, dict[str, float]], None],
            init: bytes | None) -> None:
        import xgboost
        from xgboost.callback import TrainingCallback

        class Report(TrainingCallback):
            def after_iteration(self, booster: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
                latest = next(iter(evals_log.values()), {})
                on_round(booster, {f"eval_{name}": float(values[-1]) for name, values in latest.items()})
                return False  # stopping is left to the library (early_stopping_rounds) and the scheduler

        extra: dict[str, Any] = {"callbacks": [Report()]}
        if _has_categories(X):
            extra["enable_categorical"] = True
        previous = {name: model.get_params()[name] for name in extra}
        model.set_params(**extra)
        try:
            start = xgboost.Booster(model_file=bytearray(init)) if init is not None else None
            model.fit(X, y, eval_set=[(Xv, yv)], verbose=False, xgb_model=start)
        finally:
            model.set_params(**previous)

    def dump(self, booster: Any) -> bytes:
        return bytes(booster.save_raw(raw_format="ubj"))

    def predict(self, booster: Any, X: Any) -> np.ndarray:
        return np.asarray(booster.inplace_predict(X))


class LightGBMFamily(BoostingFamily):
    library = "lightgbm"
    extra = "lightgbm"

    def fit(self, model: Any, X: Any, y: Any, Xv: Any, yv: Any, on_round: Callable[[Any, dict[str, float]], None],
            init: bytes | None) -> None:
        import lightgbm

        def report(env: Any) -> None:
            on_round(env.model, {f"eval_{name}": float(value) for _, name, value, *_ in env.evaluation_result_list or []})

        start = lightgbm.Booster(model_str=init.decode()) if init is not None else None
        model.fit(X, y, eval_X=(Xv,), eval_y=(yv,), callbacks=[report], init_model=start)

    def dump(self, booster: Any) -> bytes:
        return booster.model_to_string().encode()

    def predict(self, booster: Any, X: Any) -> np.ndarray:
        return np.asarray(booster.predict(X, num_iteration=booster.current_iteration()))


FAMILIES: dict[str, BoostingFamily] = {f.library: f for f in (XGBoostFamily(), LightGBMFamily())}


def estimator_extra(path: Any) -> str | None:
    """The raytuner extra an estimator import path (or class) needs, if it is a boosting library's."""
    family = FAMILIES.get(code_name(path or "").split(":")[0].split(".")[0])
    return family.extra if family is not None else None


class BoostingRequires:
    """``Trainable.requires`` of the scikit-learn trainable: (module, extra) of the boosting library its
    ``trainable.estimator`` comes from; on the class, every library it may need."""

    def __get__(self, trainable: Any, owner: type) -> tuple[tuple[str, str], ...]:
        if trainable is None:
            return tuple((family.library, family.extra) for family in FAMILIES.values())
        extra = estimator_extra(getattr(trainable.spec, "estimator", None))
        return ((extra, extra),) if extra is not None else ()


def final_step(estimator: Any) -> Any:
    """The estimator a Pipeline ends with (or the estimator itself)."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def boosting_family(estimator: Any) -> BoostingFamily | None:
    """The family of an estimator (or of a Pipeline's final step), or None when it is no booster."""
    model = final_step(estimator)
    return FAMILIES.get(type(model).__module__.split(".")[0]) if model is not None else None


def check_rounds(estimator: Any, steps: int, validation: str | None) -> None:
    """SpecError when ``kind: rounds`` cannot apply: not a booster, cv validation, fewer rounds than steps."""
    name = type(final_step(estimator)).__name__
    if boosting_family(estimator) is None:
        raise SpecError.at(
            "trainable.fidelity.kind", "rounds",
            f"'folds', 'epochs' or 'estimators': {name} is no boosting library estimator (rounds need "
            f"{', '.join('xgboost.XGB*' if f == 'xgboost' else 'lightgbm.LGBM*' for f in FAMILIES)})",
        )
    if validation == "cv":
        raise SpecError.at("trainable.fidelity.validation", "cv",
                           "'holdout' (or unset) with kind 'rounds': one booster is trained per trial, "
                           "evaluated each round on the first cv fold")
    rounds = final_step(estimator).get_params().get(GROWS)
    if rounds is not None and int(rounds) < steps:
        raise SpecError.at("trainable.fidelity.steps", steps, f"at most n_estimators ({rounds}): a step is at least one round")


# -- training -------------------------------------------------------------------


class _Scored:
    """Predictions already made, in the shape scikit-learn scorers ask an estimator for."""

    def __init__(self, output: np.ndarray, classes: np.ndarray | None):
        self.output, self.classes_ = output, classes

    def predict_proba(self, X: Any) -> np.ndarray:
        out = self.output
        return out if out.ndim == 2 else np.column_stack([1.0 - out, out])

    def predict(self, X: Any) -> np.ndarray:
        if self.classes_ is None:
            return self.output
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _scored_as(estimator: Any, output: np.ndarray, classes: np.ndarray | None) -> Any:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    mixin = ClassifierMixin if classes is not None else RegressorMixin
    cls = type("ScoredBooster", (_Scored, mixin, BaseEstimator), {})
    return cls(output, classes)


def boundary(step: int, steps: int, total: int) -> int:
    """Rounds done after ``step`` of ``steps`` steps of a ``total``-round trial."""
    return math.ceil(total * step / steps)


def train_rounds(estimator: Any, X: Any, y: Any, train: np.ndarray, valid: np.ndarray, *, steps: int, metric: str,
                 restored: tuple[int, RoundsState] | None,
                 on_step: Callable[[int, dict[str, Any], RoundsState], None]) -> int:
    """Train (or continue) one booster, calling ``on_step(step, metrics, state)`` at each step's last round.

    ``restored``: (steps done, state) of a checkpoint. Returns the steps reported in all
    (fewer than ``steps`` when the library's early stopping ended training).
    """
    from sklearn.base import is_classifier
    from sklearn.metrics import get_scorer

    family = boosting_family(estimator)
    if family is None:
        raise SpecError.at("trainable.fidelity.kind", "rounds", f"a boosting estimator, not {type(estimator).__name__}")
    step, state = restored if restored is not None else (0, None)
    if state is not None and state.library != family.library:
        raise SpecError.at("trainable.estimator", family.library,
                           f"{state.library}: the checkpoint holds a {state.library} booster")
    model = final_step(estimator)
    total = int(model.get_params()[GROWS] or 100)
    if total < steps:
        raise SpecError.at("space.n_estimators", total, f"at least trainable.fidelity.steps ({steps}) rounds")
    done = state.rounds if state is not None else 0
    if done >= total:
        return step
    Xt, yt, Xv, yv = _rows(X, train), y[train], _rows(X, valid), y[valid]
    if model is not estimator:  # a Pipeline: its preprocessing is fitted on the training rows only
        prep = estimator[:-1]
        Xt, Xv = prep.fit_transform(Xt, yt), prep.transform(Xv)
    scorer = get_scorer(metric)
    classes = np.unique(yt) if is_classifier(model) else None
    progress: dict[str, Any] = {"rounds": done, "step": step, "reported": done, "started": time.perf_counter(),
                                "pending": None}

    def score(booster: Any, native: dict[str, float]) -> tuple[int, dict[str, Any], RoundsState]:
        rounds = progress["rounds"]
        value = float(scorer(_scored_as(model, family.predict(booster, Xv), classes), Xv, yv))
        progress["step"] += 1
        progress["reported"] = rounds
        saved = RoundsState(library=family.library, rounds=rounds, booster=family.dump(booster))
        metrics = {metric: value, "rounds": rounds, **native, "step_time_s": time.perf_counter() - progress["started"]}
        progress["started"] = time.perf_counter()
        return progress["step"], metrics, saved

    def flush(**extra: Any) -> None:
        # a step is reported one round late (or when training ends), so the last report can say
        # whether the library's early stopping ended the trial
        if progress["pending"] is not None:
            at, metrics, saved = progress["pending"]
            progress["pending"] = None
            on_step(at, {**metrics, **extra}, saved)

    def on_round(booster: Any, native: dict[str, float]) -> None:
        flush()
        progress["rounds"] += 1
        progress["last"] = (booster, native)
        if progress["rounds"] >= boundary(progress["step"] + 1, steps, total):
            progress["pending"] = score(booster, native)

    model.set_params(**{GROWS: total - done})
    family.fit(model, Xt, yt, Xv, yv, on_round, state.booster if state is not None else None)
    if progress["reported"] < progress["rounds"]:  # early stopping between two step boundaries
        progress["pending"] = score(*progress["last"])
    flush(**({STOPPED_BY: EARLY_STOPPING} if progress["rounds"] < total else {}))
    return int(progress["step"])


def final_estimator(estimator: Any, last: dict[str, Any] | None = None) -> Any:
    """The estimator a final step (refit, ensemble) fits on every search row, without a validation split:
    early stopping off, and as many rounds as the trial's best round when its early stopping ended it
    (``last``: the trial's last report)."""
    model = final_step(estimator)
    if boosting_family(estimator) is None or "early_stopping_rounds" not in model.get_params():
        return estimator
    patience = model.get_params()["early_stopping_rounds"]
    model.set_params(early_stopping_rounds=None)
    if last and last.get(STOPPED_BY) == EARLY_STOPPING and isinstance(last.get("rounds"), int) and patience:
        model.set_params(**{GROWS: max(1, last["rounds"] - int(patience))})
    return estimator


def sample_fit(estimator: Any, X: Any, y: Any) -> Any:
    """Fit as a rounds trial does (eval_set given, so early_stopping_rounds works), without reports."""
    family = boosting_family(estimator)
    model = final_step(estimator)
    if family is None:
        return estimator.fit(X, y)
    if model is not estimator:  # a Pipeline: its own preprocessing steps fitted here
        X = estimator[:-1].fit_transform(X, y)
    family.fit(model, X, y, X, y, lambda booster, native: None, None)
    return estimator


def rounds_trial(config: dict[str, Any], *, setup: Any, dataset: Any) -> None:
    """The Tune trial of ``kind: rounds``: checkpoints restored and reported per step."""
    from raytuner.trainables.checkpointing import report_step, restore
    from raytuner.trainables.sklearn.estimator import build_estimator, make_splits

    restored = restore()
    train, valid = make_splits(setup.cv, dataset.X, dataset.y)[0]

    def on_step(step: int, metrics: dict[str, Any], state: RoundsState) -> None:
        report_step(metrics, step=step, state=state)

    train_rounds(build_estimator(setup, config), dataset.X, dataset.y, train, valid, steps=setup.fidelity.steps,
                 metric=setup.metric, restored=(restored.step, restored.state) if restored is not None else None,
                 on_step=on_step)
