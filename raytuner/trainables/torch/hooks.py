"""Your own training and evaluation step inside raytuner's torch loop.

``trainable.train_step`` and ``trainable.eval_step`` name functions (``module:function``)
with this contract::

    def train_step(model, batch, ctx: StepContext) -> Tensor | Mapping[str, Tensor | float]
    def eval_step(model, batch, ctx: StepContext) -> Mapping[str, Tensor | float]
    eval_step.metrics = {"val_loss": "min", "val_f1": "max"}   # what it returns, and which way is better

- ``batch`` is what the loader yields (``(x, y)`` for bundled and file data; whatever a
  ``data.load`` Dataset's items collate to), already on ``ctx.device``.
- ``train_step`` returns the batch's loss (a scalar tensor), or a mapping with ``"loss"``
  and other scalars (reported as ``train_<name>``, averaged over the epoch). By default
  raytuner runs it under the AMP autocast context and then does what it does for its own
  step: ``zero_grad``, ``backward`` (through the grad scaler), ``grad_clip``, the optimiser
  step; the per-batch schedule, pruning masks, checkpoints and reports are unchanged.
  A function that does its own optimisation (several backward passes, SAM, ...) declares
  ``train_step.optimizes = True``; it then calls ``ctx.zero_grad()``, ``with ctx.autocast():``,
  ``ctx.backward(loss)`` and ``ctx.optimizer_step()`` itself (these keep AMP and clipping working) and
  returns its loss for the report (detached is fine).
- ``eval_step`` replaces the built-in evaluation (it runs under ``torch.no_grad`` and
  autocast). Each value is the batch's **mean**; raytuner weights it by the batch size
  (the leading dimension of the first tensor in the batch) and reports the mean over the
  validation set, summed across DDP workers. It returns exactly the names it declares in
  ``metrics``; ``metric.name`` and ``early_stopping.monitor`` may name them, and the
  ``plateau`` schedule needs a ``val_loss`` among them.

Keep state that must survive a checkpoint in the model (parameters, buffers): the
checkpoint holds the model, optimiser, schedule, scaler and RNG state, nothing of the step
functions. Use torch's RNG (``torch.rand``...) so restored trials resume exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable, Mapping

import torch
from torch import nn

from raytuner.spec.torch import TorchTrainableSpec
from raytuner.trainables.torch.devices import autocast

Step = Callable[[Any, Any, "StepContext"], Any]


@dataclass
class StepContext:
    """What a step function gets besides the model and batch (read-only for it)."""

    device: torch.device
    loss_fn: Callable[..., torch.Tensor]  # trainable.loss, built
    config: Mapping[str, Any]  # trainable.params and the trial's config (tuned values)
    task: str | None
    epoch: int  # 1-based
    step: int  # batches trained before this one in the trial (0-based, across epochs)
    training: bool
    optimizer: torch.optim.Optimizer
    amp: torch.dtype | None  # the autocast dtype, None without mixed precision
    grad_clip: float | None
    model: nn.Module
    scaler: Any = None  # torch.amp.GradScaler while mixed precision is on

    def autocast(self) -> ContextManager[Any]:
        """The mixed-precision context (a no-op without AMP)."""
        return autocast(self.device, self.amp)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the grad scaler under fp16."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def optimizer_step(self) -> None:
        """Clip (``trainable.grad_clip``) and step the optimiser (and the grad scaler)."""
        if self.scaler is not None:
            if self.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            return
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()


def declared_metrics(fn: Any) -> dict[str, str] | None:
    """``eval_step.metrics`` as {name: mode}, or None when it is missing or malformed."""
    metrics = getattr(fn, "metrics", None)
    if not isinstance(metrics, Mapping) or not metrics:
        return None
    if not all(isinstance(k, str) and v in ("min", "max") for k, v in metrics.items()):
        return None
    return dict(metrics)


def optimizes(fn: Any) -> bool:
    return getattr(fn, "optimizes", False) is True


@dataclass(frozen=True)
class Hooks:
    """The trial's step functions (none: the built-in ones)."""

    train_step: Step | None = None
    eval_step: Step | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    def modes(self, builtin: Mapping[str, str]) -> dict[str, str]:
        """Reported metric -> better mode: an eval_step's metrics replace the built-in evaluation's."""
        if self.eval_step is None:
            return dict(builtin)
        kept = {k: v for k, v in builtin.items() if not k.startswith("val_")}
        return {**kept, **(declared_metrics(self.eval_step) or {})}

    def bind(self, run: Any, train_epoch: Callable[..., float], evaluate: Callable[[Any], dict[str, float]],
             reduce: Callable[[list[float]], list[float]]) -> "BoundSteps":
        return BoundSteps(self, run, train_epoch, evaluate, reduce)


