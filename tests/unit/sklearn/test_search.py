"""TuneSearchCV before Ray: the space it builds, the checks it makes, and cv_results_ from a summary."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import loguniform, norm, randint, uniform
from sklearn.datasets import load_iris
from sklearn.svm import SVC

from raytuner.errors import SpecError
from raytuner.spec.params import ChoiceParam, FixedParam, FloatParam, IntParam
from raytuner.sklearn import TuneSearchCV, to_space


def test_to_space_converts_lists_scipy_and_dsl() -> None:
    space, decoder = to_space({
        "C": loguniform(1e-3, 10), "tol": uniform(0.1, 2), "n": randint(1, 5), "kernel": ["rbf", "linear"],
        "one": [3], "est": [SVC(), SVC(C=2)], "shape": [(1,), (2, 2)],
        "lr": {"type": "float", "low": 0.01, "high": 1.0, "log": True},
    })
    assert space["C"] == FloatParam(low=1e-3, high=10.0, log=True)
    assert space["tol"] == FloatParam(low=0.1, high=2.1)
    assert space["n"] == IntParam(low=1, high=4)  # randint's high is exclusive; ours inclusive
    assert space["kernel"] == ChoiceParam(values=["rbf", "linear"])
    assert space["one"] == FixedParam(value=3)
    assert space["lr"] == FloatParam(low=0.01, high=1.0, log=True)
    assert space["est"].values == ["SVC()", "SVC(C=2)"]
    decoded = decoder.decode({"est": "SVC(C=2)", "shape": "(2, 2)", "kernel": "rbf"})
    assert decoded["est"].C == 2 and decoded["shape"] == (2, 2) and decoded["kernel"] == "rbf"



@pytest.mark.parametrize("bad, error", [
    ({"C": norm(0, 1)}, "no raytuner equivalent"),
    ({"C": 1.0}, "needs to be a list"),
    ({"C": []}, "non-empty"),
    ([], "empty list"),
])
def test_to_space_rejects_what_it_cannot_express(bad: object, error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        to_space(bad)  # type: ignore[arg-type]



def test_a_list_of_dicts_is_a_choice_of_sub_spaces() -> None:
    from raytuner.sklearn.distributions import grid_points

    grids = [{"kernel": ["linear"], "C": [1, 10]}, {"kernel": ["rbf"], "C": [1, 10], "gamma": [0.1, 0.01]}]
    space, decoder = to_space(grids)
    assert space["subspace"] == ChoiceParam(values=[0, 1])
    assert set(space) == {"subspace", "kernel@0", "C@0", "kernel@1", "C@1", "gamma@1"}
    assert decoder.decode({"subspace": 0, "kernel@0": "linear", "C@0": 10, "kernel@1": "rbf", "C@1": 1,
                           "gamma@1": 0.1}) == {"kernel": "linear", "C": 10}
    points = [decoder.decode(p) for p in grid_points(space, decoder)]
    from sklearn.model_selection import ParameterGrid

    assert sorted(repr(dict(sorted(p.items()))) for p in points) == sorted(repr(dict(sorted(p.items()))) for p in ParameterGrid(grids))



def test_unknown_parameter_fails_before_ray() -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="Invalid parameter 'Cee'"):
        TuneSearchCV(SVC(), {"Cee": [1.0]}).fit(X, y)



def _needs_options(cls: type) -> bool:
    return any(field.is_required() for field in cls.Options.model_fields.values())



def test_every_registered_strategy_and_scheduler_accepts_a_tunesearchcv_spec(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Plan-level (no Ray): each registry entry validates TuneSearchCV's spec and in-memory inputs,
    with one report per fold as the schedulers' time axis."""
    from raytuner.runner.plan import make_plan
    from raytuner.schedulers import SCHEDULERS
    from raytuner.strategies import STRATEGIES

    X, y = load_iris(return_X_y=True)
    checked = []
    for kind, registry in (("strategy", STRATEGIES), ("scheduler", SCHEDULERS)):
        for name in registry.names():
            if _needs_options(registry.get(name)):
                continue  # e.g. manual: its configs come from options, not param_distributions
            search = TuneSearchCV(SVC(), {"C": [0.1, 1.0], "kernel": ["rbf", "linear"]}, cv=3, n_trials=4,
                                  random_state=0, **{kind: name})
            spec, inputs, _ = search._prepare(X, y, {}, str(tmp_path))
            if kind == "strategy" and "choice" not in registry.get(name).supports:
                with pytest.raises(SpecError, match="parameter kind"):  # e.g. cmaes: numbers only
                    make_plan(spec, inputs)
                continue
            if kind == "scheduler" and registry.get(name).needs_checkpoints:
                # TuneSearchCV's in-memory trials (scikit-learn's _fit_and_score per fold) keep
                # no checkpoints: schedulers that pause/clone trials refuse them before Ray starts
                with pytest.raises(SpecError):
                    make_plan(spec, inputs)
                continue
            plan = make_plan(spec, inputs)
            assert plan.trainable.inputs is inputs and plan.schedule.max_steps == 3
            checked.append(name)
    assert {"random", "grid", "fifo"} <= set(checked)



def test_early_stopped_candidates_rank_last_with_nan_for_unrun_folds() -> None:
    """What a scheduler's early stop looks like in cv_results_ (no Ray: a summary as the runner writes it)."""
    from raytuner.results.summary import Summary, TrialRecord
    from raytuner.sklearn.distributions import Decoder

    def trial(tid: str, C: float, scores: list[float]) -> TrialRecord:
        metrics = {}
        for i, s in enumerate(scores):
            metrics.update({f"split{i}_test_score": s, f"split{i}_fit_time": 0.1, f"split{i}_score_time": 0.01,
                            f"split{i}_n_test_samples": 50, f"split{i}_fit_error": ""})
        return TrialRecord(tid, "ok", {"C": C}, float(np.mean(scores)), len(scores), 1.0, metrics=metrics)

    summary = Summary("s", "/tmp/x", "test_score", "max", "random", "asha", "", 1.0,
                      [trial("a", 1.0, [0.9, 0.92, 0.91]), trial("b", 2.0, [0.99]), trial("c", 3.0, [0.8, 0.85, 0.82])], None)
    search = TuneSearchCV(SVC(), {"C": [1.0, 2.0, 3.0]})
    search.n_splits_ = 3
    results, out = search._results(summary, Decoder(), None)
    assert np.isnan(results["split1_test_score"][1]) and np.isnan(results["mean_test_score"][1])
    assert results["rank_test_score"].tolist() == [1, 3, 2]  # b scored 0.99 on one fold but stopped early
    assert results["params"][int(np.argmin(results["rank_test_score"]))] == {"C": 1.0}
