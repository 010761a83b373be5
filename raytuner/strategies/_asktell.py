"""A Ray Searcher over any ask/tell optimiser: the base of our own searchers.

Subclasses implement ``ask`` (an encoded config and a token to get back at tell
time) and ``tell`` (that config's loss: lower is better, already signed for the
mode). The base owns points_to_evaluate (tried first, then told like any other
config), the trials in flight, and failures: a failed trial (error, NaN or inf
metric; see ``Guarded``) is told as the worst loss seen so far, so a deterministic
acquisition does not propose the same failing point forever; before any loss is
known it is simply forgotten (the optimiser is still sampling at random then).
"""

from __future__ import annotations

import pickle
from typing import Any

from raytuner.strategies.codec import Codec

FINISHED = "FINISHED"  # ray.tune.search.Searcher.FINISHED


class PlainSearcher:
    """Ray's Searcher protocol without importing Ray (``Guarded`` is the Ray Searcher)."""

    def __init__(self, metric: str, mode: str) -> None:
        self.metric = metric
        self.mode = mode

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        raise NotImplementedError

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        pass

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        pass

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return False

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))


class AskTellSearcher(PlainSearcher):
    def __init__(
        self,
        codec: Codec,
        metric: str,
        mode: str,
        points: list[dict[str, Any]] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric, mode)
        self.codec = codec
        self.seed = seed
        self.sign = -1.0 if mode == "max" else 1.0
        self.points = list(points or [])
        self.live: dict[str, tuple[dict[str, Any], Any]] = {}
        self.worst: float | None = None

    # -- the optimiser -----------------------------------------------------------
    def ask(self) -> tuple[dict[str, Any], Any]:
        raise NotImplementedError

    def ask_point(self, encoded: dict[str, Any]) -> Any:
        """The token for a points_to_evaluate entry (most optimisers take any point)."""
        return None

    def tell(self, encoded: dict[str, Any], token: Any, loss: float) -> None:
        raise NotImplementedError

    def forget(self, encoded: dict[str, Any], token: Any) -> None:
        """A failed trial before any loss is known."""

    # -- Ray's Searcher API ---------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.points:
            encoded = self.codec.canonical(self.points.pop(0))
            token = self.ask_point(encoded)
        else:
            encoded, token = self.ask()
        self.live[trial_id] = (encoded, token)
        return dict(encoded)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        if trial_id not in self.live:
            return
        encoded, token = self.live.pop(trial_id)
        if error or not result or self.metric not in result:
            if self.worst is None:
                self.forget(encoded, token)
            else:
                self.tell(encoded, token, self.worst)
            return
        loss = self.sign * float(result[self.metric])
        self.worst = loss if self.worst is None else max(self.worst, loss)
        self.tell(encoded, token, loss)


class RandomSearcher(AskTellSearcher):
    def __init__(self, codec: Codec, metric: str, mode: str, points: list[dict[str, Any]], seed: int | None) -> None:
        import numpy as np

        super().__init__(codec, metric, mode, points, seed)
        self.rng = np.random.default_rng(seed)

    def ask(self) -> tuple[dict[str, Any], Any]:
        return self.codec.sample(self.rng), None

    def tell(self, encoded: dict[str, Any], token: Any, loss: float) -> None:
        pass
