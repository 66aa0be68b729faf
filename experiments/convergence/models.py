"""A multilayer perceptron whose weights are stacked along a leading run axis, through autograd.

The sweep trains with ``engine.StackedMLP`` (the same model, backward written
out); this autograd version is its reference in the tests, and AMP training
(``amp.py``) runs it under ``torch.autocast``. ``init_params`` is the one
initialisation both use.

K independent MLPs (one per run of a group) are stored as tensors with a
leading ``K`` dimension and applied with batched matrix products, so a whole
group trains in one Python loop. Run ``k`` only ever touches slice ``k`` of
every tensor, so its numbers do not depend on which other runs share the
stack.

Initialisation matches ``nn.Linear``'s default (weights and biases uniform in
``±1/sqrt(fan_in)``), drawn per run from a generator seeded with the run's own
seed.
"""

from __future__ import annotations

import math

import torch

from .activations import get_activation


def init_params(sizes: list[int], seeds: list[int], device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """Parameters ``[W1, b1, W2, b2, ...]`` for layer sizes ``sizes`` (input first).

    ``W_l``: (K, n_in, n_out); ``b_l``: (K, 1, n_out); K = len(seeds). Drawn on
    the CPU in float64 and then cast, so every device gets the same start.
    """
    per_run = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        tensors = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(n_in)
            tensors.append((torch.rand(n_in, n_out, generator=g, dtype=torch.float64) * 2 - 1) * bound)
            tensors.append((torch.rand(1, n_out, generator=g, dtype=torch.float64) * 2 - 1) * bound)
        per_run.append(tensors)
    return [torch.stack([run[i] for run in per_run]).to(device=device, dtype=dtype).requires_grad_()
            for i in range(len(per_run[0]))]


def forward(params: list[torch.Tensor], x: torch.Tensor, activation: str,
            logit_scale: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits ``s_k * MLP_k(x)`` for every run k, and the hidden activations.

    x: (K, B, D) per-run batches, or (B, D) shared by all runs.
    logit_scale: (K,) multipliers s_k.
    Returns logits (K, B, C) and a list of hidden outputs, each (K, B, H_l), in the dtype the
    products run in (under ``torch.autocast``, its half format).
    """
    act = get_activation(activation)
    h = x
    hidden = []
    n_layers = len(params) // 2
    for i in range(n_layers):
        w, b = params[2 * i], params[2 * i + 1]   # (K, n_in, n_out), (K, 1, n_out)
        # b + h @ w in one op (K, B, n_out): under autocast it runs, and returns, the autocast dtype;
        # ``matmul(h, w) + b`` would promote the half product back to float32 through the bias
        h = torch.baddbmm(b, h.expand(w.shape[0], -1, -1) if h.dim() == 2 else h, w)
        if i < n_layers - 1:
            h = act(h)
            hidden.append(h)
    return h * logit_scale.to(h.dtype).view(-1, 1, 1), hidden
