"""Parameter names: nested configs to scikit-learn's ``step__param`` names."""

from __future__ import annotations

from typing import Any

from raytuner.spec.params import Space


def estimator_params(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested configs become scikit-learn's ``step__param`` names."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and not key.startswith("_"):
            out.update(estimator_params(value, f"{prefix}{key}__"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def tree_names(space: Space) -> dict[str, Any]:
    return {k: tree_names(v) if isinstance(v, dict) else None for k, v in space.items()}
