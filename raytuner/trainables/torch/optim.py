"""Losses by name or import path, and the four optimisers (with hypergradient variants)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import nn

from raytuner.spec.registry import import_object
from raytuner.spec.torch import LOSS_NAMES, OptimizerSpec
from raytuner.trainables.torch.hypergradient import AdamHD, SGDHD

LOSSES: dict[str, Callable[[], nn.Module]] = {
    "cross_entropy": nn.CrossEntropyLoss,
    "nll": nn.NLLLoss,
    "mse": nn.MSELoss,
    "l1": nn.L1Loss,
    "smooth_l1": nn.SmoothL1Loss,
    "huber": nn.HuberLoss,
    "bce_with_logits": nn.BCEWithLogitsLoss,
}
if set(LOSSES) != set(LOSS_NAMES):  # pragma: no cover - keep the two tables in step
    raise RuntimeError("LOSSES and spec_torch.LOSS_NAMES differ")
DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}


class OneHotBCEWithLogits(nn.Module):
    """BCE with logits against one-hot class labels (one logit per class, as cross-entropy has)."""

    def __init__(self) -> None:
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.dtype == torch.long:
            target = nn.functional.one_hot(target, logits.shape[-1]).to(logits.dtype)
        return self.bce(logits, target)


def resolve_loss_name(name: str, task: str | None) -> str:
    if name == "auto":
        if task is None:
            raise ValueError("loss 'auto' needs a known task; set trainable.data.task or trainable.loss")
        return DEFAULT_LOSS[task]
    return name


def build_loss(name: str, task: str | None) -> Callable[..., torch.Tensor]:
    name = resolve_loss_name(name, task)
    if name == "bce_with_logits" and task == "classification":
        return OneHotBCEWithLogits()
    if name in LOSSES:
        return LOSSES[name]()
    obj = import_object(name, "trainable.loss")
    if isinstance(obj, type):  # a loss class: instantiate it
        return obj()
    return obj


FUSED = ("sgd", "adam", "adamw")  # optimisers torch has a fused (multi-tensor, one kernel) step for


def fused_kwargs(spec: OptimizerSpec, params: list[Any]) -> dict[str, Any]:
    """``{"fused": True}`` when the spec allows it and torch has the kernel for these parameters
    (floating point, one supported device), else nothing (torch's per-parameter default)."""
    if spec.fused is False or spec.name not in FUSED or spec.hypergradient is not None or not params:
        return {}
    from torch.optim.optimizer import _get_fused_kernels_supported_devices

    devices = {p.device.type for p in params}
    supported = set(_get_fused_kernels_supported_devices())
    if len(devices) != 1 or not devices <= supported or not all(torch.is_floating_point(p) for p in params):
        return {}
    return {"fused": True}


def build_optimizer(spec: OptimizerSpec, params: Iterable[Any]) -> torch.optim.Optimizer:
    params = list(params)
    hd = spec.hypergradient
    fused = fused_kwargs(spec, params)
    if spec.name == "sgd":
        if hd is not None:
            return SGDHD(params, spec.lr, hyper_beta=hd.beta, momentum=spec.momentum, nesterov=spec.nesterov,
                         weight_decay=spec.weight_decay, min_lr=hd.min_lr)
        return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov,
                               weight_decay=spec.weight_decay, **fused)
    if spec.name == "adam":
        if hd is not None:
            return AdamHD(params, spec.lr, hyper_beta=hd.beta, betas=(spec.beta1, spec.beta2), eps=spec.eps,
                          weight_decay=spec.weight_decay, min_lr=hd.min_lr)
        return torch.optim.Adam(params, lr=spec.lr, betas=(spec.beta1, spec.beta2), eps=spec.eps,
                                weight_decay=spec.weight_decay, **fused)
    if spec.name == "adamw":
        return torch.optim.AdamW(params, lr=spec.lr, betas=(spec.beta1, spec.beta2), eps=spec.eps,
                                 weight_decay=spec.weight_decay, **fused)
    return torch.optim.RMSprop(params, lr=spec.lr, alpha=spec.alpha, eps=spec.eps,
                               weight_decay=spec.weight_decay, momentum=spec.momentum)


def apply_hyperparameters(spec: OptimizerSpec, optimizer: torch.optim.Optimizer) -> None:
    """Put the spec's values into a restored optimiser (PBT changed them in the config)."""
    for group in optimizer.param_groups:
        group["lr"] = spec.lr
        group["weight_decay"] = spec.weight_decay
        if "momentum" in group:
            group["momentum"] = spec.momentum
        if "betas" in group:
            group["betas"] = (spec.beta1, spec.beta2)
        for key in ("eps", "alpha", "nesterov"):
            if key in group:
                group[key] = getattr(spec, key)
        if "hyper_beta" in group and spec.hypergradient is not None:
            group["hyper_beta"] = spec.hypergradient.beta
        if "initial_lr" in group:
            group["initial_lr"] = spec.lr


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
