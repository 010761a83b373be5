"""Fitted ensembles of scikit-learn models: weighted voting/averaging and stacking.

Both are scikit-learn estimators (``predict``, ``predict_proba``, ``score``, ``fit``
refits every member on new data), so they are exported, loaded and used like any model.
Classifier members without ``predict_proba`` take part with one-hot votes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if


def member_outputs(model: Any, X: Any, classes: np.ndarray | None) -> np.ndarray:
    """A member's predictions: class probabilities (n, k) aligned to ``classes``, or values (n,)."""
    if classes is None:
        return np.asarray(model.predict(X), dtype=float)
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X), dtype=float)
        own = list(getattr(model, "classes_", classes))
        if own == list(classes):
            return proba
        out = np.zeros((proba.shape[0], len(classes)))
        for j, c in enumerate(own):
            out[:, list(classes).index(c)] = proba[:, j]
        return out
    return one_hot(np.asarray(model.predict(X)), classes)


def one_hot(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(labels), len(classes)))
    out[np.arange(len(labels)), [index[c] for c in labels]] = 1.0
    return out


class VotingEnsemble(BaseEstimator):
    """Weighted soft/hard voting of classifiers, or weighted averaging of regressors."""

    def __init__(self, members: list[Any] | None = None, weights: list[float] | None = None,
                 voting: str = "soft", task: str = "classification") -> None:
        self.members = members
        self.weights = weights
        self.voting = voting
        self.task = task

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier" if self.task == "classification" else "regressor"
        return tags

    @property
    def _weights(self) -> np.ndarray:
        w = np.ones(len(self.members or [])) if self.weights is None else np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def fit(self, X: Any, y: Any) -> "VotingEnsemble":
        self.members = [clone(m).fit(X, y) for m in self.members or []]
        self._set_classes(y)
        return self

    def _set_classes(self, y: Any) -> None:
        if self.task == "classification":
            self.classes_ = np.unique(y)

    def _outputs(self, X: Any) -> list[np.ndarray]:
        classes = self.classes_ if self.task == "classification" else None
        return [member_outputs(m, X, classes) for m in self.members or []]

    def combine(self, outputs: list[np.ndarray]) -> np.ndarray:
        """Member outputs -> ensemble probabilities (classification) or predictions."""
        w = self._weights
        if self.task == "classification" and self.voting == "hard":
            votes = sum(wi * one_hot(self.classes_[o.argmax(axis=1)], self.classes_) for wi, o in zip(w, outputs))
            return np.asarray(votes)
        return np.asarray(sum(wi * o for wi, o in zip(w, outputs)))

    def predict(self, X: Any) -> np.ndarray:
        combined = self.combine(self._outputs(X))
        if self.task == "classification":
            return self.classes_[combined.argmax(axis=1)]
        return combined

    def _soft(self) -> bool:
        return self.task == "classification" and self.voting == "soft"

    @available_if(_soft)
    def predict_proba(self, X: Any) -> np.ndarray:
        return self.combine(self._outputs(X))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        from sklearn.metrics import accuracy_score, r2_score

        metric = accuracy_score if self.task == "classification" else r2_score
        return float(metric(y, self.predict(X), sample_weight=sample_weight))


class StackingEnsemble(VotingEnsemble):
    """A final estimator trained on the members' out-of-fold predictions."""

    def __init__(self, members: list[Any] | None = None, final_estimator: Any = None,
                 task: str = "classification") -> None:
        super().__init__(members=members, task=task)
        self.final_estimator = final_estimator

    def features(self, outputs: list[np.ndarray]) -> np.ndarray:
        return np.column_stack([o.reshape(len(o), -1) for o in outputs])

    def fit(self, X: Any, y: Any) -> "StackingEnsemble":
        """Refit: the final estimator on out-of-fold predictions (5-fold), then members on all of X."""
        from sklearn.model_selection import cross_val_predict

        self._set_classes(y)
        classes = self.classes_ if self.task == "classification" else None
        method = lambda m: "predict_proba" if classes is not None and hasattr(m, "predict_proba") else "predict"  # noqa: E731
        oof = []
        for m in self.members or []:
            pred = cross_val_predict(clone(m), X, y, method=method(m))
            oof.append(one_hot(pred, classes) if classes is not None and pred.ndim == 1 else np.asarray(pred, dtype=float))
        self.final_estimator_ = clone(self.final_estimator).fit(self.features(oof), y)
        self.members = [clone(m).fit(X, y) for m in self.members or []]
        return self

    def combine(self, outputs: list[np.ndarray]) -> np.ndarray:
        feats = self.features(outputs)
        if self.task == "classification":
            if hasattr(self.final_estimator_, "predict_proba"):
                return member_outputs(self.final_estimator_, feats, self.classes_)
            return one_hot(self.final_estimator_.predict(feats), self.classes_)
        return np.asarray(self.final_estimator_.predict(feats), dtype=float)

    def _soft(self) -> bool:
        return self.task == "classification"
