"""What PBT and PB2 share: mutations derived from the space, seeded and bounded
exploration, and a record of every exploit (the schedule each trial followed).
"""

from __future__ import annotations

import contextlib
import copy
import random
from typing import Any, Callable, Iterator

from pydantic import Field

from raytuner.errors import MISSING, Problem, SpecError
from raytuner.results.scheduling import ExploitEvent, PopulationHistory
from raytuner.spec.params import ChoiceParam, FloatParam, GridParam, IntParam, Space, iter_params, parse_space
from raytuner.schedulers._common import STEP_ATTRS, Number, SchedulerOptions, check_at_most, metric_kwargs
from raytuner.schedulers.base import ScheduleContext, Scheduler

MUTABLE = (FloatParam, IntParam, ChoiceParam, GridParam)


class PopulationOptions(SchedulerOptions):
    perturbation_interval: Number | None = Field(
        None, gt=0, description="time_attr units between exploit/explore decisions "
        "(default: a quarter of the trainable's steps)",
    )
    quantile_fraction: float = Field(
        0.25, ge=0, le=0.5, description="the bottom fraction clones the top fraction"
    )
    synch: bool = Field(False, description="perturb the whole population at once (slower, less noisy)")


class PopulationScheduler(Scheduler):
    """PBT and PB2: the same checks, checkpoints, construction and history; they differ
    in the Ray class, the parameters they explore and how they are told about them."""

    needs_checkpoints = True
    explores_itself = True
    releases_finished = False  # a population clones from and ranks all its trials, finished ones too
    options: PopulationOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._built: Any = None

    def explored_space(self, ctx: ScheduleContext) -> dict[str, Any]:
        """The part of the space this scheduler mutates (a SpecError when it is unusable)."""
        raise NotImplementedError

    def ray_class(self) -> type:
        raise NotImplementedError

    def explore_kwargs(self, space: dict[str, Any]) -> dict[str, Any]:
        """The Ray class's own arguments for the explored space and the scheduler's options."""
        raise NotImplementedError

    def check(self, ctx: ScheduleContext) -> None:
        metric_kwargs(self.options, ctx, self.name)
        perturbation_interval(self.options, ctx, self.name)
        self.explored_space(ctx)
        self.require_checkpoints(ctx)

    def default_checkpoints_to_keep(self, ctx: ScheduleContext) -> int | None:
        return None  # all: a clone may restore its donor's checkpoint long after it was written

    def fewest_checkpoints_to_keep(self, ctx: ScheduleContext) -> int | None:
        return checkpoints_to_keep(self.options, ctx)

    def build(self, ctx: ScheduleContext) -> Any:
        o = self.options
        space = self.explored_space(ctx)
        cls = recording(self.ray_class(), space=space, seed=ctx.seed, time_attr=o.time_attr)
        self._built = cls(
            time_attr=o.time_attr,
            perturbation_interval=perturbation_interval(o, ctx, self.name),
            quantile_fraction=o.quantile_fraction,
            synch=o.synch,
            log_config=False,
            **self.explore_kwargs(space),
            **metric_kwargs(o, ctx, self.name),
        )
        return self._built

    def history(self) -> PopulationHistory | None:
        return population_history(self._built)


