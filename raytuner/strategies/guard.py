"""The one Searcher Ray sees for every strategy: decoding, concurrency and bad results.

``Guarded`` wraps a searcher that works in the encoded space of
:class:`raytuner.strategies.codec.Codec` and

* turns its suggestions into exact configs (bounds, integer steps, choice values);
* limits the trials in flight to ``max_concurrent`` itself (so Ray's
  ``ConcurrencyLimiter``, which hides ``on_pause``/``on_unpause`` from BOHB's
  scheduler, is never needed);
* turns a result whose metric is missing, NaN or infinite (or that the metrics rule,
  ``raytuner.results.metric_rule``, rewrote with the worst value) into a failed trial,
  so a model never sees a non-finite or stand-in value, and tells the searcher ``result=None`` for
  every failure (Optuna's wrapper would otherwise record an errored trial's last
  value as complete).
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.search_generator import SearchGenerator

from raytuner.results.metric_rule import flagged
from raytuner.strategies.codec import Codec, flatten


class Guarded(Searcher):
    def __init__(
        self,
        inner: Searcher,
        codec: Codec | None,
        metrics: list[str],
        modes: list[str],
        max_concurrent: int | None = None,
        inner_limits_concurrency: bool = False,
    ) -> None:
        super().__init__(metric=metrics[0], mode=modes[0])
        self.inner = inner
        self.codec = codec
        self.metrics = metrics
        self.modes = modes
        self.max_concurrent = max_concurrent
        self.inner_limits_concurrency = inner_limits_concurrency
        self.live: set[str] = set()
        if inner_limits_concurrency and max_concurrent:
            inner.set_max_concurrency(max_concurrent)

    # Ray calls this with TuneConfig's metric/mode and param_space (fixed values only):
    # the inner searcher was built complete, so there is nothing to take from them.
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self.max_concurrent = max_concurrent
        if self.inner_limits_concurrency:
            self.inner.set_max_concurrency(max_concurrent)
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if not self.inner_limits_concurrency and self.max_concurrent and len(self.live) >= self.max_concurrent:
            return None
        raw = self.inner.suggest(trial_id)
        if raw is None or raw == Searcher.FINISHED:
            return raw
        if self.codec is None:  # grid and manual: the searcher gives final configs
            config = raw
        else:
            flat = flatten(raw)
            config = self.codec.decode(flat)  # the chosen branch's keys only, of a conditional space
        self.live.add(trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if self._finite(result):
            self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        self.live.discard(trial_id)
        if error or not self._finite(result):
            self.inner.on_trial_complete(trial_id, result=None, error=True)
        else:
            self.inner.on_trial_complete(trial_id, result=result, error=False)

    def _finite(self, result: dict[str, Any] | None) -> bool:
        if not result or flagged(result):
            return False
        for name in self.metrics:
            value = result.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return False
        return True

    # BOHB's scheduler pauses and resumes trials through the searcher
    def on_pause(self, trial_id: str) -> None:
        if hasattr(self.inner, "on_pause"):
            self.inner.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        if hasattr(self.inner, "on_unpause"):
            self.inner.on_unpause(trial_id)

    def save(self, checkpoint_path: str) -> None:
        self.inner.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.inner.restore(checkpoint_path)


def search_generator(searcher: Guarded) -> SearchGenerator:
    """What the runner hands to the Tuner (a SearchGenerator is never re-wrapped by Ray)."""
    return SearchGenerator(searcher)
