"""The problems of the strategy benchmark (scripts/bench_strategies.py): known-optimum functions,
split into a fixed TUNING set (the problems `auto`'s rule was chosen on) and a held-back CHECK set
(never looked at while choosing it; only to check the rule).

* classic (raytuner.testing): Branin (2-d), Hartmann6 (6-d), Rosenbrock-10 ([-2, 2]^10): tuning set.
* BBOB (the `coco-experiment` package, module ``cocoex``; its C functions run offline), instance 1,
  domain [-5, 5]^d. Each of the five BBOB groups (separable; low or moderate conditioning; high
  conditioning; multimodal with global structure; multimodal, weak structure) has one function in
  2-d, 5-d and 10-d in the tuning set; the nine functions left over are the check set, again
  spread over the groups and dimensions.

Regret is f(x) - f_opt; BBOB's f_opt is f at the problem's optimum, which cocoex writes to a file
(``Problem._best_parameter("print")``), read once per problem in a scratch directory.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

from raytuner import testing

# (function, dimension), fixed: the rule of `auto` was chosen on TUNING only
BBOB_TUNING = [(1, 2), (3, 5), (4, 10), (6, 2), (7, 5), (8, 10), (10, 5), (12, 2), (13, 10),
               (15, 10), (17, 2), (18, 5), (20, 5), (21, 10), (23, 2)]
BBOB_CHECK = [(2, 5), (5, 2), (9, 10), (11, 5), (14, 2), (16, 10), (19, 5), (22, 2), (24, 10)]


class Bbob:
    """One BBOB function (instance 1) as a benchmark objective over keys x0..x{d-1}; picklable
    (the cocoex problem is built lazily in the process that evaluates it)."""

    def __init__(self, function: int, dimension: int) -> None:
        self.function, self.dimension = function, dimension
        self._problem: Any = None
        self._fopt = math.nan

    def __getstate__(self) -> dict[str, Any]:
        return {"function": self.function, "dimension": self.dimension}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["function"], state["dimension"])  # type: ignore[misc]

    def _load(self) -> Any:
        if self._problem is None:
            import cocoex
            import numpy as np

            cocoex.log_level("error")
            suite = cocoex.Suite("bbob", "", f"dimensions:{self.dimension} instance_indices:1 function_indices:{self.function}")
            problem = suite.get_problem_by_function_dimension_instance(self.function, self.dimension, 1)
            here = os.getcwd()
            with tempfile.TemporaryDirectory() as scratch:
                os.chdir(scratch)
                try:
                    problem._best_parameter("print")
                    xopt = np.loadtxt("._bbob_problem_best_parameter.txt").reshape(-1)
                finally:
                    os.chdir(here)
            self._fopt = float(problem(xopt))
            self._problem = problem
        return self._problem

    @property
    def fopt(self) -> float:
        self._load()
        return self._fopt

    def __call__(self, config: dict[str, Any]) -> dict[str, float]:
        problem = self._load()
        value = float(problem([float(config[f"x{i}"]) for i in range(self.dimension)]))
        return {"value": value, "regret": max(value - self._fopt, 0.0)}


@dataclass(frozen=True)
class Problem:
    name: str
    fn: Callable[[dict[str, Any]], dict[str, float]]
    bounds: dict[str, tuple[float, float]]
    group: str  # "tuning" or "check"

    @property
    def dimension(self) -> int:
        return len(self.bounds)


def _bbob(function: int, dimension: int, group: str) -> Problem:
    return Problem(f"bbob-f{function:02d}-d{dimension}", Bbob(function, dimension),
                   {f"x{i}": (-5.0, 5.0) for i in range(dimension)}, group)


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem("branin", testing.branin, {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, "tuning"),
        Problem("hartmann6", testing.hartmann6, {f"x{i}": (0.0, 1.0) for i in range(6)}, "tuning"),
        Problem("rosenbrock10", testing.rosenbrock, {f"x{i}": (-2.0, 2.0) for i in range(10)}, "tuning"),
        *(_bbob(f, d, "tuning") for f, d in BBOB_TUNING),
        *(_bbob(f, d, "check") for f, d in BBOB_CHECK),
    ]
}
TUNING = [name for name, p in PROBLEMS.items() if p.group == "tuning"]
CHECK = [name for name, p in PROBLEMS.items() if p.group == "check"]
