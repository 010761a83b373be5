"""Step functions for ``trainable.train_step`` / ``eval_step``: what a user's module looks like.

Importable on every Ray worker (they live in the package), so specs can name them as
``train_step: raytuner.testing.torch_steps:mixup_step``. The contract is in
:mod:`raytuner.trainables.torch.hooks`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def mixup_step(model: nn.Module, batch: Any, ctx: Any) -> dict[str, torch.Tensor]:
    """Mixup (Zhang et al. 2018): train on convex combinations of pairs of examples and
    of their labels' losses. ``mixup_alpha`` (config: trainable.params or a tuned space
    key) is the Beta distribution's parameter; 0 trains on the plain batch. raytuner does
    the backward pass, clipping, the optimiser and schedule steps and AMP."""
    x, y = batch
    alpha = float(ctx.config.get("mixup_alpha", 0.2))
    if alpha <= 0:
        loss = ctx.loss_fn(model(x), y)
        return {"loss": loss, "mix": torch.ones((), device=x.device)}
    lam = torch.distributions.Beta(alpha, alpha).sample().to(x.device)  # torch's RNG: restores exactly
    perm = torch.randperm(len(x), device=x.device)
    out = model(lam * x + (1 - lam) * x[perm])
    loss = lam * ctx.loss_fn(out, y) + (1 - lam) * ctx.loss_fn(out, y[perm])
    return {"loss": loss, "mix": lam.detach()}  # reported as train_loss and train_mix


def label_smoothing_step(model: nn.Module, batch: Any, ctx: Any) -> torch.Tensor:
    """Cross-entropy with label smoothing (``label_smoothing`` in the config, default 0.1)."""
    x, y = batch
    return nn.functional.cross_entropy(model(x), y, label_smoothing=float(ctx.config.get("label_smoothing", 0.1)))


def sam_step(model: nn.Module, batch: Any, ctx: Any) -> torch.Tensor:
    """Sharpness-aware minimisation (Foret et al. 2021): a step that does its own
    optimisation (two forward/backward passes per batch), through ctx so AMP and
    ``grad_clip`` still apply. ``sam_rho`` in the config (default 0.05)."""
    x, y = batch
    rho = float(ctx.config.get("sam_rho", 0.05))
    ctx.zero_grad()
    with ctx.autocast():
        loss = ctx.loss_fn(model(x), y)
    ctx.backward(loss)
    params = [p for p in model.parameters() if p.grad is not None]
    with torch.no_grad():
        norm = torch.norm(torch.stack([p.grad.norm() for p in params])) + 1e-12
        moves = [p.grad * (rho / norm) for p in params]
        for p, e in zip(params, moves):
            p.add_(e)  # to the worst case nearby
    ctx.zero_grad()
    with ctx.autocast():
        ctx.backward(ctx.loss_fn(model(x), y))
    with torch.no_grad():
        for p, e in zip(params, moves):
            p.sub_(e)  # back; step with the gradient taken there
    ctx.optimizer_step()
    return loss.detach()


sam_step.optimizes = True  # type: ignore[attr-defined]


def top2_eval(model: nn.Module, batch: Any, ctx: Any) -> dict[str, torch.Tensor]:
    """Validation loss, accuracy and top-2 accuracy (each the batch's mean)."""
    x, y = batch
    out = model(x)
    top2 = out.topk(2, dim=1).indices
    return {
        "val_loss": ctx.loss_fn(out, y),
        "val_accuracy": (top2[:, 0] == y).float().mean(),
        "val_top2_accuracy": (top2 == y[:, None]).any(dim=1).float().mean(),
    }


top2_eval.metrics = {"val_loss": "min", "val_accuracy": "max", "val_top2_accuracy": "max"}  # type: ignore[attr-defined]
