"""scikit-learn on raytuner: a drop-in search estimator and its helpers.

``TuneSearchCV`` is a scikit-learn meta-estimator (like ``GridSearchCV`` and
``RandomizedSearchCV``) whose search runs on Ray with any raytuner strategy and
scheduler. Imported lazily so ``import raytuner`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TuneSearchCV", "to_space"]


def __getattr__(name: str) -> Any:
    if name == "TuneSearchCV":
        from raytuner.sklearn.search import TuneSearchCV

        return TuneSearchCV
    if name == "to_space":
        from raytuner.sklearn.distributions import to_space

        return to_space
    raise AttributeError(f"module 'raytuner.sklearn' has no attribute {name!r}")
