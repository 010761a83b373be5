"""Drive a strategy's searcher in-process, without Ray trials (conformance tests, benchmarks).

It makes the same calls Ray Tune makes (``suggest``, ``on_trial_complete``) on the
same ``Guarded`` searcher the runner hands to the Tuner, with at most
``concurrent`` trials in flight, completing the oldest first.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from raytuner.strategies.base import SearchContext, Strategy

Objective = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Evaluation:
    trial_id: str
    config: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None = None


@dataclass
class Drive:
    evaluations: list[Evaluation]
    searcher: Any  # the Guarded searcher
    search_s: float  # time spent inside the searcher (suggest + on_trial_complete)
    suggestions: int

    @property
    def configs(self) -> list[dict[str, Any]]:
        return [e.config for e in self.evaluations]

    @property
    def s_per_suggestion(self) -> float:
        return self.search_s / max(self.suggestions, 1)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def drive(
    strategy: Strategy,
    ctx: SearchContext,
    objective: Objective,
    n: int | None = None,
    *,
    concurrent: int | None = None,
) -> Drive:
    """Run ``n`` evaluations (default: the strategy's num_samples) of ``objective``."""
    generator = strategy.searcher(ctx)
    searcher = generator.searcher
    fixed = strategy.param_space(ctx)
    total = n if n is not None else strategy.num_samples(ctx)
    width = concurrent or ctx.max_concurrent or 1
    pending: deque[tuple[str, dict[str, Any]]] = deque()
    evaluations: list[Evaluation] = []
    search_s = 0.0
    suggestions = 0
    counter = 0
    finished = False
    while len(evaluations) < total:
        while not finished and len(pending) < width and len(pending) + len(evaluations) < total:
            trial_id = f"t{counter:05d}"
            start = time.perf_counter()
            config = searcher.suggest(trial_id)
            search_s += time.perf_counter() - start
            if config is None:
                break
            if config == "FINISHED":
                finished = True
                break
            counter += 1
            suggestions += 1
            pending.append((trial_id, merge(fixed, config)))
        if not pending:
            break
        trial_id, config = pending.popleft()
        try:
            result: dict[str, Any] | None = objective(config)
            error = None
        except Exception as exc:  # a failed trial: reported to the searcher, never raised
            result, error = None, f"{type(exc).__name__}: {exc}"
        start = time.perf_counter()
        searcher.on_trial_complete(trial_id, result=result, error=error is not None)
        search_s += time.perf_counter() - start
        evaluations.append(Evaluation(trial_id, config, result, error))
    return Drive(evaluations, searcher, search_s, suggestions)

