"""The strategies registry: a name -> a small module that builds a Ray searcher.

Adding a strategy is one module and one line here.
"""

from __future__ import annotations

from raytuner.spec.registry import Registry
from raytuner.strategies.base import SearchContext, Strategy

STRATEGIES: Registry[type[Strategy]] = Registry("strategy", "strategy.name")
STRATEGIES.add("random", "raytuner.strategies._basic:RandomStrategy", "random sampling of every parameter (seeded)")
STRATEGIES.add("grid", "raytuner.strategies._basic:GridStrategy", "every combination of grid/choice values (and int ranges), once")
STRATEGIES.add("manual", "raytuner.strategies._basic:ManualStrategy", "an explicit list of configs (strategy.options.configs), run in order")
STRATEGIES.add("tpe", "raytuner.strategies._hyperopt:TpeStrategy", "Tree-structured Parzen Estimator (hyperopt)")
STRATEGIES.add("bayesopt", "raytuner.strategies._bayesopt:BayesOptStrategy", "Gaussian-process Bayesian optimisation (bayes_opt; integers and choices encoded)")
STRATEGIES.add("skopt", "raytuner.strategies._skopt:SkoptStrategy", "scikit-optimize: GP / random forest / extra trees / GBRT surrogate")
STRATEGIES.add("optuna-tpe", "raytuner.strategies._optuna:OptunaTpeStrategy", "Optuna's TPE sampler")
STRATEGIES.add("optuna-gp", "raytuner.strategies._optuna:OptunaGpStrategy", "Optuna's Gaussian-process sampler (needs torch)")
STRATEGIES.add("cmaes", "raytuner.strategies._optuna:CmaesStrategy", "CMA-ES evolution strategy (Optuna), numeric spaces of 2+ parameters")
STRATEGIES.add("nsga2", "raytuner.strategies._optuna:Nsga2Strategy", "NSGA-II (Optuna): multi-objective, a Pareto front of several metrics")
STRATEGIES.add("pso", "raytuner.strategies._nevergrad:PsoStrategy", "particle swarm optimisation (nevergrad)")
STRATEGIES.add("de", "raytuner.strategies._nevergrad:DeStrategy", "differential evolution, two-points crossover (nevergrad)")
STRATEGIES.add("ga", "raytuner.strategies._nevergrad:GaStrategy", "genetic algorithm: recombination, mutation, (mu+lambda) selection (nevergrad)")
STRATEGIES.add("bohb", "raytuner.strategies._bohb:BohbStrategy", "BOHB's model (hpbandster); pair with the bohb scheduler for HyperBand")
STRATEGIES.add("auto", "raytuner.strategies._auto:AutoStrategy", "picks a strategy and scheduler from the space, budget and trainable; says why")

__all__ = ["STRATEGIES", "SearchContext", "Strategy"]
