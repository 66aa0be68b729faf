"""Hidden-layer activations, as a registry of element-wise functions, with their derivatives.

Each maps a tensor to a tensor of the same shape and dtype. ``ACTIVATION_GRADS``
gives, for the training engine, da = dh * a'(pre) from the upstream gradient dh,
the pre-activation ``pre`` and the output ``h`` in one fused kernel (torch's own
``*_backward`` ops, the ones autograd calls; a test checks them against autograd).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def identity(h: torch.Tensor) -> torch.Tensor:
    """a(h) = h: the linear control (the MLP collapses to a linear model)."""
    return h


ACTIVATIONS = {
    "identity": identity,
    "sigmoid": torch.sigmoid,   # 1 / (1 + e^-h), saturates at 0 and 1
    "tanh": torch.tanh,         # (e^h - e^-h) / (e^h + e^-h), saturates at -1 and 1
    "relu": F.relu,             # max(0, h), dead for h < 0
    "gelu": F.gelu,             # h * Phi(h), exact erf form
}


ACTIVATIONS_INTO = {   # (pre, out) -> out = a(pre), no new tensor; the others go through ACTIVATIONS
    "identity": lambda pre, out: out.copy_(pre),
    "sigmoid": lambda pre, out: torch.sigmoid(pre, out=out),
    "tanh": lambda pre, out: torch.tanh(pre, out=out),
    "relu": lambda pre, out: torch.clamp_min(pre, 0, out=out),
}

ACTIVATION_GRADS = {   # (dh, pre, h, out) -> out = dh * a'(pre)
    "identity": lambda dh, pre, h, out: out.copy_(dh),
    "sigmoid": lambda dh, pre, h, out: torch.ops.aten.sigmoid_backward.grad_input(dh, h, grad_input=out),
    "tanh": lambda dh, pre, h, out: torch.ops.aten.tanh_backward.grad_input(dh, h, grad_input=out),
    "relu": lambda dh, pre, h, out: torch.ops.aten.threshold_backward.grad_input(dh, h, 0, grad_input=out),
    "gelu": lambda dh, pre, h, out: torch.ops.aten.gelu_backward.grad_input(dh, pre, grad_input=out),
}   # sigmoid: dh h (1 - h); tanh: dh (1 - h^2); relu: dh [h > 0]; gelu: dh (Phi(pre) + pre phi(pre))


def get_activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


SATURATION_TOL = 1e-3


class Saturation:
    """:func:`saturated_fraction`, accumulated over blocks of examples (the engine evaluates a
    full set in blocks). ``add(layer, h)`` takes one hidden layer's outputs for a block, units first
    as the engine stores them, (K, H, N); ``fraction()`` is then exactly ``saturated_fraction`` of
    the whole set."""

    def __init__(self, activation: str, runs: int, device=None):
        self.activation, self.runs, self.device = activation, runs, device
        self.parts: dict[int, torch.Tensor] = {}    # layer -> saturated count (K,), or per-unit max (K, H)
        self.sizes: dict[int, tuple[int, int]] = {}  # layer -> (entries seen per run, units)
        self._scratch = None

    def add(self, layer: int, h: torch.Tensor) -> None:
        seen, _ = self.sizes.get(layer, (0, h.shape[1]))
        self.sizes[layer] = (seen + h.shape[1] * h.shape[2], h.shape[1])
        # h outside [lo, hi] <=> clamp(h, lo, hi) != h: two passes into one reused scratch tensor (one
        # storage, grown to the widest layer and block seen, the old one let go first: at most one
        # layer's (K, H, n) at a time), the comparison written as float 0/1 and summed (a bool output and
        # its integer sum cost 2x)
        if self.activation in ("sigmoid", "tanh"):
            lo = SATURATION_TOL if self.activation == "sigmoid" else -1 + SATURATION_TOL
            if self._scratch is None or self._scratch.numel() < h.numel():
                self._scratch = None
                self._scratch = torch.empty(h.numel(), dtype=h.dtype, device=h.device)
            c = self._scratch[:h.numel()].view(h.shape)
            torch.ne(torch.clamp(h, lo, 1 - SATURATION_TOL, out=c), h, out=c)
            # a float32 sum counts exactly below 2^24 entries per run (every CPU block); past that, float64
            big = h.shape[1] * h.shape[2] >= 1 << 24
            part = c.sum(dim=(1, 2), dtype=torch.float64 if big else None).double()
        elif self.activation == "relu":
            part = h.amax(dim=2)                     # max over examples (amax: 40x faster than all)
            if layer in self.parts:
                part = torch.maximum(self.parts[layer], part)
            self.parts[layer] = part
            return
        else:
            return
        self.parts[layer] = self.parts[layer] + part if layer in self.parts else part

    def layer_fractions(self) -> list[torch.Tensor]:
        """Per hidden layer seen, (K,) the fraction of its units saturated (NaN for gelu)."""
        out = []
        for layer, (seen, units) in self.sizes.items():
            if self.activation in ("sigmoid", "tanh"):
                frac = (self.parts[layer] / seen).float()
            elif self.activation == "relu":
                frac = (self.parts[layer] <= 0).float().mean(dim=1)   # dead on every example
            elif self.activation == "gelu":
                frac = torch.full((self.runs,), float("nan"), device=self.device)
            else:
                frac = torch.zeros(self.runs, device=self.device)
            out.append(frac)
        return out

    def fraction(self) -> torch.Tensor:
        """(K,) fraction of hidden units saturated, averaged over layers weighted by width."""
        if not self.sizes:
            return torch.full((self.runs,), float("nan"), device=self.device)
        units = [u for _, u in self.sizes.values()]
        return sum(f * u for f, u in zip(self.layer_fractions(), units)) / sum(units)


def saturated_fraction(activation: str, hidden: list[torch.Tensor], runs: int | None = None) -> torch.Tensor:
    """Per run (K,): the fraction of hidden units that pass (almost) no gradient.

    sigmoid: outputs within 1e-3 of 0 or 1, over examples and units;
    tanh: outputs within 1e-3 of -1 or 1; relu: units that output 0 on every
    example of the batch (dead); identity never saturates (0). For gelu the
    notion is not defined: NaN. A linear model (``hidden`` empty) has no hidden
    unit: NaN for each of its ``runs`` runs.
    Each element of ``hidden`` is (K, N, H).
    """
    if not hidden and runs is None:
        raise ValueError("saturated_fraction of a linear model needs the number of runs")
    sat = Saturation(activation, hidden[0].shape[0] if hidden else runs, hidden[0].device if hidden else None)
    for layer, h in enumerate(hidden):
        sat.add(layer, h.transpose(1, 2))
    return sat.fraction()
