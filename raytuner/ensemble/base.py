"""What every ensemble method is: selection on out-of-fold predictions, then a fitted model."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from raytuner.ensemble.core import PredictionScorer, Selection


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnsembleMethod:
    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    def select(self, oof: list[np.ndarray], y: np.ndarray, score: PredictionScorer, task: str) -> Selection:
        """Decide from the members' OOF outputs (search rows only)."""
        raise NotImplementedError

    def model(self, members: list[Any], selection: Selection, task: str) -> Any:
        """The fitted ensemble from the members refit on every search row."""
        from raytuner.ensemble.model import VotingEnsemble

        keep = [i for i, w in enumerate(selection.weights) if w > 0]
        voting = getattr(self.options, "voting", "soft")
        return VotingEnsemble([members[i] for i in keep], [selection.weights[i] for i in keep], voting, task)


def weighted(oof: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.asarray(sum(wi * o for wi, o in zip(w / w.sum(), oof)))
