"""What every scheduler is: a small class that builds a Ray Tune TrialScheduler.

The scheduler decides *when* (stop, pause, perturb); the strategy decides *what*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict

from raytuner.errors import SpecError
from raytuner.results.scheduling import PopulationHistory
from raytuner.spec.objectives import Objective


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
    space: dict[str, Any] | None = None  # the spec's search space (PBT/PB2 derive mutations from it)
    checkpoints: bool = False  # the trainable saves and restores a checkpoint every step
    objectives: tuple[Objective, ...] = ()  # every objective (the plan gives at least metric's); >1: multi-objective
    keep_checkpoints: int | str | None = None  # the spec's checkpoints.keep: N, "all", or None (the scheduler's default)
    # why the trainable cannot continue a clone with the parameter at a space path mutated, or None
    # (Trainable.mutation_refusal): PBT and PB2 leave such parameters out or refuse them
    mutation_refusal: Callable[[tuple[str, ...]], str | None] | None = None

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1


class Scheduler:
    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions
    needs_checkpoints: ClassVar[bool] = False
    # PBT/PB2 explore by cloning and mutating trials: Ray allows no search algorithm
    # beside them, so the runner samples the first population with Ray's own generator
    explores_itself: ClassVar[bool] = False
    # synchronous HyperBand fills a bracket before it pauses and resumes trials: the
    # concurrency-limited searchers of random/grid/manual would starve it, so the runner
    # gives it Ray's own generator for those (model-based searchers keep theirs)
    synchronous: ClassVar[bool] = False
    stops_early: ClassVar[bool] = False  # may end a trial before its last step
    # Tune's controller may let go of a completed trial (raytuner keeps its record:
    # runner.lean_controller); False where the scheduler reads finished trials back from it
    releases_finished: ClassVar[bool] = True
    # it decides on every report (stop, pause, clone): a trial must be a Ray Tune trial;
    # only a scheduler that lets every trial run to its end allows batched execution
    decides_per_step: ClassVar[bool] = True
    # (importable module, raytuner extra) it needs: cluster images install these (#17)
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    def check(self, ctx: ScheduleContext) -> None:
        """Raise SpecError for what this scheduler cannot handle."""

    def build(self, ctx: ScheduleContext) -> Any:
        """A ray.tune TrialScheduler, or None for Ray's FIFO scheduler."""
        return None

    def rungs(self, max_steps: float | None = None) -> list[float]:
        """The time_attr values at which this scheduler keeps or stops trials (ASHA's rungs),
        ``max_steps`` standing in for an unset max_t; [] when it decides at no fixed points."""
        return []

    def history(self) -> PopulationHistory | None:
        """What the built scheduler did, for the summary (PBT: each trial's exploits)."""
        return None

    def checkpoints_to_keep(self, ctx: ScheduleContext) -> int | None:
        """Checkpoints each trial keeps on storage (None: all of them): the spec's
        ``checkpoints.keep``, else this scheduler's default."""
        if ctx.keep_checkpoints is not None:
            return None if ctx.keep_checkpoints == "all" else int(ctx.keep_checkpoints)
        return self.default_checkpoints_to_keep(ctx)

    def default_checkpoints_to_keep(self, ctx: ScheduleContext) -> int | None:
        """Two: the latest (retries, pauses) is never deleted, and one before it."""
        return 2

    def fewest_checkpoints_to_keep(self, ctx: ScheduleContext) -> int | None:
        """The smallest ``checkpoints.keep`` this scheduler works with (None: only "all")."""
        return 1

    def check_checkpoints_kept(self, ctx: ScheduleContext) -> None:
        """SpecError when ``checkpoints.keep`` is a number too small for this scheduler."""
        kept = ctx.keep_checkpoints
        if kept is None or kept == "all":
            return
        fewest = self.fewest_checkpoints_to_keep(ctx)
        if fewest is None or int(kept) < fewest:
            least = "all" if fewest is None else f"at least {fewest}, or all"
            raise SpecError.at(
                "checkpoints.keep", kept,
                f"{least} with scheduler '{self.name}': it restores trials from checkpoints written "
                "earlier (a clone from its donor's), which must still be on storage then",
            )

    def require_checkpoints(self, ctx: ScheduleContext) -> None:
        """SpecError unless the trainable saves and restores a checkpoint every step."""
        if not ctx.checkpoints:
            raise SpecError.at(
                "scheduler.name",
                self.name,
                f"a scheduler the trainable supports: '{self.name}' pauses or clones trials, so the "
                "trainable must save and restore a checkpoint every step (a function trainable: "
                "fn(config, state) yielding (metrics, state) pairs; a class trainable: save_checkpoint "
                "and load_checkpoint methods, checkpoint_every 1; scikit-learn trainables do)",
            )

