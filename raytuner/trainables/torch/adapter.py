"""The torch trainable adapter: checks before Ray starts, then a Tune function per trial."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from raytuner.errors import MISSING, SpecError, missing_extra
from raytuner.spec.params import Space
from raytuner.spec.registry import import_object
from raytuner.spec.torch import (
    LOSS_NAMES,
    LOSS_TASKS,
    BuildModelSpec,
    ClassModelSpec,
    CNNModelSpec,
    TorchTrainableSpec,
)
from raytuner.trainables.base import Trainable
from raytuner.trainables.torch.tuning import check_space, mutation_refusal

DRIVER_MEMORY = 256 * 1024**2  # bytes reserved by the driver of a DDP trial


def require_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise missing_extra("torch", "torch", "the torch trainable") from None
    return torch


def _values(param: Any) -> list[Any]:
    """The values a categorical (or fixed) space parameter can take; [] for ranges or none."""
    from raytuner.spec.params import ChoiceParam, FixedParam, GridParam

    if isinstance(param, (ChoiceParam, GridParam)):
        return list(param.values)
    if isinstance(param, FixedParam):
        return [param.value]
    return []


def _check_args(cls: type, fixed: dict[str, Any], tuned: Any) -> None:
    """Constructor arguments (fixed and tuned) must be names the class accepts."""
    import inspect

    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # no introspectable signature: the trial will tell
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for where, names in (("trainable.model.args", fixed), ("space.model.args", tuned if isinstance(tuned, dict) else {})):
        for name in names:
            if name not in valid:
                raise SpecError.at(f"{where}.{name}", name, f"an argument of {cls.__name__}: {', '.join(valid) or '(none)'}")


class TorchTrainable(Trainable):
    kind = "torch"
    requires = (("torch", "torch"),)
    exports_checkpoints = True
    spec: TorchTrainableSpec

    def task(self) -> str | None:
        from raytuner.trainables.data import BUNDLED

        data = self.spec.data
        if data.task:
            return data.task
        if data.source and data.source.startswith("sklearn:"):
            entry = BUNDLED.get(data.source.split(":", 1)[1])
            if entry:
                return entry[1]
        return LOSS_TASKS.get(self.spec.loss)

    def check(self, space: Space) -> str:
        require_torch()
        spec = self.spec
        self._epochs = check_space(spec, space)
        self._check_model(space)
        task = self._check_data()
        self._check_loss(task, self.spec.loss, "trainable.loss")
        for value in _values(space.get("loss")):
            self._check_loss(task, str(value), "space.loss")
        self._check_resources()
        from raytuner.trainables.torch.hooks import check_hooks
        from raytuner.trainables.torch.loop import metric_modes

        tuned = space.get("schedule")
        schedules = _values(tuned.get("name")) if isinstance(tuned, dict) else []
        modes = check_hooks(spec, metric_modes(task), schedules)  # an eval_step's metrics replace the built-in val_*
        name = self.metric.name
        if name not in modes:
            raise SpecError.at("metric.name", name, "a metric the torch trainable reports: " + ", ".join(modes))
        es = spec.early_stopping
        if es is not None and es.monitor is not None and es.monitor not in modes:
            raise SpecError.at("trainable.early_stopping.monitor", es.monitor, "a reported metric: " + ", ".join(modes))
        self._mode = self.metric.mode or modes[name]
        return self._mode

    def _check_model(self, space: Space) -> None:
        from torch import nn

        m = self.spec.model
        if isinstance(m, ClassModelSpec):
            cls = import_object(m.path, "trainable.model.path")
            if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
                raise SpecError.at("trainable.model.path", m.path, "a torch.nn.Module subclass")
            tuned = space.get("model", {}).get("args", {}) if isinstance(space.get("model"), dict) else {}
            _check_args(cls, m.args, tuned)
        elif isinstance(m, BuildModelSpec):
            if not callable(import_object(m.function, "trainable.model.function")):
                raise SpecError.at("trainable.model.function", m.function, "a callable build(config)")
        elif isinstance(m, CNNModelSpec) and self.spec.data.source and self.spec.data.shape == "vector":
            raise SpecError.at("trainable.data.shape", "vector", "'image' or [C, H, W] for the cnn model")

    def mutation_refusal(self, path: tuple[str, ...]) -> str | None:
        return mutation_refusal(self.spec, path, self._declared_mutable())

    def _declared_mutable(self) -> frozenset[str]:
        """What a user's model class, build or load function declares PBT may mutate (``raytuner_mutable``)."""
        m, owners = self.spec.model, []
        if isinstance(m, ClassModelSpec):
            owners.append(import_object(m.path, "trainable.model.path"))
        elif isinstance(m, BuildModelSpec):
            owners.append(import_object(m.function, "trainable.model.function"))
        if self.spec.data.load is not None:
            owners.append(import_object(self.spec.data.load, "trainable.data.load"))
        return frozenset(name for owner in owners for name in getattr(owner, "raytuner_mutable", ()))

    def _check_data(self) -> str | None:
        from raytuner.trainables.data import check_data
        from raytuner.spec.sklearn import DataSpec
        from raytuner.trainables.torch.data import IMAGE_SHAPES

        data = self.spec.data
        if data.load is not None:
            if not callable(import_object(data.load, "trainable.data.load")):
                raise SpecError.at("trainable.data.load", data.load, "a callable load(config) -> (train, val)")
        else:
            check_data(DataSpec(source=data.source or "", target=data.target, features=data.features, task=data.task))
            if data.shape == "image" and data.source not in IMAGE_SHAPES:
                raise SpecError.at("trainable.data.shape", "image",
                                   f"[C, H, W] for {data.source} ('image' is known for {', '.join(IMAGE_SHAPES)})")
        task = self.task()
        if task is None and self.spec.loss == "auto":
            why = ("a load function's Datasets do not say whether they are a classification or a regression "
                   "task" if data.load is not None else "the task of this data is not known")
            raise SpecError.at("trainable.data.task", MISSING, f"task: classification or task: regression under "
                               f"trainable.data ({why}), or a named loss that implies it (trainable.loss: "
                               f"cross_entropy or mse)")
        return task

    def _check_loss(self, task: str | None, loss: str, where: str) -> None:
        if loss == "auto" or loss in LOSS_NAMES:
            implied = LOSS_TASKS.get(loss)
            if implied and task and implied != task:
                raise SpecError.at(where, loss, f"a {task} loss for {task} data")
            return
        if isinstance(loss, str) and "." not in loss and ":" not in loss:
            raise SpecError.at(where, loss, "one of " + ", ".join(LOSS_NAMES) + ", 'auto' or an import path")
        if not callable(import_object(loss, where)):
            raise SpecError.at(where, loss, "a loss class or function")

    def _check_resources(self) -> None:
        spec, res = self.spec, self.resources
        if spec.amp and res.gpu == 0:
            raise SpecError.at("trainable.amp", spec.amp, "false without GPUs (mixed precision runs on CUDA; set resources.gpu)")
        if spec.device == "cuda" and res.gpu == 0:
            raise SpecError.at("trainable.device", "cuda", "'auto' or 'cpu' without GPUs (or set resources.gpu > 0)")
        if spec.workers > 1 and 0 < res.gpu < 1:
            raise SpecError.at("resources.gpu", res.gpu, "a whole number of GPUs per DDP worker (workers > 1)")

    def max_steps(self) -> int | None:
        return getattr(self, "_epochs", None) or self.spec.total_epochs()

    def checkpoints(self) -> bool:
        """Model, optimiser, schedule and RNG state are saved every ``checkpoint_every``
        epochs; schedulers that pause or clone trials need one at every step."""
        return self.spec.checkpoint_every == 1

    def trial_resources(self) -> Any:
        """DDP: the trial is a driver that takes no CPU or GPU (only some memory: Ray needs a
        non-empty request); its TorchTrainer asks for the workers' CPUs and GPUs."""
        if self.spec.workers > 1:
            return {"cpu": 0, "gpu": 0, "memory": DRIVER_MEMORY}
        return super().trial_resources()

    def setup(self) -> Any:
        from raytuner.trainables.torch.loop import TrialSetup

        return TrialSetup(
            spec=self.spec.model_dump(),  # python mode: functions and classes given as objects stay objects
            metric=self.metric.name,
            mode=getattr(self, "_mode", None) or self.metric.mode or "max",
            seed=self.seed if self.seed is not None else 0,
            cpus=self.resources.cpu,
            gpus=self.resources.gpu,
            task=self.task(),
            scope=self.metric.scope,
        )

    def export_checkpoint(self, checkpoint_dir: Any, config: dict[str, Any], out: Any) -> dict[str, Any]:
        """``model.pt`` (a plain state_dict, pruning made permanent), ``preprocess.pt`` and model.json's
        part (raytuner.trainables.torch.export)."""
        require_torch()
        from raytuner.trainables.torch.export import export_checkpoint

        return export_checkpoint(self.setup(), config, checkpoint_dir, out)

    def build(self) -> Callable[[dict[str, Any]], None]:
        require_torch()
        setup = self.setup()
        if self.spec.workers > 1:
            from raytuner.trainables.torch.ddp import ddp_trial

            return partial(ddp_trial, setup=setup, workers=self.spec.workers)
        from raytuner.trainables.torch.trial import torch_trial

        return partial(torch_trial, setup=setup)
