"""scikit-learn helpers for tests: an estimator that records which rows it saw.

Importable on every Ray worker (it lives in the package), so specs can name it as
``trainable.estimator: raytuner.testing.sklearn.RecordingClassifier``.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


def row_keys(X: Any) -> list[str]:
    """A short fingerprint per row (rounded, so copies and dtype changes agree)."""
    rows = np.round(np.asarray(X, dtype=float), 8)
    return [hashlib.sha1(row.tobytes()).hexdigest()[:16] for row in rows]


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """A scaled logistic regression that writes every fit and predict (row fingerprints) to ``record_dir``."""

    def __init__(self, C: float = 1.0, record_dir: str | None = None) -> None:
        self.C = C
        self.record_dir = record_dir

    def _record(self, event: str, rows: list[str]) -> None:
        if self.record_dir is None:
            return
        path = os.path.join(self.record_dir, f"{event}-{uuid.uuid4().hex}.json")
        with open(path, "w") as fh:
            json.dump({"event": event, "fit_rows": self.fit_rows_, "rows": rows}, fh)

    def fit(self, X: Any, y: Any) -> "RecordingClassifier":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000)).fit(X, y)
        self.classes_ = self.model_.classes_
        self.fit_rows_ = row_keys(X)
        self._record("fit", self.fit_rows_)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        self._record("predict", row_keys(X))
        return self.model_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def read_records(directory: str) -> list[dict[str, Any]]:
    out = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as fh:
            out.append(json.load(fh))
    return out
