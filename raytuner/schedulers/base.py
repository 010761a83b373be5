"""What every scheduler is: a small class that builds a Ray Tune TrialScheduler.

The scheduler decides *when* (stop, pause, perturb); the strategy decides *what*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ScheduleContext:
    """What a scheduler may know about the experiment."""

    metric: str
    mode: str
    seed: int | None = None
    max_steps: int | None = None  # reports per trial, when the trainable knows it
    time_attr: str = "training_iteration"
    strategy: str = "random"


class Scheduler:
    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions
    needs_checkpoints: ClassVar[bool] = False

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    def check(self, ctx: ScheduleContext) -> None:
        """Raise SpecError for what this scheduler cannot handle."""

    def build(self, ctx: ScheduleContext) -> Any:
        """A ray.tune TrialScheduler, or None for Ray's FIFO scheduler."""
        return None
