"""The class trainable's spec: a user class with Ray Tune's class API (setup/step/save/load)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from raytuner.spec.code import CodeRef
from raytuner.spec.sklearn import _Model


class ClassTrainableSpec(_Model):
    """A user class ``module:MyTrainable`` with ``setup(config)`` and ``step() -> dict`` (a
    ``ray.tune.Trainable`` subclass or a plain class); one ``step`` is one reported step."""

    type: Literal["class"] = "class"
    cls: CodeRef = Field(
        validation_alias=AliasChoices("class", "cls"),
        description="import path of the class (written `class:` in YAML)",
        examples=["mypackage.trainables:MyTrainable"],
    )
    params: dict[str, Any] = Field(default_factory=dict, description="fixed values merged into every config")
    steps: int | None = Field(
        None, ge=1, le=10_000_000,
        description="steps per trial at most (a step that returns done: true ends its trial sooner); "
        "default: until a stop condition (stop.max_steps, stop.target, budget.time_limit_s) ends it",
    )
    checkpoint_every: int = Field(
        1, ge=1, description="save a checkpoint (save_checkpoint) every N steps and at the last; "
        "schedulers that pause or clone trials (pbt, pb2, hyperband) need 1",
    )
