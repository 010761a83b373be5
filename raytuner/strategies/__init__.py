"""The strategies registry: a name -> a small module that builds a Ray searcher.

Adding a strategy is one module and one line here.
"""

from __future__ import annotations

from raytuner.registry import Registry
from raytuner.strategies.base import SearchContext, Strategy

STRATEGIES: Registry[type[Strategy]] = Registry("strategy", "strategy.name")
STRATEGIES.add("random", "raytuner.strategies._basic:RandomStrategy", "random sampling of every parameter (seeded)")
STRATEGIES.add("grid", "raytuner.strategies._basic:GridStrategy", "every combination of grid/choice values (and int ranges), once")
STRATEGIES.add("manual", "raytuner.strategies._basic:ManualStrategy", "an explicit list of configs (strategy.options.configs), run in order")

__all__ = ["STRATEGIES", "SearchContext", "Strategy"]
