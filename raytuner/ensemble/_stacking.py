"""stacking: a final estimator trained on the members' out-of-fold predictions.

The final estimator defaults to LogisticRegression (classification) or RidgeCV
(regression); its OOF score is itself cross-validated (5 folds over the OOF rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from raytuner.ensemble.base import EnsembleMethod
from raytuner.ensemble.core import PredictionScorer, Selection

DEFAULT_FINAL = {
    "classification": ("sklearn.linear_model.LogisticRegression", {"max_iter": 1000}),
    "regression": ("sklearn.linear_model.RidgeCV", {}),
}


class StackingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    final_estimator: str | None = Field(None, description="import path (default: LogisticRegression / RidgeCV)")
    final_params: dict[str, Any] = Field(default_factory=dict)


class StackingMethod(EnsembleMethod):
    name = "stacking"
    Options = StackingOptions

    def final_estimator(self, task: str) -> Any:
        from raytuner.spec.registry import import_object

        opts: StackingOptions = self.options  # type: ignore[assignment]
        path, params = DEFAULT_FINAL[task]
        if opts.final_estimator is not None:
            path, params = opts.final_estimator, {}
        return import_object(path, "ensemble.options.final_estimator")(**{**params, **opts.final_params})

    def select(self, oof: list[np.ndarray], y: np.ndarray, score: PredictionScorer, task: str) -> Selection:
        from sklearn.base import clone
        from sklearn.model_selection import KFold, StratifiedKFold

        from raytuner.ensemble.model import StackingEnsemble, member_outputs

        feats = StackingEnsemble().features(oof)
        rows = np.flatnonzero(~np.isnan(feats).any(axis=1))
        final = self.final_estimator(task)
        folds = min(5, len(rows))
        cv = StratifiedKFold(folds, shuffle=True, random_state=0) if task == "classification" else KFold(folds, shuffle=True, random_state=0)
        nested = np.full((len(y),) + (() if score.classes is None else (len(score.classes),)), np.nan)
        for train, test in cv.split(feats[rows], y[rows]):
            model = clone(final).fit(feats[rows][train], y[rows][train])
            nested[rows[test]] = member_outputs(model, feats[rows][test], score.classes)
        fitted = clone(final).fit(feats[rows], y[rows])
        return Selection([1.0] * len(oof), score(nested), {"member_oof_scores": [score(o) for o in oof],
                                                          "final_estimator": fitted})

    def model(self, members: list[Any], selection: Selection, task: str) -> Any:
        from raytuner.ensemble.model import StackingEnsemble

        final = selection.details.pop("final_estimator")
        model = StackingEnsemble(members, final_estimator=final, task=task)
        model.final_estimator_ = final
        return model
