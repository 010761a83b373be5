"""A user class as trainable: Ray Tune's class API, run on raytuner's function-trainable path.

The class has Ray Tune's shape; a ``ray.tune.Trainable`` subclass works as it is, and so
does a plain class that imports nothing of Ray::

    class MyTrainable:
        def setup(self, config):            # or a constructor taking the config
            self.w, self.lr = 0.0, config["lr"]
        def step(self):                      # one training iteration -> its metrics
            self.w -= self.lr * 2 * (self.w - 3)
            return {"loss": (self.w - 3) ** 2}
        def save_checkpoint(self, checkpoint_dir):  # write files there, or return a dict
            return {"w": self.w}
        def load_checkpoint(self, checkpoint):      # that dict, or the directory
            self.w = checkpoint["w"]
        def cleanup(self): ...               # optional

Each ``step`` is one report (the schedulers' step: ASHA, HyperBand and median rungs),
checked by the metrics rule (NaN -> diverged, missing metric -> failed). With both
checkpoint methods, a checkpoint is saved every ``checkpoint_every`` steps inside
raytuner's own (``trainables.checkpointing``: step counter, lineage). A trial that starts
from a checkpoint (a retry, a HyperBand resume, a PBT/PB2 clone, ``raytuner resume``) gets
a new instance set up with its own config (a clone's: the mutated one) and then
``load_checkpoint`` with the checkpoint (a clone's: its donor's); ``reset_config`` is never
needed. A trial ends after ``trainable.steps`` steps, when a step returns ``done: True``, or
when a stop condition or scheduler ends it.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from raytuner.errors import SpecError
from raytuner.spec.classes import ClassTrainableSpec
from raytuner.spec.code import code_name
from raytuner.spec.params import Space
from raytuner.spec.registry import import_object
from raytuner.trainables.base import Trainable

FIELD = "trainable.class"
USER_DIR = "trainable"  # the class's own checkpoint files, inside raytuner's checkpoint directory
DONE_KEY = "done"  # Ray's class API: a step returning done: True is the trial's last


@dataclass(frozen=True)
class ClassShape:
    """What a user class provides, read from the class (the plan and every trial read it)."""

    tune_subclass: bool  # a ray.tune.Trainable: built with its own constructor
    setup: bool  # setup(config); else the constructor takes the config
    step: bool
    save: bool
    load: bool
    cleanup: bool

    @property
    def checkpoints(self) -> bool:
        return self.save and self.load


def _defines(cls: type, name: str) -> bool:
    """Whether ``cls`` has a callable ``name`` of its own (not ray.tune.Trainable's default)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass is not object and not klass.__module__.startswith("ray.") and callable(getattr(cls, name))
    return False


def shape_of(cls: type) -> ClassShape:
    tune_subclass = any(k.__name__ == "Trainable" and k.__module__.startswith("ray.tune") for k in cls.__mro__)
    return ClassShape(tune_subclass, _defines(cls, "setup"), _defines(cls, "step"), _defines(cls, "save_checkpoint"),
                      _defines(cls, "load_checkpoint"), _defines(cls, "cleanup"))


def load_class(ref: Any) -> tuple[type, ClassShape]:
    """The class at ``ref`` (an import path or the class) and its shape; SpecError (naming
    trainable.class) for what cannot run."""
    cls = import_object(ref, FIELD)
    path = code_name(ref)
    if not inspect.isclass(cls):
        raise SpecError.at(FIELD, path, f"a class with setup(config) and step() (got a {type(cls).__name__})")
    shape = shape_of(cls)
    if not shape.step:
        raise SpecError.at(FIELD, path, "a class with a step() method returning a dict of metrics "
                           "(one training iteration)")
    if shape.save != shape.load:
        have, lack = ("save_checkpoint", "load_checkpoint") if shape.save else ("load_checkpoint", "save_checkpoint")
        raise SpecError.at(FIELD, path, f"both save_checkpoint and load_checkpoint, or neither (it has {have}; "
                           f"add {lack})")
    if not shape.setup and not shape.tune_subclass:
        try:
            inspect.signature(cls).bind({})
        except (TypeError, ValueError):
            raise SpecError.at(FIELD, path, "a class with setup(self, config), or whose constructor takes "
                               "the config as its one argument") from None
    return cls, shape


class ClassTrainable(Trainable):
    kind = "class"
    spec: ClassTrainableSpec
    runs_until_stopped = True  # a step is asked for until something ends the trial

    def check(self, space: Space) -> str:
        load_class(self.spec.cls)
        if self.metric.mode is None:
            raise SpecError.at("metric.mode", None, "'max' or 'min' (a class trainable has no default)")
        return self.metric.mode

    def max_steps(self) -> int | None:
        return self.spec.steps

    def checkpoints(self) -> bool:
        """Every step saved and restorable: both checkpoint methods, ``checkpoint_every`` 1."""
        return load_class(self.spec.cls)[1].checkpoints and self.spec.checkpoint_every == 1

    def build(self) -> Callable[[dict[str, Any]], None]:
        spec = self.spec
        return partial(class_trial, cls_path=spec.cls, fixed=dict(spec.params), steps=spec.steps,
                       every=spec.checkpoint_every)


def class_trial(config: dict[str, Any], *, cls_path: Any, fixed: dict[str, Any], steps: int | None,
                every: int) -> None:
    """One trial: set up an instance, restore the latest checkpoint, report a step per ``step()``."""
    from raytuner.trainables.checkpointing import report_step, restore
    from raytuner.trainables.function import _clean

    cls, shape = load_class(cls_path)
    obj = _instantiate(cls, shape, {**fixed, **config})
    try:
        restored = restore(load=partial(_load, obj)) if shape.checkpoints else None
        step = restored.step if restored else 0
        while steps is None or step < steps:
            if shape.tune_subclass:
                obj._iteration = step  # what Trainable.iteration / training_iteration read
            result = obj.step()
            if not isinstance(result, dict):
                raise TypeError(f"{code_name(cls_path)}.step() returned {type(result).__name__}; expected a dict of metrics")
            step += 1
            metrics = _clean({k: v for k, v in result.items() if k != DONE_KEY})
            last = bool(result.get(DONE_KEY)) or (steps is not None and step >= steps)
            save = shape.checkpoints and (last or step % every == 0)
            report_step(metrics, step=step, state=None, checkpoint=save, save=partial(_save, obj) if save else None)
            if last:
                return
    finally:
        _cleanup(obj, shape)


def _instantiate(cls: type, shape: ClassShape, config: dict[str, Any]) -> Any:
    if shape.tune_subclass:  # its constructor sets up logdir, counters and calls setup
        from ray import tune

        return cls(config=dict(config), storage=tune.get_context().get_storage())
    if not shape.setup:
        return cls(dict(config))
    obj = cls()
    obj.setup(dict(config))
    return obj


def _save(obj: Any, directory: str) -> Any:
    """The class's checkpoint in ``directory/trainable``: what save_checkpoint returned (a dict) or None."""
    target = os.path.join(directory, USER_DIR)
    os.makedirs(target, exist_ok=True)
    saved = obj.save_checkpoint(target)
    if saved is not None and not isinstance(saved, dict):
        raise TypeError(f"{type(obj).__name__}.save_checkpoint returned {type(saved).__name__}; expected None "
                        "(files written to checkpoint_dir) or a dict")
    return saved


def _load(obj: Any, directory: str, state: Any) -> None:
    """Ray's rule: the dict save_checkpoint returned, else the directory it wrote into."""
    obj.load_checkpoint(state if state is not None else os.path.join(directory, USER_DIR))


def _cleanup(obj: Any, shape: ClassShape) -> None:
    if shape.tune_subclass:
        obj.stop()  # Trainable.stop: its monitor and log files, then cleanup()
    elif shape.cleanup:
        obj.cleanup()
