"""Class trainables for examples and tests (``trainable: {type: class, class: raytuner.testing.classes:Descent}``).

``Descent`` is a plain class (no Ray import) whose checkpoint is a dict; ``FileDescent`` is a
``ray.tune.Trainable`` subclass whose checkpoint is a file.
Both do arithmetic, not training: gradient descent on (w - target)^2, so a step costs nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ray import tune


class Descent:
    """w moves towards ``target`` (3.0) by ``lr`` per step; reports ``loss`` = (w - target)^2 + ``noise``.

    Reports what the tests check: ``lr`` (the config's), ``own_steps`` (steps this lineage
    has taken, carried in the checkpoint), ``setups`` (1: a fresh instance per trial start),
    ``loaded_from`` (the own_steps of the checkpoint it continued from, -1 for none) and
    ``trace`` (JSON: every step of the lineage as [own_steps, lr, w, loaded_from], carried in
    the checkpoint, so a trial's last report shows what each clone or retry continued from).
    Config ``fault`` from step ``fault_at`` on: ``nan`` (the loss is NaN), ``missing`` (no
    loss), ``done`` (the step says done: True), ``crash`` (raises, once per ``marker_dir``).
    """

    def setup(self, config: dict[str, Any]) -> None:
        self.config = config
        self.lr = float(config["lr"])
        self.target = float(config.get("target", 3.0))
        self.w = float(config.get("w0", 0.0))
        self.own_steps = 0
        self.loaded_from = -1
        self.trace: list[list[Any]] = []
        self.setups = getattr(self, "setups", 0) + 1
        self.cleaned = False

    def step(self) -> dict[str, Any]:
        self.w -= min(self.lr, 0.9) * (self.w - self.target)
        self.own_steps += 1
        loss = (self.w - self.target) ** 2 + float(self.config.get("noise", 0.0))
        fault = self.config.get("fault") if self.own_steps >= int(self.config.get("fault_at", 1)) else None
        self.trace.append([self.own_steps, self.lr, self.w, self.loaded_from])
        out: dict[str, Any] = {"loss": float("nan") if fault == "nan" else loss, "w": self.w, "lr": self.lr,
                               "own_steps": self.own_steps, "setups": self.setups, "loaded_from": self.loaded_from,
                               "trace": json.dumps(self.trace)}
        if fault == "missing":
            del out["loss"]
        if fault == "done":
            out["done"] = True
        if fault == "crash":
            marker = os.path.join(str(self.config["marker_dir"]), f"crashed-{self.lr}")
            if not os.path.exists(marker):
                open(marker, "w").close()
                raise RuntimeError(f"crash at step {self.own_steps} (once)")
        return out

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
        return {"w": self.w, "own_steps": self.own_steps, "trace": self.trace}

    def load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.w = float(checkpoint["w"])
        self.own_steps = self.loaded_from = int(checkpoint["own_steps"])
        self.trace = [list(entry) for entry in checkpoint["trace"]]

    def cleanup(self) -> None:
        self.cleaned = True


class NoCheckpoints:
    """A plain class with a step and no checkpoint methods (PBT refuses it)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.x = float(config.get("x", 0.0))

    def step(self) -> dict[str, float]:
        return {"loss": self.x**2}


class SaveOnly(NoCheckpoints):
    """save_checkpoint without load_checkpoint (refused: both or neither)."""

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        return None


class NoStep:
    """setup and no step (refused)."""

    def setup(self, config: dict[str, Any]) -> None:
        self.config = config


class FileDescent(tune.Trainable):
    """``Descent`` as a ``ray.tune.Trainable`` whose checkpoint is a JSON file in checkpoint_dir;
    reports ``iteration`` (Trainable.iteration: the steps before this one)."""

    def setup(self, config: dict[str, Any]) -> None:
        self.inner = Descent()
        self.inner.setup(config)

    def step(self) -> dict[str, Any]:
        return {**self.inner.step(), "iteration": self.iteration}

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        with open(os.path.join(checkpoint_dir, "descent.json"), "w") as f:
            json.dump(self.inner.save_checkpoint(checkpoint_dir), f)

    def load_checkpoint(self, checkpoint: str) -> None:
        with open(os.path.join(checkpoint, "descent.json")) as f:
            self.inner.load_checkpoint(json.load(f))
