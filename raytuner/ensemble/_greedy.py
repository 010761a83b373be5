"""greedy: ensemble selection with replacement (Caruana et al., ICML 2004).

Start from the best ``init`` members; in each of ``rounds`` rounds add (again, if it
helps most) the member whose addition gives the best metric of the averaged OOF
predictions; keep the best ensemble seen. Weights are how often each member was picked.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from raytuner.ensemble.base import EnsembleMethod
from raytuner.ensemble.core import PredictionScorer, Selection


class GreedyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rounds: int = Field(50, ge=1, le=10_000, description="selection rounds (picks, with replacement)")
    init: int = Field(1, ge=1, description="start from this many best members")


class GreedyMethod(EnsembleMethod):
    name = "greedy"
    Options = GreedyOptions

    def select(self, oof: list[np.ndarray], y: np.ndarray, score: PredictionScorer, task: str) -> Selection:
        opts: GreedyOptions = self.options  # type: ignore[assignment]
        singles = [score(o) for o in oof]
        counts = np.zeros(len(oof))
        for j in np.argsort(singles, kind="stable")[::-1][: min(opts.init, len(oof))]:
            counts[j] += 1
        total = sum(c * o for c, o in zip(counts, oof))
        best_counts, best_score = counts.copy(), score(total / counts.sum())
        history = [best_score]
        for _ in range(opts.rounds):
            n = counts.sum() + 1
            trial = [score((total + o) / n) for o in oof]
            j = int(np.argmax(trial))  # ties: the better-ranked member
            counts[j] += 1
            total = total + oof[j]
            history.append(trial[j])
            if trial[j] > best_score:
                best_score, best_counts = trial[j], counts.copy()
        weights = (best_counts / best_counts.sum()).tolist()
        return Selection(weights, best_score, {"member_oof_scores": singles, "picks": best_counts.astype(int).tolist(),
                                               "history": history})
