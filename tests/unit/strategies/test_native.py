"""Our mapping loses nothing: on a float space a strategy asks exactly what its native library asks."""

from __future__ import annotations

from typing import Any

import pytest

from raytuner.spec.params import parse_space
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


def test_skopt_matches_optimizer_ask_tell() -> None:
    from threadpoolctl import threadpool_limits
    from skopt import Optimizer
    from skopt.space import Real

    asked: list[float] = []
    with threadpool_limits(1):
        opt = Optimizer([Real(*BOUNDS[k]) for k in BOUNDS], base_estimator="GP", acq_func="gp_hedge",
                        n_initial_points=10, random_state=4)  # our defaults, spelled out
        for _ in range(12):
            x = [float(v) for v in opt.ask()]
            asked.extend(x)
            opt.tell(x, branin(dict(zip(BOUNDS, x)))["value"])
        assert ours("skopt", 12) == pytest.approx(asked)


@pytest.mark.filterwarnings("ignore::UserWarning")  # nevergrad: "ES algorithms are inefficient with budget < 60"
@pytest.mark.parametrize("name", ["pso", "de", "ga"])
def test_nevergrad_strategies_match_minimize(name: str) -> None:
    """A user's nevergrad run over the problem's own bounds (a Dict of bounded scalars).

    Equal up to float round-off, which can matter in one place: nevergrad's archive keys
    points by their exact bytes, so when DE proposes a point it already tried, one side may
    see a repeat and the other a new point. Seed 1 has no such repeat in 16 trials (seeds 0
    and 4 do, and DE parts there at the trial after the repeat)."""
    import nevergrad as ng
    import numpy as np

    n = 16  # our default population for 16 trials: 4, so pso, de and ga all breed past the first one
    optimizer = {
        "pso": ng.families.ConfPSO(popsize=4),
        "de": ng.families.DifferentialEvolution(crossover="twopoints", popsize=4),
        "ga": ng.families.EvolutionStrategy(recombination_ratio=1.0, popsize=4, offsprings=4, only_offsprings=False),
    }[name]
    param = ng.p.Dict(**{k: ng.p.Scalar(lower=lo, upper=hi) for k, (lo, hi) in BOUNDS.items()})
    param.random_state = np.random.RandomState(1)
    asked: list[float] = []

    def f(config: dict[str, float]) -> float:
        asked.extend((config["x1"], config["x2"]))
        return branin(config)["value"]

    optimizer(parametrization=param, budget=n, num_workers=1).minimize(f)
    assert ours(name, n, seed=1) == pytest.approx(asked)
