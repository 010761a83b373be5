"""Every registered strategy keeps raytuner.testing.strategies.StrategyContract (no Ray).

Real Ray runs live in tests/integration/test_strategies.py.
"""

from __future__ import annotations

from typing import Any

from raytuner.strategies import STRATEGIES
from raytuner.testing.strategies import contract_for

# Short warm-ups so an 8-trial drive reaches each model's own suggestions.
FAST: dict[str, dict[str, Any]] = {
    "tpe": {"n_initial_points": 3},
    "bayesopt": {"n_initial_points": 5},
    "skopt": {"n_initial_points": 5},
    "optuna-tpe": {"n_startup_trials": 3},
    "optuna-gp": {"n_startup_trials": 5},
    "nsga2": {"population_size": 4},
    "bohb": {"min_points_in_model": 3},
    "manual": {"configs": [{"x": 1.0, "act": "relu"}, {"x": -2.0, "act": None}, {"x": 4.0, "act": 3}]},
}
# The spaces of the strategies that do not search the contract's mixed space.
SPACES: dict[str, dict[str, Any]] = {
    "grid": {
        "x": {"type": "grid", "values": [-1.0, 2.0]},
        "act": {"type": "choice", "values": ["relu", None, 3]},
        "n": {"type": "int", "low": 1, "high": 10, "step": 3},
        "const": 7,
    },
    "manual": {"const": 7},
}

for _name in STRATEGIES.names():
    _cls = contract_for(_name, options=FAST.get(_name, {}), space=SPACES.get(_name))
    globals()[_cls.__name__] = _cls
del _name, _cls