def perturbation_interval(options: PopulationOptions, ctx: ScheduleContext, name: str) -> Number:
    if options.perturbation_interval is not None:
        if options.time_attr in STEP_ATTRS and ctx.max_steps:
            check_at_most(options.perturbation_interval, ctx.max_steps - 1 or 1, "perturbation_interval",
                          "the trainable's steps less one")
        return options.perturbation_interval
    if options.time_attr in STEP_ATTRS and ctx.max_steps:
        return max(1, ctx.max_steps // 4)
    raise SpecError.at(
        "scheduler.options.perturbation_interval",
        MISSING,
        f"time_attr units between perturbations, for '{name}' (the trainable does not say how many "
        "steps a trial takes, so no default)",
    )


def checkpoints_to_keep(options: PopulationOptions, ctx: ScheduleContext) -> int | None:
    """The fewest per-step checkpoints that keep a donor's on storage until its clone restores it.

    A waiting clone has the donor's step count, and Ray's PBT runs the waiting trial with the
    fewest steps first and pauses a running one at its next perturbation while others wait: so
    the donor writes about perturbation_interval steps (plus the checkpoints of a pause and of
    the perturbation) before the clone restores. Twice that plus three leaves a margin; Ray
    warns that 2 or fewer lose checkpoints. Time in seconds: no bound in steps, so only all.
    """
    if options.time_attr not in STEP_ATTRS or options.perturbation_interval is None and not ctx.max_steps:
        return None
    interval = perturbation_interval(options, ctx, "pbt")
    return int(2 * interval + 3)


# -- the mutated part of the space ------------------------------------------


Refusal = Callable[[tuple[str, ...]], "str | None"]


def select(space: Space, spec: list[str] | dict[str, Any] | None, field: str, refusal: Refusal | None = None) -> Space:
    """The subspace PBT mutates: given names, given DSL nodes, or every tunable parameter.

    ``refusal`` (the trainable's ``mutation_refusal``): parameters a clone cannot continue
    with when mutated (they change the checkpoint's shapes) are left out of the default and
    are a SpecError when named."""
    if isinstance(spec, dict):
        return refuse_unsafe(parse_space(spec, field), field, refusal)
    known = {".".join(path): param for path, param in iter_params(space)}
    if spec is None:
        names = [name for name, param in known.items() if isinstance(param, MUTABLE)]
        safe = [name for name in names if _refused(name, refusal) is None]
        if not safe:
            if names:  # every one would break the clones
                name = names[0]
                raise SpecError.at(field, MISSING, f"parameters to mutate: {name} cannot be ({_refused(name, refusal)})")
            raise SpecError.at(field, MISSING, "parameters to mutate: the space has no float, int or choice parameter")
        names = safe
    else:
        names = list(spec)
        for i, name in enumerate(names):
            if name not in known or not isinstance(known[name], MUTABLE):
                tunable = [n for n, p in known.items() if isinstance(p, MUTABLE)]
                raise SpecError.at(f"{field}.{i}", name, f"a tuned parameter of the space: {', '.join(tunable)}")
            reason = _refused(name, refusal)
            if reason is not None:
                raise SpecError.at(f"{field}.{i}", name, reason)
    out: Space = {}
    for name in names:
        node = out
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = known[name]
    return out


def _refused(name: str, refusal: Refusal | None) -> str | None:
    return None if refusal is None else refusal(tuple(name.split(".")))


def refuse_unsafe(space: Space, field: str, refusal: Refusal | None) -> Space:
    """``space`` when the trainable can continue a clone with every parameter of it mutated,
    else a SpecError naming each that it cannot."""
    problems = [Problem(f"{field}.{'.'.join(path)}", ".".join(path), reason)
                for path, _ in iter_params(space)
                if (reason := _refused(".".join(path), refusal)) is not None]
    if problems:
        raise SpecError(problems)
    return space


def to_mutations(space: Space) -> dict[str, Any]:
    """Ray's hyperparam_mutations: domains for numbers, lists for choices."""
    from raytuner.spec.space import to_ray

    out: dict[str, Any] = {}
    for key, node in space.items():
        if isinstance(node, dict):
            out[key] = to_mutations(node)
        elif isinstance(node, (ChoiceParam, GridParam)):
            out[key] = list(node.values)
        else:
            out[key] = to_ray({key: node})[key]
    return out


def clip(config: dict[str, Any], space: Space) -> dict[str, Any]:
    """Keep perturbed numbers inside their parameter's range (ints stay ints)."""
    out = dict(config)
    for key, node in space.items():
        if key not in out:
            continue
        if isinstance(node, dict) and isinstance(out[key], dict):
            out[key] = clip(out[key], node)
        elif isinstance(node, (FloatParam, IntParam)) and isinstance(out[key], (int, float)):
            value = min(max(out[key], node.low), node.high)
            out[key] = int(round(value)) if isinstance(node, IntParam) else float(value)
    return out


def changes(before: dict[str, Any], after: dict[str, Any], space: Space, prefix: str = "") -> dict[str, list[Any]]:
    """{dotted name: [old, new]} of the mutated parameters that changed."""
    out: dict[str, list[Any]] = {}
    for key, node in space.items():
        name = f"{prefix}{key}"
        old, new = before.get(key), after.get(key)
        if isinstance(node, dict):
            out.update(changes(old or {}, new or {}, node, name + "."))
        elif old != new:
            out[name] = [old, new]
    return out


# -- the recording scheduler -------------------------------------------------


def recording(base: type, *, space: Space, seed: int | None, time_attr: str) -> type:
    """A subclass of Ray's PBT/PB2 that seeds its randomness, keeps mutations in bounds
    and records every exploit as (trial, step, donor, donor step, changed params)."""
    import numpy as np

    class Recording(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.raytuner_exploits: list[ExploitEvent] = []
            self.raytuner_schedules: dict[str, list[ExploitEvent]] = {}
            self._rt_random = random.Random(seed)
            self._rt_numpy = np.random.RandomState(seed)

        @contextlib.contextmanager
        def _seeded(self) -> Iterator[None]:
            """Ray's PBT draws from the global `random` and numpy RNGs (it has no seed
            argument): swap our own seeded states in for the call, then swap back."""
            saved_random, saved_numpy = random.getstate(), np.random.get_state()
            random.setstate(self._rt_random.getstate())
            np.random.set_state(self._rt_numpy.get_state())
            try:
                yield
            finally:
                self._rt_random.setstate(random.getstate())
                self._rt_numpy.set_state(np.random.get_state())
                random.setstate(saved_random)
                np.random.set_state(saved_numpy)

        def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
            with self._seeded():
                super().on_trial_add(tune_controller, trial)

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
            with self._seeded():
                return super().on_trial_result(tune_controller, trial, result)

        def _get_new_config(self, trial: Any, trial_to_clone: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            new_config, operations = super()._get_new_config(trial, trial_to_clone)
            return clip(new_config, space), operations

        def _exploit(self, tune_controller: Any, trial: Any, trial_to_clone: Any) -> None:
            # the trial's own state holds the report that triggered this exploit (trial.last_result
            # is only updated after the scheduler's callback: one report behind)
            step = (self._trial_state[trial].last_result or trial.last_result or {}).get(time_attr)
            donor_state = self._trial_state[trial_to_clone]
            donor_step = (donor_state.last_result or {}).get(time_attr)
            donor_config = copy.deepcopy(trial_to_clone.config)
            own_config = copy.deepcopy(trial.config)
            super()._exploit(tune_controller, trial, trial_to_clone)
            event = ExploitEvent(
                trial=trial.trial_id,
                step=step,
                cloned=trial_to_clone.trial_id,
                donor_step=donor_step,
                changed=changes(donor_config, trial.config, space),
                replaced=changes(own_config, trial.config, space),
            )
            self.raytuner_exploits.append(event)
            inherited = self.raytuner_schedules.get(trial_to_clone.trial_id, [])
            self.raytuner_schedules[trial.trial_id] = [*inherited, event]  # events are frozen: shared safely

    Recording.__name__ = Recording.__qualname__ = f"Recording{base.__name__}"
    return Recording


def population_history(built: Any) -> PopulationHistory | None:
    if built is None or not hasattr(built, "raytuner_exploits"):
        return None
    return PopulationHistory(
        exploits=len(built.raytuner_exploits),
        events=list(built.raytuner_exploits),
        schedules={trial: list(events) for trial, events in built.raytuner_schedules.items()},
    )
