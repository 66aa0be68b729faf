"""Optimisers over stacked parameters, one learning rate per run.

Each parameter tensor has a leading run axis K; ``lr`` is (K,). An update
touches only the runs in ``active`` (K,) bool: a run that broke stays frozen.

- SGD:  theta <- theta - lr * g
- Adam (Kingma & Ba 2015, beta1 = 0.9, beta2 = 0.999, eps = 1e-8):
  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
  theta <- theta - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
"""

from __future__ import annotations

import torch


def _per_run(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return x.view(-1, *([1] * (like.dim() - 1)))


class SGD:
    def __init__(self, params: list[torch.Tensor], lr: torch.Tensor):
        self.params, self.lr = params, lr

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], active: torch.Tensor) -> None:
        for p, g in zip(self.params, grads):
            upd = _per_run(self.lr, p) * g
            p.sub_(torch.where(_per_run(active, p), upd, torch.zeros_like(upd)))


class Adam:
    def __init__(self, params: list[torch.Tensor], lr: torch.Tensor,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], active: torch.Tensor) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            keep = _per_run(active, p)
            g = torch.where(keep, g, torch.zeros_like(g))   # a frozen run's NaN never enters m, v
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            upd = _per_run(self.lr, p) * (m / (1 - b1 ** self.t)) / ((v / (1 - b2 ** self.t)).sqrt() + self.eps)
            p.sub_(torch.where(keep, upd, torch.zeros_like(upd)))


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: str, params: list[torch.Tensor], lr: torch.Tensor):
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, lr)
