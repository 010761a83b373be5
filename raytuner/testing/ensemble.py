"""The contract every ensemble method keeps: subclass ``EnsembleContract`` once per method.

A method chooses from members' out-of-fold predictions (``select``); here it gets small
synthetic ones (no search, no Ray), for classification (class probabilities) and
regression (predictions)::

    from raytuner.testing.ensemble import EnsembleContract

    class TestMine(EnsembleContract):
        method_name = "mine"              # a name in raytuner.ensemble.ENSEMBLE_METHODS
        options = {}                      # its options (optional)
        at_least_best_member = True       # it selects on the OOF rows it is scored on
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from raytuner.ensemble import ENSEMBLE_METHODS, make_method
from raytuner.ensemble.core import PredictionScorer, Selection

TASKS = ("classification", "regression")
ROWS = 120


def synthetic_oof(task: str, members: int = 4, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, PredictionScorer]:
    """Members' OOF outputs of differing quality (member 0 best), the labels and a scorer."""
    from sklearn.metrics import get_scorer

    rng = np.random.RandomState(seed)
    if task == "classification":
        classes = np.array([0, 1, 2])
        y = rng.randint(0, 3, ROWS)
        truth = np.eye(3)[y]
        oof = []
        for m in range(members):
            noise = rng.dirichlet(np.ones(3), ROWS)
            mix = 0.35 + 0.1 * m  # more noise for later members
            oof.append((1 - mix) * truth + mix * noise)
        return oof, y, PredictionScorer(get_scorer("neg_log_loss"), y, classes)
    y = rng.normal(size=ROWS)
    oof = [y + rng.normal(scale=0.3 + 0.2 * m, size=ROWS) for m in range(members)]
    return oof, y, PredictionScorer(get_scorer("neg_mean_squared_error"), y, None)


class EnsembleContract:
    """Checks every ensemble method keeps (a pytest test class base; see the module docstring)."""

    method_name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    weighted: ClassVar[bool] = True  # its weights are a distribution over the members (stacking: 1 = kept)
    at_least_best_member: ClassVar[bool] = False  # its OOF score is never below the best member's

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("method_name") is None:
            return
        ENSEMBLE_METHODS.get(cls.method_name)  # a clear error for an unknown name
        if not cls.at_least_best_member:
            cls.test_scores_at_least_the_best_member = None  # type: ignore[assignment]

    def make(self) -> Any:
        return make_method(self.method_name, dict(self.options))

    def select(self, task: str, seed: int = 0) -> tuple[Selection, list[np.ndarray], PredictionScorer]:
        oof, y, score = synthetic_oof(task, seed=seed)
        return self.make().select(oof, y, score, task), oof, score

    @pytest.mark.parametrize("task", TASKS)
    def test_one_non_negative_weight_per_member(self, task: str) -> None:
        selection, oof, _ = self.select(task)
        weights = np.asarray(selection.weights, dtype=float)
        assert weights.shape == (len(oof),) and (weights >= 0).all() and weights.sum() > 0
        if self.weighted:
            assert weights.sum() == pytest.approx(1.0)

    @pytest.mark.parametrize("task", TASKS)
    def test_scores_at_least_the_best_member(self, task: str) -> None:
        selection, oof, score = self.select(task)
        assert selection.oof_score >= max(score(o) for o in oof) - 1e-9

    @pytest.mark.parametrize("task", TASKS)
    def test_is_deterministic(self, task: str) -> None:
        first, _, _ = self.select(task)
        again, _, _ = self.select(task)
        assert first.weights == again.weights and first.oof_score == again.oof_score
        assert np.isfinite(first.oof_score)


def contract_for(name: str, **attributes: Any) -> type[EnsembleContract]:
    """An EnsembleContract subclass for registry entry ``name`` (for parametrised test modules)."""
    return type(f"TestEnsemble_{name}", (EnsembleContract,), {"method_name": name, **attributes})


__all__ = ["EnsembleContract", "TASKS", "contract_for", "synthetic_oof"]
