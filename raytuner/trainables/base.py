"""What every trainable adapter is: validation up front, a Tune function trainable to run.

An adapter turns a trainable spec into a function ``f(config)`` that Ray Tune runs
in a trial, reporting the metric once per step (fold, epoch, round). Its ``check``
runs before Ray starts, so an estimator that cannot be imported or a metric that
cannot be computed is a spec error, not a failed trial.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from raytuner.params import Space
from raytuner.spec import MetricSpec, ResourcesSpec


class Trainable:
    kind: ClassVar[str]

    def __init__(
        self, spec: Any, *, metric: MetricSpec, seed: int | None, resources: ResourcesSpec
    ) -> None:
        self.spec = spec
        self.metric = metric
        self.seed = seed
        self.resources = resources

    def check(self, space: Space) -> str:
        """Validate the spec against the metric and space; return the metric's mode."""
        raise NotImplementedError

    def max_steps(self) -> int | None:
        """How many times a trial reports, when known (schedulers' max_t)."""
        return None

    def trial_resources(self) -> dict[str, float]:
        """What Tune reserves for one trial (a trainable that starts workers may ask for less)."""
        return {"cpu": self.resources.cpu, "gpu": self.resources.gpu}

    def build(self) -> Callable[[dict[str, Any]], None]:
        """The Tune function trainable (may close over data put in the object store)."""
        raise NotImplementedError
