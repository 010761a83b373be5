"""The training loop of one trial (or one DDP worker): epochs, reports, checkpoints.

``prepare`` builds everything a trial needs from the spec and its config;
``train`` runs the epochs against a :class:`~raytuner.trainables.torch.report.Session`
(Ray Tune, Ray Train, or an in-process one for tests and benchmarks), restoring
from the session's checkpoint first when there is one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from raytuner.results.metric_rule import DIVERGED, REASON_KEY, STATUS_KEY
from raytuner.spec.torch import TorchTrainableSpec
from raytuner.trainables.torch import checkpoint as ckpt
from raytuner.trainables.torch.data import load_tensors, make_loader
from raytuner.trainables.torch.devices import amp_dtype, autocast, choose_device, grad_scaler, set_threads, trial_threads
from raytuner.trainables.torch.hooks import Hooks, load_hooks
from raytuner.trainables.torch.models import build_model, unwrap
from raytuner.trainables.torch.optim import apply_hyperparameters, build_loss, build_optimizer, current_lr
from raytuner.trainables.torch.pruning import (
    counts,
    is_pruned,
    prepare_for_state,
    prune_to,
    refresh,
    target_for_epoch,
    weight_sparsity,
)
from raytuner.trainables.torch.report import Session
from raytuner.trainables.torch.schedules import Schedule, build_schedule, lr_position
from raytuner.trainables.torch.tuning import effective_spec, user_config

# reported metrics: name -> the mode that is better ("min"/"max")
COMMON_METRICS = {"train_loss": "min", "val_loss": "min", "epoch_time_s": "min", "params": "min",
                  "sparsity": "max", "lr": "max", "epoch": "max"}
TASK_METRICS = {"classification": {"val_accuracy": "max"}, "regression": {"val_mae": "min", "val_r2": "max"}}


def metric_modes(task: str | None) -> dict[str, str]:
    return {**COMMON_METRICS, **TASK_METRICS.get(task or "", {})}


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of an experiment shares (picklable; sent to the workers)."""

    spec: dict[str, Any]
    metric: str
    mode: str
    seed: int
    cpus: float
    gpus: float
    task: str | None
    scope: str = "last"  # metric.scope: "best" also checkpoints every epoch that improves the metric


@dataclass
class Distributed:
    rank: int
    world: int
    device: Any = None


@dataclass
class Run:
    spec: TorchTrainableSpec
    setup: TrialSetup
    model: nn.Module
    loss_fn: Callable[..., torch.Tensor]
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    train_loader: Any
    val_loader: Any
    generator: torch.Generator
    device: torch.device
    amp: torch.dtype | None
    scaler: Any
    threads: int
    task: str | None
    dist: Distributed | None = None
    sampler: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    hooks: Hooks = field(default_factory=Hooks)  # trainable.train_step / eval_step


def prepare(setup: TrialSetup, config: Mapping[str, Any], dist: Distributed | None = None) -> Run:
    spec = effective_spec(TorchTrainableSpec.model_validate(setup.spec), config)
    threads = set_threads(trial_threads(spec, setup.cpus))
    ckpt.seed_everything(setup.seed)
    user = user_config(spec, config)
    data = load_tensors(spec.data, seed=setup.seed, task=setup.task, config=user, params=spec.params)
    device = choose_device(spec, setup.gpus, ddp_device=dist.device if dist else None)
    model = build_model(spec, data.in_shape, data.out_dim, user).to(device)
    if dist is not None and dist.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    optimizer = build_optimizer(spec.optimizer, model.parameters())
    generator = torch.Generator()
    pin = spec.data.pin_memory if spec.data.pin_memory is not None else device.type == "cuda"
    sampler = val_sampler = None
    if dist is not None and dist.world > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(data.train, num_replicas=dist.world, rank=dist.rank,
                                     shuffle=spec.data.shuffle, seed=setup.seed, drop_last=spec.data.drop_last)
        val_sampler = list(range(dist.rank, len(data.val), dist.world))  # a shard each, no padding
    train_loader = make_loader(data.train, spec.data, train=True, generator=generator, pin_memory=pin,
                               sampler=sampler, device=device)
    val_loader = make_loader(data.val, spec.data, train=False, generator=generator, pin_memory=pin,
                             sampler=val_sampler, device=device)
    dtype = amp_dtype(spec, device)
    return Run(
        spec=spec, setup=setup, model=model, loss_fn=build_loss(spec.loss, data.task), optimizer=optimizer,
        schedule=build_schedule(spec, optimizer, len(train_loader)), train_loader=train_loader,
        val_loader=val_loader, generator=generator, device=device, amp=dtype, scaler=grad_scaler(device, dtype),
        threads=threads, task=data.task, dist=dist, sampler=sampler, hooks=load_hooks(spec, user),
    )


