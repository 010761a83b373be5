"""auto: pick a strategy and a scheduler from the space, the budget and the trainable.

The rules, first match wins (a candidate that cannot search the space, e.g. cmaes with
one parameter, gives way to the next rule):

1. several metrics                          -> nsga2 (multi-objective)
2. grid parameters                          -> grid
3. a choice of sub-spaces (conditional)     -> optuna-tpe (models each branch on its own trials)
4. budget below max(10, 2 x parameters)     -> random (too few trials to fit a model)
5. any choice parameter                     -> optuna-tpe (TPE models categories natively)
6. numbers only, <= GP_MAX_PARAMS parameters and <= GP_MAX_TRIALS trials
                                            -> optuna-gp (Optuna's GPSampler: the most
                                               sample-efficient at small budgets)
7. numbers only, 2+ parameters              -> cmaes (scales to many parameters and trials)
8. otherwise                                -> optuna-tpe

Rules 6 and 7 (and their switch points) were chosen on the TUNING problems of
``scripts/bench_strategies.py`` (``scripts/benchproblems.py``: Branin, Hartmann6,
Rosenbrock-10 and fifteen BBOB functions in 2, 5 and 10 dimensions) and checked on its
held-back CHECK problems (nine other BBOB functions); the figures are in BENCHMARKS.md /
the README. On the tuning set (40 evaluations, 2 seeds) cmaes beat optuna-gp on 4 of the
six 10-d problems and optuna-gp won or came close on the 2- to 6-d ones, so the switch sits
between 6 and 10 parameters (8; no problem of 7 to 9 parameters was measured). The trial
cap (200) is not from the bench: GPSampler's cost per suggestion grows with the trials. Parallelism (max_concurrent) does not enter the rule: Optuna's GPSampler
conditions on running trials, and no bench problem measured it.

auto never silently changes strategy: when the chosen one's package is missing, that is
a DependencyError naming the extra (``pip install 'raytuner[search]'``), so one spec
searches the same way on a laptop and on a cluster (#17).

Scheduler (only when the spec names none): ``asha`` when a trial reports once per
step (epochs, folds, a generator function) and the number of steps is known, else ``fifo``.
"""

from __future__ import annotations

from typing import Any

from raytuner.errors import DependencyError, RaytunerError
from raytuner.spec.params import iter_params
from raytuner.strategies.base import Choice, SearchContext, Strategy


# Where the Gaussian process (optuna-gp) gives way to CMA-ES, chosen on the tuning set of
# scripts/bench_strategies.py (scripts/benchproblems.py: TUNING) and checked on its CHECK set.
GP_MAX_PARAMS = 8  # the tuning set: cmaes wins at 10, optuna-gp at 2 to 6
GP_MAX_TRIALS = 200


class AutoStrategy(Strategy):
    name = "auto"
    supports = frozenset({"float", "int", "choice", "grid", "fixed", "conditional"})
    multi_objective = True  # hands several metrics to nsga2

    def candidates(self, ctx: SearchContext) -> list[tuple[str, str]]:
        kinds = [p.type for _, p in iter_params(ctx.space) if p.type != "fixed"]
        d = len(kinds)
        n = ctx.trials or self.default_trials
        out: list[tuple[str, str]] = []
        if len(ctx.objectives) > 1:
            return [("nsga2", f"{len(ctx.objectives)} metrics: multi-objective search")]
        if "grid" in kinds:
            return [("grid", "the space has grid parameters")]
        if "conditional" in kinds:
            return [("optuna-tpe", "a choice of sub-spaces: TPE models each branch on the trials that chose it")]
        if n < max(10, 2 * d):
            out.append(("random", f"{n} trials are too few to fit a model over {d} parameter(s)"))
        if "choice" in kinds:
            out.append(("optuna-tpe", "categorical parameters: TPE models them natively"))
        elif d <= GP_MAX_PARAMS and n <= GP_MAX_TRIALS:
            out.append(("optuna-gp", f"{d} numeric parameter(s) and {n} trials: a Gaussian process is the most "
                                     f"sample-efficient (up to {GP_MAX_PARAMS} parameters and {GP_MAX_TRIALS} trials)"))
        if "choice" not in kinds and d >= 2:
            why = f"more than {GP_MAX_PARAMS} parameters" if d > GP_MAX_PARAMS else f"more than {GP_MAX_TRIALS} trials"
            out.append(("cmaes", f"{d} numeric parameters and {n} trials ({why}): CMA-ES scales to many of both"))
        out.append(("optuna-tpe", "a robust default for mixed spaces"))
        return out

    def choose(self, ctx: SearchContext) -> Choice:
        from raytuner.spec.loader import validate_options
        from raytuner.strategies import STRATEGIES

        for name, reason in self.candidates(ctx):
            cls = STRATEGIES.get(name)
            strategy = cls(validate_options(cls.Options, {}, "strategy.options"))
            try:
                strategy.check(ctx)
            except DependencyError as exc:  # never fall back to another search: say what to install
                raise DependencyError(
                    f"strategy 'auto' chose '{name}' ({reason}); {exc} "
                    f"(or name a strategy in strategy.name, see `raytuner strategies`)"
                ) from None
            except RaytunerError:
                continue
            scheduler, why = self.scheduler(ctx)
            return Choice(strategy, scheduler, f"auto: strategy {name} ({reason}); scheduler {scheduler} ({why})")
        raise RaytunerError("auto: no strategy can search this space")  # optuna-tpe always can

    def scheduler(self, ctx: SearchContext) -> tuple[str, str]:
        if not ctx.iterative:
            return "fifo", "a trial reports once: nothing to stop early"
        if ctx.reports_per_trial is None:
            return "fifo", "trials report per step, but how many is unknown (set stop.max_steps for asha)"
        return "asha", "trials report per step: stop poor ones early"

    def searcher(self, ctx: SearchContext) -> Any:
        return self.choose(ctx).strategy.searcher(ctx)

    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        return self.choose(ctx).strategy.param_space(ctx)

    def num_samples(self, ctx: SearchContext) -> int:
        return self.choose(ctx).strategy.num_samples(ctx)