def load_hooks(spec: TorchTrainableSpec, config: Mapping[str, Any]) -> Hooks:
    """The spec's step functions, imported (the plan checked them before Ray started)."""
    from raytuner.spec.registry import import_object

    if spec.train_step is None and spec.eval_step is None:
        return Hooks()
    return Hooks(
        train_step=import_object(spec.train_step, "trainable.train_step") if spec.train_step else None,
        eval_step=import_object(spec.eval_step, "trainable.eval_step") if spec.eval_step else None,
        config=dict(config),
    )


def to_device(batch: Any, device: torch.device) -> Any:
    """Tensors in a batch (nested tuples, lists, dicts) moved to the device."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        moved = [to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)  # namedtuples too
    return batch


def batch_size(batch: Any) -> int:
    """The leading dimension of the batch's first tensor (1 when it has none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else 1
    items = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, (tuple, list)) else ()
    for item in items:
        if isinstance(item, (torch.Tensor, Mapping, tuple, list)):
            return batch_size(item)
    return 1


def _name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _scalar(value: Any, fn: Any, key: str) -> torch.Tensor | float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{_name(fn)} returned {key!r} with shape {tuple(value.shape)}; expected a scalar")
        return value.detach().reshape(()).double()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{_name(fn)} returned {key!r} as {type(value).__name__}; expected a scalar tensor or number")


