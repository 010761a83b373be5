"""XGBoost / LightGBM boosting rounds as the fidelity (no Ray: the training core and the spec checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from raytuner.errors import SpecError
from raytuner.runner.plan import make_plan
from raytuner.spec.loader import load_spec, validate_spec
from raytuner.trainables.sklearn.boosting import FAMILIES, RoundsState, boosting_family, train_rounds

xgboost = pytest.importorskip("xgboost")
lightgbm = pytest.importorskip("lightgbm")

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"
X, Y = load_breast_cancer(return_X_y=True)
TRAIN, VALID = np.arange(400), np.arange(400, len(Y))


def _xgb(**params: Any) -> Any:
    return xgboost.XGBClassifier(**{"n_estimators": 20, "max_depth": 2, "n_jobs": 1, **params})


def _lgbm(**params: Any) -> Any:
    return lightgbm.LGBMClassifier(**{"n_estimators": 20, "num_leaves": 4, "n_jobs": 1, "verbose": -1, **params})


MAKERS: dict[str, Callable[..., Any]] = {"xgboost": _xgb, "lightgbm": _lgbm}


def _run(estimator: Any, steps: int, restored: tuple[int, RoundsState] | None = None,
         metric: str = "neg_log_loss") -> list[tuple[int, dict[str, Any], RoundsState]]:
    reports: list[tuple[int, dict[str, Any], RoundsState]] = []
    train_rounds(estimator, X, Y, TRAIN, VALID, steps=steps, metric=metric, restored=restored,
                 on_step=lambda step, metrics, state: reports.append((step, metrics, state)))
    return reports


@pytest.mark.parametrize("library", sorted(MAKERS))
def test_one_report_per_round_step_matches_the_librarys_own_evals(library: str) -> None:
    model = MAKERS[library]()
    reports = _run(model, steps=4)
    assert [step for step, _, _ in reports] == [1, 2, 3, 4]
    assert [state.rounds for _, _, state in reports] == [5, 10, 15, 20]
    assert [m["rounds"] for _, m, _ in reports] == [5, 10, 15, 20]
    assert all("stopped_by" not in m for _, m, _ in reports)  # ran every round
    (native_name, native), = next(iter(model.evals_result_.values())).items()
    reported = [m[f"eval_{native_name}"] for _, m, _ in reports]
    assert reported == pytest.approx([native[r - 1] for r in (5, 10, 15, 20)])
    # the scikit-learn scorer is the library's log loss on the held-out fold, improving as it says
    scores = [m["neg_log_loss"] for _, m, _ in reports]
    assert scores == pytest.approx([-v for v in reported], rel=1e-4)
    assert scores == sorted(scores)
    assert reports[-1][1]["neg_log_loss"] == pytest.approx(-native[-1], rel=1e-4)


@pytest.mark.parametrize("library", sorted(MAKERS))
def test_accuracy_at_the_last_step_is_the_fitted_models(library: str) -> None:
    model = MAKERS[library]()
    reports = _run(model, steps=2, metric="accuracy")
    assert reports[-1][1]["accuracy"] == pytest.approx(model.score(X[VALID], Y[VALID]))


@pytest.mark.parametrize("library", sorted(MAKERS))
def test_native_early_stopping_ends_the_trial_early(library: str) -> None:
    model = MAKERS[library](n_estimators=300, learning_rate=1.0, early_stopping_rounds=3)
    reports = _run(model, steps=100)  # 3 rounds per step
    trained = len(next(iter(next(iter(model.evals_result_.values())).values())))  # rounds evaluated
    assert trained < 300
    assert len(reports) < 100
    assert reports[-1][2].rounds == trained  # the rounds the library stopped at, reported last
    assert reports[-1][1]["stopped_by"] == "early_stopping_rounds"
    assert all("stopped_by" not in m for _, m, _ in reports[:-1])


@pytest.mark.parametrize("library", sorted(MAKERS))
def test_a_restored_checkpoint_continues_its_rounds(library: str) -> None:
    full = _run(MAKERS[library](), steps=4)
    step, _, state = full[1]  # after 10 rounds
    resumed_model = MAKERS[library]()
    resumed = _run(resumed_model, steps=4, restored=(step, state))
    assert [(s, st.rounds) for s, _, st in resumed] == [(3, 15), (4, 20)]  # not from round 0
    assert [m["neg_log_loss"] for _, m, _ in resumed] == pytest.approx([m["neg_log_loss"] for _, m, _ in full[2:]])
    assert len(next(iter(next(iter(resumed_model.evals_result_.values())).values()))) == 10  # 10 new rounds


def test_a_restored_trial_takes_its_mutated_config() -> None:
    _, _, state = _run(_xgb(), steps=4)[1]
    slow = _run(_xgb(learning_rate=1e-6), steps=4, restored=(2, state))
    fast = _run(_xgb(learning_rate=0.3), steps=4, restored=(2, state))
    assert slow[0][2].rounds == fast[0][2].rounds == 15
    assert slow[-1][1]["neg_log_loss"] < fast[-1][1]["neg_log_loss"]


def test_families_say_what_they_can_do() -> None:
    assert set(FAMILIES) == {"xgboost", "lightgbm"}
    assert all(family.native_categorical for family in FAMILIES.values())
    assert boosting_family(_xgb()).library == "xgboost"
    assert boosting_family(lightgbm.LGBMRegressor()).library == "lightgbm"
    from sklearn.ensemble import RandomForestClassifier

    assert boosting_family(RandomForestClassifier()) is None


def _spec(**trainable: Any) -> dict[str, Any]:
    raw = load_spec(EXPERIMENTS / "xgboost_asha.yaml").to_data()
    raw["trainable"].update(trainable)
    return raw


def test_rounds_on_a_non_boosting_estimator_is_a_spec_error() -> None:
    raw = _spec(estimator="sklearn.ensemble.RandomForestClassifier", params={})
    raw["space"] = {"max_depth": {"type": "int", "low": 2, "high": 8}}
    with pytest.raises(SpecError, match="trainable.fidelity.kind: got 'rounds'.*RandomForestClassifier is no boosting"):
        make_plan(validate_spec(raw))


def test_rounds_refuses_cv_validation_and_more_steps_than_rounds() -> None:
    raw = _spec()
    raw["trainable"]["fidelity"] = {"kind": "rounds", "steps": 10, "validation": "cv"}
    with pytest.raises(SpecError, match="trainable.fidelity.validation: got 'cv'; expected 'holdout'"):
        make_plan(validate_spec(raw))
    raw["trainable"]["fidelity"] = {"kind": "rounds", "steps": 300}
    with pytest.raises(SpecError, match="trainable.fidelity.steps: got 300; expected at most n_estimators"):
        make_plan(validate_spec(raw))


def test_rounds_plan_has_steps_as_max_t_and_holdout_validation() -> None:
    plan = make_plan(load_spec(EXPERIMENTS / "lightgbm_asha.yaml"))
    assert plan.trainable.max_steps() == 10
    setup = plan.trainable.setup()
    assert setup.fidelity.kind == "rounds" and setup.fidelity.validation == "holdout"


def test_a_missing_boosting_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost -> ImportError(name='xgboost')
    with pytest.raises(SpecError, match=r"pip install 'raytuner\[xgboost\]'"):
        make_plan(load_spec(EXPERIMENTS / "xgboost_asha.yaml"))


def test_final_fit_has_no_early_stopping_and_the_rounds_the_trial_kept() -> None:
    from raytuner.trainables.sklearn.boosting import final_estimator

    model = final_estimator(_xgb(n_estimators=200, early_stopping_rounds=5),
                            {"rounds": 40, "stopped_by": "early_stopping_rounds"})
    assert model.get_params()["early_stopping_rounds"] is None and model.n_estimators == 35
    assert final_estimator(_lgbm(n_estimators=50, early_stopping_rounds=5), {"rounds": 50}).n_estimators == 50
    model.fit(X, Y)  # no eval_set needed
    assert model.get_booster().num_boosted_rounds() == 35


@pytest.mark.parametrize("library", sorted(MAKERS))
def test_category_columns_are_taken_natively(library: str) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "green", "blue", "grey"], size=len(Y))
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"]).assign(colour=pd.Categorical(colour))
    target = ((colour == "red") | (colour == "blue")).astype(int)  # only the category says it
    reports: list[dict[str, Any]] = []
    model = MAKERS[library](min_child_weight=0) if library == "xgboost" else MAKERS[library](min_child_samples=2)
    train_rounds(model, frame, target, TRAIN, VALID, steps=2, metric="accuracy", restored=None,
                 on_step=lambda step, metrics, state: reports.append(metrics))
    assert reports[-1]["accuracy"] == 1.0
    assert FAMILIES[library].native_categorical


def test_early_stopping_by_the_library_is_credited_to_it_not_the_scheduler() -> None:
    from raytuner.results.summary import TrialRecord
    from raytuner.runner.scheduling import StopReasons, _early_stopping

    def trial(name: str, steps: int, **metrics: Any) -> TrialRecord:
        return TrialRecord(trial_id=name, status="ok", config={}, score=1.0, steps=steps, time_s=0.1, metrics=metrics)

    trials = [trial("full", 10), trial("own", 4, stopped_by="early_stopping_rounds"), trial("cut", 2)]
    early = _early_stopping(trials, 10, StopReasons())
    assert early.stop_reasons == {"cut": "scheduler", "own": "early_stopping_rounds"}
    assert early.stopped_by == {"early_stopping_rounds": 1, "scheduler": 1}
