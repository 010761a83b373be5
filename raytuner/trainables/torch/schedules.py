"""Learning-rate schedules: step, cosine, one-cycle (per batch) and reduce-on-plateau."""

from __future__ import annotations

from typing import Any

import torch

from raytuner.spec.torch import (
    CosineSchedule,
    OneCycleSchedule,
    PlateauSchedule,
    StepSchedule,
    TorchTrainableSpec,
)


LR_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")  # what a schedule keeps in each param group


def lr_position(optimizer: torch.optim.Optimizer) -> list[dict[str, float]]:
    """Where the schedule stands: each param group's lr (and one-cycle's bounds)."""
    return [{key: group[key] for key in LR_KEYS if isinstance(group.get(key), (int, float))}
            for group in optimizer.param_groups]


class Schedule:
    """Steps a torch lr scheduler at the right moments: per batch, per epoch, or on val loss.

    ``follows_lr``: the schedule is relative to ``optimizer.lr`` (one-cycle with its own
    ``max_lr`` is not), so a new base lr (PBT) scales it."""

    def __init__(self, scheduler: Any, *, per_batch: bool = False, on_loss: bool = False,
                 follows_lr: bool = True) -> None:
        self.scheduler = scheduler
        self.per_batch = per_batch
        self.on_loss = on_loss
        self.follows_lr = follows_lr

    def after_batch(self) -> None:
        if self.scheduler is not None and self.per_batch:
            self.scheduler.step()

    def after_epoch(self, val_loss: float) -> None:
        if self.scheduler is None or self.per_batch:
            return
        if self.on_loss:
            self.scheduler.step(val_loss)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scheduler is not None and state is not None:
            self.scheduler.load_state_dict(state)

    def rebase(self, optimizer: torch.optim.Optimizer, position: list[dict[str, float]], ratio: float) -> None:
        """A restored schedule continues from its position with a base lr ``ratio`` times the
        old one (PBT mutated ``optimizer.lr``): a step schedule at gamma**k stays at gamma**k
        of the new base, cosine stays at its point of the curve, one-cycle and plateau scale.

        ``position``: :func:`lr_position` of the restored optimiser, read before the new
        hyperparameters were put in (they hold the undecayed base lr)."""
        scale = ratio if self.follows_lr else 1.0
        for group, saved in zip(optimizer.param_groups, position):
            for key, value in saved.items():
                group[key] = value * scale
        sched = self.scheduler
        if sched is None:
            return
        if hasattr(sched, "base_lrs"):
            sched.base_lrs = [lr * scale for lr in sched.base_lrs]
        closed_form = getattr(sched, "_get_closed_form_lr", None)  # exact where torch has it (step, cosine)
        if closed_form is not None:
            for group, lr in zip(optimizer.param_groups, closed_form()):
                group["lr"] = lr
        if hasattr(sched, "_last_lr"):
            sched._last_lr = [group["lr"] for group in optimizer.param_groups]


def build_schedule(spec: TorchTrainableSpec, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Schedule:
    s = spec.schedule
    lrs = torch.optim.lr_scheduler
    if isinstance(s, StepSchedule):
        return Schedule(lrs.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma))
    if isinstance(s, CosineSchedule):
        return Schedule(lrs.CosineAnnealingLR(optimizer, T_max=s.t_max or spec.total_epochs(), eta_min=s.eta_min))
    if isinstance(s, OneCycleSchedule):
        return Schedule(
            lrs.OneCycleLR(
                optimizer,
                max_lr=s.max_lr or spec.optimizer.lr,
                total_steps=max(1, steps_per_epoch * spec.total_epochs()),
                pct_start=s.pct_start,
                anneal_strategy=s.anneal,
                div_factor=s.div_factor,
                final_div_factor=s.final_div_factor,
                cycle_momentum=_has_momentum(spec),
            ),
            per_batch=True,
            follows_lr=s.max_lr is None,
        )
    if isinstance(s, PlateauSchedule):
        return Schedule(
            lrs.ReduceLROnPlateau(optimizer, mode="min", factor=s.factor, patience=s.patience,
                                  threshold=s.threshold, min_lr=s.min_lr),
            on_loss=True,
        )
    return Schedule(None)


def _has_momentum(spec: TorchTrainableSpec) -> bool:
    """One-cycle also cycles momentum (or beta1) when the optimiser has one."""
    opt = spec.optimizer
    return opt.name in ("adam", "adamw") or opt.momentum > 0
