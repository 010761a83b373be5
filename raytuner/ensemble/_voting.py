"""voting and average: every member with the same weight.

``voting``: soft (mean probabilities, the default) or hard (majority of predicted
labels) for classifiers; for regressors it is averaging. ``average``: mean
probabilities / mean predictions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from raytuner.ensemble.base import EnsembleMethod
from raytuner.ensemble.core import PredictionScorer, Selection
from raytuner.ensemble.model import one_hot


class VotingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    voting: Literal["soft", "hard"] = "soft"


class VotingMethod(EnsembleMethod):
    name = "voting"
    Options = VotingOptions

    def select(self, oof: list[np.ndarray], y: np.ndarray, score: PredictionScorer, task: str) -> Selection:
        weights = [1.0 / len(oof)] * len(oof)
        hard = task == "classification" and getattr(self.options, "voting", "soft") == "hard"
        if hard:
            classes = score.classes
            outputs = [one_hot(classes[o.argmax(axis=1)], classes) for o in oof]  # type: ignore[index]
        else:
            outputs = oof
        combined = np.asarray(sum(w * o for w, o in zip(weights, outputs)))
        return Selection(weights, score(combined), {"member_oof_scores": [score(o) for o in oof]})


class AverageMethod(VotingMethod):
    name = "average"
    Options = EnsembleMethod.Options
