"""Global magnitude pruning of Linear/Conv weights (torch.nn.utils.prune) and size counts.

``prune_to`` reaches a target share of zero weights over all prunable layers
together (the smallest magnitudes go first, wherever they are). Called again with
a higher target it prunes more of what is left: gradual pruning during training
follows the cubic schedule of Zhu & Gupta (2017).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from raytuner.spec.torch import PruningSpec

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(m, "weight") for m in model.modules() if isinstance(m, PRUNABLE)]


def weight_sparsity(model: nn.Module) -> float:
    """Share of zeros among the prunable weights."""
    zeros = total = 0
    for module, name in prunable(model):
        w = _current(module, name)
        zeros += int((w == 0).sum())
        total += w.numel()
    return zeros / total if total else 0.0


def prune_to(model: nn.Module, target: float) -> float:
    """Globally prune the smallest weights until ``target`` of them are zero; returns the sparsity."""
    params = prunable(model)
    if not params or target <= 0:
        return weight_sparsity(model)
    total = sum(getattr(m, n).numel() for m, n in params)
    pruned = sum(int(getattr(m, n + "_mask").numel() - getattr(m, n + "_mask").sum()) for m, n in params
                 if hasattr(m, n + "_mask"))
    want = int(round(target * total))
    if want > pruned:
        # amount counts among the entries still unpruned (PruningContainer semantics)
        # score the current weights, not the masked copy the last forward pass left behind
        scores = {(m, n): _current(m, n) for m, n in params}
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=want - pruned,
                                  importance_scores=scores)
    return weight_sparsity(model)


def _current(module: nn.Module, name: str) -> torch.Tensor:
    if hasattr(module, name + "_mask"):
        return getattr(module, name + "_orig") * getattr(module, name + "_mask")
    return getattr(module, name)


def refresh(model: nn.Module) -> None:
    """Recompute pruned weights from weight_orig * weight_mask (after loading a state)."""
    for module, name in prunable(model):
        if hasattr(module, name + "_mask"):
            setattr(module, name, _current(module, name))


def is_pruned(model: nn.Module) -> bool:
    return any(prune.is_pruned(m) for m, _ in prunable(model)) if prunable(model) else False


def prepare_for_state(model: nn.Module, state: dict[str, Any]) -> None:
    """Re-create pruning masks so a pruned state_dict (weight_orig, weight_mask) loads."""
    prefix_of = {module: name for name, module in model.named_modules()}
    for module, name in prunable(model):
        key = f"{prefix_of[module]}.{name}_mask".lstrip(".")
        if key in state and not hasattr(module, name + "_mask"):
            prune.identity(module, name)


def counts(model: nn.Module) -> tuple[int, int]:
    """(non-zero parameters, all parameters), pruned weights counted through their masks."""
    nonzero = total = 0
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if name.endswith("_orig") and hasattr(module, name[: -len("_orig")] + "_mask"):
                effective = _current(module, name[: -len("_orig")])
            else:
                effective = p
            nonzero += int(torch.count_nonzero(effective))
            total += p.numel()
    return nonzero, total


def target_for_epoch(spec: PruningSpec, epoch: int, epochs: int) -> float | None:
    """The sparsity an epoch should start at ('during'), or None when it does not prune."""
    if spec.when != "during" or epoch < spec.start_epoch:
        return None
    end = spec.end_epoch or epochs
    if epoch > end:
        return spec.sparsity
    progress = (epoch - spec.start_epoch + 1) / (end - spec.start_epoch + 1)
    return spec.sparsity * (1.0 - (1.0 - progress) ** 3)
