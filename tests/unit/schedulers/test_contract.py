"""Every registered scheduler keeps raytuner.testing.schedulers.SchedulerContract (no Ray)."""

from __future__ import annotations

from typing import Any

from raytuner.schedulers import SCHEDULERS
from raytuner.testing.schedulers import contract_for

# Short settings so a 12-step drive reaches each scheduler's decisions.
FAST: dict[str, dict[str, Any]] = {
    "asha": {"grace_period": 2, "reduction_factor": 2},
    "median": {"grace_period": 2, "min_samples_required": 2},
    "hyperband": {"reduction_factor": 3},
    "bohb": {"reduction_factor": 3},
    "pbt": {"perturbation_interval": 2},
    "pb2": {"perturbation_interval": 2},
}
STRATEGY = {"bohb": "bohb"}  # the strategy a scheduler is paired with, where it needs one

for _name in SCHEDULERS.names():
    _cls = contract_for(_name, options=FAST.get(_name, {}), strategy=STRATEGY.get(_name, "random"))
    globals()[_cls.__name__] = _cls
del _name, _cls
