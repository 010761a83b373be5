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


class Schedule:
    """Steps a torch lr scheduler at the right moments: per batch, per epoch, or on val loss."""

    def __init__(self, scheduler: Any, *, per_batch: bool = False, on_loss: bool = False) -> None:
        self.scheduler = scheduler
        self.per_batch = per_batch
        self.on_loss = on_loss

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

    def rebase(self, lr: float) -> None:
        """A restored schedule continues from a new base lr (PBT changed it)."""
        if self.scheduler is None:
            return
        if hasattr(self.scheduler, "base_lrs"):
            self.scheduler.base_lrs = [lr for _ in self.scheduler.base_lrs]


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