class BoundSteps:
    """One trial's epoch functions: the hooks where the spec names them, else the built-in ones."""

    def __init__(self, hooks: Hooks, run: Any, train_epoch: Callable[..., float],
                 evaluate: Callable[[Any], dict[str, float]], reduce: Callable[[list[float]], list[float]]) -> None:
        self.hooks, self.run, self._train_epoch, self._evaluate, self.reduce = hooks, run, train_epoch, evaluate, reduce
        self.per_epoch = len(run.train_loader)

    def _context(self, epoch: int, step: int, training: bool) -> StepContext:
        run = self.run
        return StepContext(
            device=run.device, loss_fn=run.loss_fn, config=self.hooks.config, task=run.task, epoch=epoch,
            step=step, training=training, optimizer=run.optimizer, amp=run.amp, grad_clip=run.spec.grad_clip,
            model=run.model, scaler=run.scaler if run.amp is not None else None,
        )

    def train(self, epoch: int, interrupted: Callable[[], bool] | None) -> dict[str, float]:
        """One epoch: ``train_loss`` (and a train_step's other values as ``train_<name>``)."""
        fn = self.hooks.train_step
        if fn is None:
            return {"train_loss": self._train_epoch(self.run, interrupted)}
        run, own = self.run, optimizes(fn)
        after_batch = run.schedule.after_batch if run.schedule.per_batch else None
        run.model.train()
        ctx = self._context(epoch, (epoch - 1) * self.per_epoch, True)
        sums: dict[str, Any] = {}
        count = 0
        for batch in run.train_loader:
            if interrupted is not None and interrupted():
                break
            if run.device.type != "cpu":
                batch = to_device(batch, run.device)
            if own:
                out = fn(run.model, batch, ctx)
            else:
                ctx.zero_grad()
                with ctx.autocast():
                    out = fn(run.model, batch, ctx)
                loss = out.get("loss") if isinstance(out, Mapping) else out
                if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
                    raise TypeError(
                        f"{_name(fn)} returned {type(loss).__name__} as its loss; expected a scalar tensor "
                        "with a gradient (a function that optimises itself sets optimizes = True)")
                ctx.backward(loss)
                ctx.optimizer_step()
            if after_batch is not None:
                after_batch()
            n = batch_size(batch)
            values = dict(out) if isinstance(out, Mapping) else {"loss": out}
            if "loss" not in values:
                raise TypeError(f"{_name(fn)} returned {sorted(values)}; a mapping needs a 'loss'")
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + _scalar(value, fn, key) * n
            count += n
            ctx.step += 1
        names = sorted(sums) or ["loss"]  # no batch (interrupted): every DDP rank still reduces
        totals = self.reduce([float(sums.get(k, 0.0)) for k in names] + [float(count)])
        n_all = max(totals[-1], 1.0)
        return {("train_loss" if k == "loss" else f"train_{k.removeprefix('train_')}"): v / n_all
                for k, v in zip(names, totals)}

    @torch.no_grad()
    def evaluate(self, epoch: int) -> dict[str, float]:
        """The validation metrics: the built-in ones, or an eval_step's (batch means, weighted by size)."""
        fn = self.hooks.eval_step
        if fn is None:
            return self._evaluate(self.run)
        run = self.run
        names = sorted(declared_metrics(fn) or {})
        run.model.eval()
        ctx = self._context(epoch, epoch * self.per_epoch, False)
        sums = torch.zeros(len(names) + 1, dtype=torch.float64, device=run.device)
        for batch in run.val_loader:
            if run.device.type != "cpu":
                batch = to_device(batch, run.device)
            with ctx.autocast():
                out = fn(run.model, batch, ctx)
            if not isinstance(out, Mapping) or set(out) != set(names):
                got = sorted(out) if isinstance(out, Mapping) else type(out).__name__
                raise TypeError(f"{_name(fn)} returned {got}; it declares metrics {names}")
            n = batch_size(batch)
            for i, key in enumerate(names):
                sums[i] += _scalar(out[key], fn, key) * n
            sums[-1] += n
        totals = self.reduce(sums.tolist())
        n_all = max(totals[-1], 1.0)
        return {key: totals[i] / n_all for i, key in enumerate(names)}


# -- checks before Ray starts ----------------------------------------------------------


def _check_step(path: str, where: str) -> Any:
    import inspect

    from raytuner.errors import SpecError
    from raytuner.spec.registry import import_object

    fn = import_object(path, where)
    if not callable(fn):
        raise SpecError.at(where, path, "a function step(model, batch, ctx)")
    try:
        inspect.signature(fn).bind(None, None, None)
    except TypeError as exc:
        raise SpecError.at(where, path, f"a function that takes (model, batch, ctx) ({exc})") from None
    except ValueError:  # no introspectable signature (a builtin): the trial will tell
        pass
    return fn


def check_hooks(spec: TorchTrainableSpec, builtin: Mapping[str, str], schedules: Iterable[Any] = ()) -> dict[str, str]:
    """Import and check the spec's step functions (SpecError naming the field); returns the
    metrics the trials will report, name -> mode. ``schedules``: schedule names the space can pick."""
    from raytuner.errors import SpecError

    train = _check_step(spec.train_step, "trainable.train_step") if spec.train_step else None
    if train is not None and not isinstance(getattr(train, "optimizes", False), bool):
        raise SpecError.at("trainable.train_step", spec.train_step,
                           "a function whose 'optimizes' attribute is True or False (or absent)")
    evaluate = _check_step(spec.eval_step, "trainable.eval_step") if spec.eval_step else None
    if evaluate is not None and declared_metrics(evaluate) is None:
        raise SpecError.at("trainable.eval_step", spec.eval_step,
                           "a function that declares what it returns: eval_step.metrics = "
                           "{'val_loss': 'min', 'val_f1': 'max', ...} (name -> 'min' or 'max')")
    modes = Hooks(train, evaluate).modes(builtin)
    if "plateau" in (spec.schedule.name, *schedules) and "val_loss" not in modes:
        raise SpecError.at("trainable.eval_step", spec.eval_step,
                           "an eval_step that reports val_loss (the plateau schedule steps on it)")
    return modes