class EarlyStopper:
    def __init__(self, patience: int, min_delta: float, mode: str) -> None:
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best: float | None = None
        self.bad = 0

    def update(self, value: float) -> bool:
        """Record an epoch's value; True when the trial should stop."""
        if not math.isfinite(value):
            self.bad += 1
        elif self.best is None or (
            value > self.best + self.min_delta if self.mode == "max" else value < self.best - self.min_delta
        ):
            self.best, self.bad = value, 0
        else:
            self.bad += 1
        return self.bad >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad = state["best"], state["bad"]


def _early_stopper(run: Run) -> tuple[EarlyStopper | None, str | None]:
    es = run.spec.early_stopping
    if es is None:
        return None, None
    monitor = es.monitor or run.setup.metric
    mode = run.setup.mode if monitor == run.setup.metric else run.hooks.modes(metric_modes(run.task)).get(monitor, "min")
    return EarlyStopper(es.patience, es.min_delta, mode), monitor


def _all_reduce(run: Run, values: list[float]) -> list[float]:
    if run.dist is None or run.dist.world <= 1:
        return values
    import torch.distributed as td

    t = torch.tensor(values, dtype=torch.float64, device=run.device)
    td.all_reduce(t)
    return t.tolist()


def train_epoch(run: Run, interrupted: Callable[[], bool] | None = None) -> float:
    """One pass over the training data; returns the mean loss. Stops between batches
    once ``interrupted()`` is true (Tune stopped the trial while this epoch trained)."""
    model, opt, loss_fn, device = run.model, run.optimizer, run.loss_fn, run.device
    clip = run.spec.grad_clip
    scaler = run.scaler if run.amp is not None else None  # plain calls without mixed precision
    after_batch = run.schedule.after_batch if run.schedule.per_batch else None
    model.train()
    losses: list[torch.Tensor] = []
    sizes: list[int] = []
    move = device.type != "cpu"
    for xb, yb in run.train_loader:
        if interrupted is not None and interrupted():
            break
        if move:
            xb = xb.to(device, non_blocking=True)
            yb = yb.to(device, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
        else:
            with autocast(device, run.amp):
                loss = loss_fn(model(xb), yb)
            scaler.scale(loss).backward()
            if clip is not None:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            scaler.step(opt)
            scaler.update()
        if after_batch is not None:
            after_batch()
        losses.append(loss.detach())
        sizes.append(len(xb))
    total = 0.0
    if losses:
        weights = torch.tensor(sizes, dtype=torch.float64, device=device)
        total = float((torch.stack(losses).double() * weights).sum())
    loss_sum, count = _all_reduce(run, [total, float(sum(sizes))])
    return loss_sum / max(count, 1)


@torch.no_grad()
def evaluate(run: Run) -> dict[str, float]:
    model, loss_fn, device = run.model, run.loss_fn, run.device
    model.eval()
    sums = torch.zeros(6, dtype=torch.float64, device=device)  # loss, n, correct, abs err, sq err, sum y / sum y^2
    ys: list[torch.Tensor] = []
    for xb, yb in run.val_loader:
        xb, yb = xb.to(device), yb.to(device)
        with autocast(device, run.amp):
            out = model(xb)
            loss = loss_fn(out, yb)
        n = len(xb)
        sums[0] += loss.double() * n
        sums[1] += n
        if run.task == "classification":
            sums[2] += (out.argmax(dim=1) == yb).sum()
        elif run.task == "regression":
            err = (out.float().reshape(yb.shape) - yb.float()).double()
            sums[3] += err.abs().sum()
            sums[4] += (err**2).sum()
            ys.append(yb.double().reshape(-1))
    values = sums.tolist()
    if ys:
        y = torch.cat(ys)
        values[5] = float(y.sum())
        values.append(float((y**2).sum()))
    else:
        values.append(0.0)
    values = _all_reduce(run, values)
    n = max(values[1], 1.0)
    out: dict[str, float] = {"val_loss": values[0] / n}
    if run.task == "classification":
        out["val_accuracy"] = values[2] / n
    elif run.task == "regression":
        out["val_mae"] = values[3] / n
        var = values[6] - values[5] ** 2 / n
        out["val_r2"] = 1.0 - values[4] / var if var > 0 else float("nan")
    return out


def capture(run: Run, epoch: int, early: EarlyStopper | None) -> dict[str, Any]:
    model = unwrap(run.model)
    return {
        "epoch": epoch,
        "model": model.state_dict(),
        "pruned": is_pruned(model),
        "optimizer": run.optimizer.state_dict(),
        "optimizer_spec": run.spec.optimizer.model_dump(mode="json"),
        "schedule": run.schedule.state_dict(),
        "scaler": run.scaler.state_dict(),
        "early": early.state_dict() if early else None,
        "rng": ckpt.rng_state(),
    }


def restore(run: Run, state: dict[str, Any], early: EarlyStopper | None) -> int:
    """Put a checkpoint's state back; returns the next epoch to train."""
    model = unwrap(run.model)
    if state.get("pruned"):
        prepare_for_state(model, state["model"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise RuntimeError(
            "the checkpoint does not fit this trial's model (a tuned value changed its shape; PBT can only "
            f"mutate values that keep the model's parameters): {exc}"
        ) from None
    refresh(model)
    run.optimizer.load_state_dict(state["optimizer"])
    run.schedule.load_state_dict(state["schedule"])
    saved = state.get("optimizer_spec")
    if saved != run.spec.optimizer.model_dump(mode="json"):  # PBT changed them: the donor's schedule goes on
        position = lr_position(run.optimizer)
        apply_hyperparameters(run.spec.optimizer, run.optimizer)
        old_lr = (saved or {}).get("lr")
        run.schedule.rebase(run.optimizer, position, run.spec.optimizer.lr / old_lr if old_lr else 1.0)
    if state.get("scaler"):
        run.scaler.load_state_dict(state["scaler"])
    if early is not None and state.get("early"):
        early.load_state_dict(state["early"])
    ckpt.set_rng_state(state["rng"])
    return int(state["epoch"]) + 1


def _shuffle_seed(run: Run, epoch: int) -> None:
    if run.sampler is not None:
        run.sampler.set_epoch(epoch)
    else:
        run.generator.manual_seed(run.setup.seed * 1_000_003 + epoch)


class _BestSoFar:
    """The metric's best value so far in this run of the loop (``metric.scope: best``)."""

    def __init__(self, setup: TrialSetup) -> None:
        self.mode, self.value = setup.mode, None

    def improved(self, value: Any) -> bool:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.value is None or (value > self.value if self.mode == "max" else value < self.value):
            self.value = value
            return True
        return False


def train(run: Run, session: Session) -> list[dict[str, Any]]:
    """Train every epoch left, reporting each; returns the reported metrics."""
    spec = run.spec
    early, monitor = _early_stopper(run)
    start = 1
    state = session.restore()
    if state is not None:
        start = restore(run, state, early)
    total_epochs = spec.total_epochs()
    pruning = spec.pruning
    reports: list[dict[str, Any]] = []
    size: tuple[int, int, float] | None = None
    best = _BestSoFar(run.setup) if run.setup.scope == "best" and spec.checkpoint_every > 1 else None
    steps = run.hooks.bind(run, train_epoch, evaluate, lambda values: _all_reduce(run, values))
    for epoch in range(start, total_epochs + 1):
        began = time.perf_counter()
        _shuffle_seed(run, epoch)
        if pruning is not None:
            target = target_for_epoch(pruning, epoch, spec.epochs)
            if target is not None:
                prune_to(unwrap(run.model), target)
        trained = steps.train(epoch, session.interrupted if session.interruptible else None)
        train_loss = trained["train_loss"]
        if session.interrupted():
            session.close()  # raises what ended the trial; this epoch is never reported
        if pruning is not None and pruning.when == "after" and epoch == spec.epochs:
            prune_to(unwrap(run.model), pruning.sparsity)
        val = steps.evaluate(epoch)
        run.schedule.after_epoch(val.get("val_loss", math.nan))  # plateau: the plan asks an eval_step for it
        if size is None or pruning is not None:  # only pruning changes the counts
            size = (*counts(unwrap(run.model)), weight_sparsity(unwrap(run.model)))
        nonzero, total, sparsity = size
        metrics: dict[str, Any] = {
            "epoch": epoch,
            **trained,
            **val,
            "lr": current_lr(run.optimizer),
            "epoch_time_s": time.perf_counter() - began,
            "params": nonzero,
            "params_total": total,
            "sparsity": sparsity,
            "device": run.device.type,
            "threads": run.threads,
            "workers": run.dist.world if run.dist else 1,
        }
        if spec.optimizer.hypergradient is not None:
            metrics["hypergradient"] = float(run.optimizer.param_groups[0].get("hypergradient", 0.0))
        diverged = not math.isfinite(train_loss)
        if diverged:  # the trial ends here, diverged (results.metric_rule), whatever its metric says
            metrics.update({STATUS_KEY: DIVERGED, REASON_KEY: f"train_loss is {train_loss}"})
        stop = diverged
        if early is not None and monitor is not None:
            value = metrics.get(monitor)
            stop = early.update(float(value) if isinstance(value, (int, float)) else float("nan")) or stop
        metrics["stopped_early"] = bool(stop and epoch < total_epochs)
        last = stop or epoch == total_epochs
        save = last or epoch % spec.checkpoint_every == 0
        if best is not None:  # the best step's weights are kept for the export
            save = best.improved(metrics.get(run.setup.metric)) or save
        session.report(metrics, capture(run, epoch, early) if save else None)
        reports.append(metrics)
        if stop:
            break
    session.close()
    return reports
