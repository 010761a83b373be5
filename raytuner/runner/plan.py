"""Everything checked and resolved before Ray starts: spec -> Plan.

``make_plan`` resolves registry names, validates strategy and scheduler options,
checks the trainable (imports, data, metric) and the space against the strategy.
Any problem is a SpecError; nothing is written and Ray is not started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from raytuner.errors import SpecError
from raytuner.spec.code import add_code_dirs
from raytuner.spec.loader import validate_options as options
from raytuner.schedulers import SCHEDULERS, ScheduleContext, Scheduler
from raytuner.spec.models import ExperimentSpec
from raytuner.spec.objectives import Objective, resolve_objectives
from raytuner.results.storage import check as check_storage
from raytuner.runner.tracking import Tracking, tracking_plan
from raytuner.strategies import STRATEGIES, SearchContext, Strategy
from raytuner.strategies.base import reports_per_step
from raytuner.trainables import TRAINABLES, Trainable
from raytuner.trainables.remote_data import with_data_endpoint


@dataclass(frozen=True)
class Plan:
    spec: ExperimentSpec
    mode: str
    trainable: Trainable
    strategy: Strategy
    scheduler: Scheduler
    search: SearchContext
    schedule: ScheduleContext
    notes: tuple[str, ...] = ()  # e.g. what the auto strategy chose and why
    batch: int = 0  # trials per batch on the warm actor pool (runner.batched); 0: Ray Tune trials
    tracking: Tracking = Tracking()  # TensorBoard, MLflow, W&B (checked: libraries installed)

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """Every objective (metric's first); the strategy and the scheduler see this same tuple."""
        return self.search.objectives

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def metric(self) -> str:
        return self.spec.metric.name

    @property
    def scope(self) -> str:
        """"last" or "best": which step of a trial gives its score (``metric.scope``)."""
        return self.spec.metric.scope

    @property
    def strategy_label(self) -> str:
        """The spec's strategy name, with what it resolved to (``auto:tpe``)."""
        name = self.spec.strategy.name
        return name if name == self.strategy.name else f"{name}:{self.strategy.name}"

    @property
    def num_samples(self) -> int:
        return self.strategy.num_samples(self.search)


def make_plan(spec: ExperimentSpec, inputs: Any = None) -> Plan:
    """``inputs``: in-memory data/estimator from Python (TuneSearchCV) the trainable uses instead of paths."""
    add_code_dirs(os.getcwd())  # user modules in the current directory import here and in the trials
    seed = spec.strategy.seed
    trainable_cls = TRAINABLES.get(spec.trainable.type, "trainable.type")
    trainable_spec = with_data_endpoint(spec.trainable, spec.storage)  # s3:// data: the storage's endpoint
    trainable = trainable_cls(trainable_spec, metric=spec.metric, seed=seed, resources=spec.resources)
    if inputs is not None:
        trainable.take_inputs(inputs)
    mode = trainable.check(spec.space)
    trainable.preflight(spec.space)  # values against the model's own constraints, metric against task

    max_steps = trainable.max_steps()
    if spec.stop.max_steps is not None:
        max_steps = min(max_steps or spec.stop.max_steps, spec.stop.max_steps)
    if trainable.runs_until_stopped and max_steps is None and spec.stop.target is None and not spec.budget.time_limit_s:
        raise SpecError.at("trainable.steps", None, f"a number of steps per trial: a {trainable.kind} trainable steps until "
                           "something ends it (or set stop.max_steps, stop.target or budget.time_limit_s)")

    objectives = resolve_objectives(spec.metric, spec.objectives, mode)  # once, for strategy and scheduler
    strategy_cls = STRATEGIES.get(spec.strategy.name, "strategy.name")
    strategy = strategy_cls(options(strategy_cls.Options, spec.strategy.options, "strategy.options"))
    search = SearchContext(
        space=spec.space,
        metric=spec.metric.name,
        mode=mode,
        seed=seed,
        trials=spec.budget.trials,
        max_concurrent=spec.budget.max_concurrent,
        points_to_evaluate=list(spec.strategy.points_to_evaluate),
        reports_per_trial=max_steps,
        objectives=objectives,
        iterative=reports_per_step(trainable),
    )
    strategy.check(search)
    choice = strategy.choose(search)  # 'auto' picks a concrete strategy (and a scheduler) here
    strategy = choice.strategy
    scheduler_name = spec.scheduler.name
    if choice.scheduler and "scheduler" not in spec.model_fields_set:
        scheduler_name = choice.scheduler

    scheduler_cls = SCHEDULERS.get(scheduler_name, "scheduler.name")
    scheduler = scheduler_cls(options(scheduler_cls.Options, spec.scheduler.options, "scheduler.options"))
    schedule = ScheduleContext(
        metric=spec.metric.name,
        mode=mode,
        seed=seed,
        max_steps=max_steps,
        strategy=strategy.name,
        space=spec.space,
        checkpoints=trainable.checkpoints(),
        objectives=objectives,
        keep_checkpoints=spec.checkpoints.keep,
        mutation_refusal=trainable.mutation_refusal,
    )
    scheduler.check(schedule)
    scheduler.check_checkpoints_kept(schedule)
    if scheduler.explores_itself and not strategy.ray_generator:
        raise SpecError.at(
            "strategy.name", strategy.name,
            f"random, grid or manual with scheduler '{scheduler.name}': it explores by cloning "
            "and mutating trials itself, and Ray allows no search algorithm beside it",
        )
    check_storage(spec.storage)
    tracking = tracking_plan(spec)
    from raytuner.runner.finish import check_finish

    check_finish(spec, inputs)  # refit / ensemble / holdout fields, before Ray starts
    notes = ((choice.reason,) if choice.reason else ()) + tracking.notes
    if scheduler.synchronous and spec.budget.max_concurrent:
        notes += (
            f"scheduler '{scheduler.name}' with budget.max_concurrent={spec.budget.max_concurrent}: "
            "paused trials count toward the limit, so a bracket is halved among the trials that "
            "have started; leave max_concurrent unset to let whole brackets be halved together",
        )
    from raytuner.runner.batched import choose_batch

    batch = choose_batch(spec, trainable, scheduler, search)  # execution.batch (auto probes the function)
    notes += (batch.note,) if batch.note else ()
    return Plan(spec, mode, trainable, strategy, scheduler, search, schedule, notes, batch.size, tracking)
