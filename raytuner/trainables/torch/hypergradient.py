"""Hypergradient descent (Baydin et al., "Online Learning Rate Adaptation with
Hypergradient Descent", ICLR 2018): SGD-HD (with momentum / Nesterov) and Adam-HD.

Each step moves the parameters by ``-lr * d_t`` where ``d_t`` does not depend on
the lr. The derivative of the loss after that step with respect to the lr is
``-g_{t+1} . d_t``, so before step t+1 the lr takes a gradient step of its own::

    lr <- lr + beta * (g_{t+1} . d_t)        (summed over all parameters of the group)

``beta`` is the hypergradient learning rate; ``min_lr`` keeps the lr from going
below a floor (the paper lets it float; a negative lr would ascend).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch


class _HypergradientOptimizer(torch.optim.Optimizer):
    """Shared hypergradient step; subclasses compute the update direction ``d_t``."""

    def _direction(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            live = [p for p in group["params"] if p.grad is not None]
            grads = []
            for p in live:
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                grads.append(g)
            # hypergradient step on the lr, from the previous direction
            products = [torch.sum(g * self.state[p]["direction"]) for p, g in zip(live, grads) if "direction" in self.state[p]]
            if products:
                h = float(torch.stack(products).sum())
                group["lr"] = max(group["min_lr"], group["lr"] + group["hyper_beta"] * h)
                group["hypergradient"] = h
            lr = group["lr"]
            for p, g in zip(live, grads):
                state = self.state[p]
                d = self._direction(p, g, state, group)
                state["direction"] = d
                p.add_(d, alpha=-lr)
        return loss


class SGDHD(_HypergradientOptimizer):
    """SGD (optionally with momentum / Nesterov) whose lr follows its hypergradient."""

    def __init__(
        self, params: Iterable[Any], lr: float, *, hyper_beta: float, momentum: float = 0.0,
        nesterov: bool = False, weight_decay: float = 0.0, min_lr: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, hyper_beta=hyper_beta, momentum=momentum, nesterov=nesterov,
                        weight_decay=weight_decay, min_lr=min_lr, hypergradient=0.0)
        super().__init__(params, defaults)

    def _direction(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> torch.Tensor:
        momentum = group["momentum"]
        if momentum == 0:
            return grad.clone()
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = grad.clone()
            state["momentum_buffer"] = buf
        else:
            buf.mul_(momentum).add_(grad)
        return grad.add(buf, alpha=momentum) if group["nesterov"] else buf.clone()


class AdamHD(_HypergradientOptimizer):
    """Adam whose lr follows its hypergradient (Adam-HD); weight decay is L2, as in Adam."""

    def __init__(
        self, params: Iterable[Any], lr: float, *, hyper_beta: float, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8, weight_decay: float = 0.0, min_lr: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, hyper_beta=hyper_beta, betas=betas, eps=eps,
                        weight_decay=weight_decay, min_lr=min_lr, hypergradient=0.0)
        super().__init__(params, defaults)

    def _direction(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> torch.Tensor:
        beta1, beta2 = group["betas"]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        m_hat = state["exp_avg"] / (1 - beta1**t)
        v_hat = state["exp_avg_sq"] / (1 - beta2**t)
        return m_hat / (v_hat.sqrt() + group["eps"])
