"""Our mapping loses nothing: on a float space a strategy asks exactly what its native library asks."""

from __future__ import annotations

from typing import Any

import pytest

from raytuner.params import parse_space
from raytuner.strategies import STRATEGIES, SearchContext
from raytuner.strategies.drive import drive
from raytuner.testing import branin

BOUNDS = {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}


def ours(name: str, n: int, seed: int = 4) -> list[float]:
    space = parse_space({k: {"type": "float", "low": lo, "high": hi} for k, (lo, hi) in BOUNDS.items()})
    ctx = SearchContext(space=space, metric="value", mode="min", seed=seed, trials=n, max_concurrent=1)
    configs = drive(STRATEGIES.get(name)(), ctx, branin, n).configs
    return [v for c in configs for v in (c["x1"], c["x2"])]


def native_optuna(sampler: Any, n: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: branin({k: t.suggest_float(k, *BOUNDS[k]) for k in BOUNDS})["value"], n_trials=n)
    return [v for t in study.trials for v in (t.params["x1"], t.params["x2"])]


@pytest.mark.parametrize("name", ["optuna-tpe", "cmaes"])
def test_optuna_strategies_match_study_optimize(name: str) -> None:
    import optuna

    sampler = {"optuna-tpe": optuna.samplers.TPESampler(seed=4), "cmaes": optuna.samplers.CmaEsSampler(seed=4)}[name]
    assert ours(name, 13) == pytest.approx(native_optuna(sampler, 13))


def test_bayesopt_matches_bayes_opt_maximize() -> None:
    from threadpoolctl import threadpool_limits
    from bayes_opt import BayesianOptimization

    asked: list[float] = []

    def f(x1: float, x2: float) -> float:
        asked.extend((float(x1), float(x2)))
        return -branin({"x1": x1, "x2": x2})["value"]

    with threadpool_limits(1):
        opt = BayesianOptimization(f=f, pbounds=BOUNDS, random_state=4, verbose=0, allow_duplicate_points=True)
        opt.maximize(init_points=5, n_iter=15)
        assert ours("bayesopt", 20) == asked  # the same 20 configs, bit for bit


def test_tpe_matches_hyperopt_fmin() -> None:
    """25 configs: the 20 random startup points and 5 from TPE's model."""
    import hyperopt
    import numpy as np

    asked: list[float] = []

    def f(config: dict[str, float]) -> float:
        asked.extend((float(config["x1"]), float(config["x2"])))
        return branin(config)["value"]

    space = {k: hyperopt.hp.uniform(k, *BOUNDS[k]) for k in BOUNDS}
    hyperopt.fmin(f, space, algo=hyperopt.tpe.suggest, max_evals=25, rstate=np.random.default_rng(4),
                  show_progressbar=False)
    assert ours("tpe", 25) == asked
