"""Ray's TuneBOHB, made to learn without HyperBand and to be reproducible (see _bohb.py)."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
from ray.tune.search.bohb import TuneBOHB
from ray.tune.search.bohb.bohb_search import _BOHBJobWrapper


@contextlib.contextmanager
def private_numpy_random(state: np.random.RandomState) -> Iterator[None]:
    """Run a block on ``state`` as numpy's global random state (hpbandster draws from it)."""
    saved = np.random.get_state()
    np.random.set_state(state.get_state())
    try:
        yield
    finally:
        state.set_state(np.random.get_state())
        np.random.set_state(saved)


class BohbSearcher(TuneBOHB):  # type: ignore[misc]
    def __init__(self, rng: np.random.RandomState, **kwargs: Any) -> None:
        self._rng = rng
        self._hyperband: set[str] = set()
        super().__init__(**kwargs)

    def suggest(self, trial_id: str) -> Any:
        with private_numpy_random(self._rng):
            return super().suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if "hyperband_info" in result:  # paired with HyperBandForBOHB: learn from every rung
            self._hyperband.add(trial_id)
            with private_numpy_random(self._rng):
                super().on_trial_result(trial_id, result)
        elif trial_id not in self.paused:
            self.running.add(trial_id)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        if not error and result and trial_id not in self._hyperband and trial_id in self.trial_to_params:
            # any other scheduler: learn from the final result, at the budget the trial ran
            budget = float(result.get("training_iteration") or 1)
            job = _BOHBJobWrapper(self._metric_op * result[self.metric], budget, self.trial_to_params[trial_id])
            with private_numpy_random(self._rng):
                self.bohber.new_result(job)
        self._hyperband.discard(trial_id)
        if trial_id in self.trial_to_params:
            super().on_trial_complete(trial_id, result, error)
