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


def _draw_run(sizes: list[int], seed: int):
    """Run ``seed``'s initial (W (n_in, n_out), b (1, n_out)) per layer, float64, in the one draw order
    every initialiser here shares: layer by layer, each layer's weights and then its bias, from a
    generator seeded with the run's seed; entries uniform in ±1/sqrt(n_in) (``nn.Linear``'s default)."""
    g = torch.Generator().manual_seed(int(seed))
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(n_in)
        w = (torch.rand(n_in, n_out, generator=g, dtype=torch.float64) * 2 - 1) * bound
        b = (torch.rand(1, n_out, generator=g, dtype=torch.float64) * 2 - 1) * bound
        yield w, b


def init_params(sizes: list[int], seeds: list[int], device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """Parameters ``[W1, b1, W2, b2, ...]`` for layer sizes ``sizes`` (input first).

    ``W_l``: (K, n_in, n_out); ``b_l``: (K, 1, n_out); K = len(seeds). Drawn on
    the CPU in float64 and then cast, so every device gets the same start.
    """
    per_run = [[t for layer in _draw_run(sizes, seed) for t in layer] for seed in seeds]
    return [torch.stack([run[i] for run in per_run]).to(device=device, dtype=dtype).requires_grad_()
            for i in range(len(per_run[0]))]


def init_engine_weights(sizes: list[int], seeds: list[int], device: torch.device | str = "cpu",
                        dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """The same initial values as :func:`init_params`, in the engine's layout [W_l (K, n_l, n_{l-1} + 1)]
    (bias in the last column), written into tensors preallocated on ``device``.

    Each distinct seed is drawn once (float64, on the host, cast to ``dtype`` there exactly as
    ``init_params`` casts it, so the two agree bit for bit), copied to the device once and written there
    into every run of that seed: a chunk's ~1,000 runs share ~20 seeds, so ~20 draws instead of ~1,000.
    Host memory holds one seed's float64 draw at a time (``init_params`` holds all K runs twice, about
    27 GB for 1,000 CIFAR-shaped runs).
    """
    out = [torch.empty(len(seeds), n_out, n_in + 1, device=device, dtype=dtype)
           for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    runs_of: dict[int, list[int]] = {}                                   # seed -> its runs, in stack order
    for k, seed in enumerate(seeds):
        runs_of.setdefault(int(seed), []).append(k)
    for seed, runs in runs_of.items():
        rows = torch.tensor(runs, device=device)
        for W, (w, b) in zip(out, _draw_run(sizes, seed)):
            one = torch.cat([w.t(), b.t()], dim=1).to(dtype).to(device)      # (n_out, n_in + 1), cast on the host
            W.index_copy_(0, rows, one.expand(len(runs), *one.shape))        # every run of the seed, on the device
    return out


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
