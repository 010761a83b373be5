"""The trainables registry: a trainable spec's ``type`` -> its adapter."""

from __future__ import annotations

from raytuner.spec.registry import Registry
from raytuner.trainables.base import Trainable

TRAINABLES: Registry[type[Trainable]] = Registry("trainable", "trainable.type")
TRAINABLES.add("sklearn", "raytuner.trainables.sklearn.trainable:SklearnTrainable", "a scikit-learn estimator scored by k-fold cross-validation, one report per fold")
TRAINABLES.add("function", "raytuner.trainables.function:FunctionTrainable", "a user function module:fn(config) returning a dict of metrics or yielding one per step")
TRAINABLES.add("class", "raytuner.trainables.classes:ClassTrainable", "a user class module:Cls with Ray Tune's class API (setup, step, save_checkpoint, load_checkpoint), one report per step")
TRAINABLES.add("torch", "raytuner.trainables.torch:TorchTrainable", "a PyTorch model (MLP, CNN, class or build function) trained per epoch, with checkpoints, schedules, pruning and DDP")

__all__ = ["TRAINABLES", "Trainable"]
