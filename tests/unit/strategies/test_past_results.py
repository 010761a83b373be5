"""A warm start on the same task tells a model-based searcher the past scores (no re-run):
each searcher's own state holds them afterwards, with the right sign, and the next
suggestions are new configs, not the told ones."""

from __future__ import annotations

from typing import Any

import pytest

from raytuner.spec.params import parse_space
from raytuner.strategies import STRATEGIES, SearchContext

SPACE = {"x1": {"type": "float", "low": -5.0, "high": 10.0}, "x2": {"type": "float", "low": 0.0, "high": 15.0}}
PAST = [({"x1": 1.0, "x2": 2.0}, 0.5), ({"x1": 3.0, "x2": 4.0}, 0.25), ({"x1": -2.0, "x2": 9.0}, 0.75)]


def guarded(name: str, mode: str = "max", evaluated: list[tuple[dict[str, Any], float]] = PAST) -> Any:
    ctx = SearchContext(space=parse_space(SPACE), metric="score", mode=mode, seed=3, trials=10,
                        points_to_evaluate=[{"x1": 0.0, "x2": 0.0}], evaluated=list(evaluated))
    return STRATEGIES.get(name)().guarded(ctx)


def test_optuna_study_holds_the_past_trials_as_complete() -> None:
    import optuna

    inner = guarded("optuna-tpe").inner
    trials = inner._ot_study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted((t.params["x1"], t.params["x2"], t.value) for t in done) == sorted(
        (c["x1"], c["x2"], s) for c, s in PAST)
    assert inner._ot_study.direction == optuna.study.StudyDirection.MAXIMIZE


def test_hyperopt_trials_hold_the_past_losses_negated_for_max() -> None:
    g = guarded("tpe")
    docs = [t for t in g.inner._hpopt_trials.trials if t["result"].get("status") == "ok"]
    assert sorted(t["result"]["loss"] for t in docs) == sorted(-s for _, s in PAST)
    first = g.suggest("t1")  # the seeded point comes next, then the sampler's own configs
    assert (first["x1"], first["x2"]) == (0.0, 0.0)


def test_skopt_optimizer_was_told_the_past_losses() -> None:
    opt = guarded("skopt", mode="min").inner.opt
    assert sorted(opt.yi) == sorted(s for _, s in PAST)
    assert len(opt.Xi) == len(PAST)


@pytest.mark.parametrize("name", ["bayesopt", "pso"])
def test_ask_tell_searchers_suggest_new_configs_after_the_past_ones(name: str) -> None:
    g = guarded(name)
    told = {(c["x1"], c["x2"]) for c, _ in PAST}
    suggested = [g.suggest(f"t{i}") for i in range(3)]
    assert (suggested[0]["x1"], suggested[0]["x2"]) == (0.0, 0.0)
    assert all((s["x1"], s["x2"]) not in told for s in suggested)
    assert not g.inner.live or set(g.inner.live) == {"t0", "t1", "t2"}


def test_strategies_that_do_not_learn_from_results_are_told_nothing() -> None:
    ctx = SearchContext(space=parse_space(SPACE), metric="score", mode="max", evaluated=list(PAST))
    assert STRATEGIES.get("random")().past_results(ctx) == []
    assert STRATEGIES.get("optuna-tpe")().past_results(ctx) == PAST
    multi = SearchContext(space=parse_space(SPACE), metric="a", mode="max", evaluated=list(PAST),
                          objectives=(("a", "max"), ("b", "min")))
    assert STRATEGIES.get("nsga2")().past_results(multi) == []  # one score cannot stand for two objectives
