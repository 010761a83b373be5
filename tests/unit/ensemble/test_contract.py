"""Every registered ensemble method keeps raytuner.testing.ensemble.EnsembleContract (no Ray)."""

from __future__ import annotations

from typing import Any

from raytuner.ensemble import ENSEMBLE_METHODS
from raytuner.testing.ensemble import contract_for

# What a method promises beyond the contract's defaults.
TRAITS: dict[str, dict[str, Any]] = {
    "greedy": {"at_least_best_member": True},  # it selects on the rows it is scored on
    "stacking": {"weighted": False},  # a final estimator combines the members; weight 1 marks each kept
}

for _name in ENSEMBLE_METHODS.names():
    _cls = contract_for(_name, **TRAITS.get(_name, {}))
    globals()[_cls.__name__] = _cls
del _name, _cls
