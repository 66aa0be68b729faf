"""Hidden-layer activations, as a registry of element-wise functions.

Each maps a tensor to a tensor of the same shape and dtype.
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


def get_activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


SATURATION_TOL = 1e-3


def saturated_fraction(activation: str, hidden: list[torch.Tensor], runs: int | None = None) -> torch.Tensor:
    """Per run (K,): the fraction of hidden units that pass (almost) no gradient.

    sigmoid: outputs within 1e-3 of 0 or 1, over examples and units;
    tanh: outputs within 1e-3 of -1 or 1; relu: units that output 0 on every
    example of the batch (dead); identity never saturates (0). For gelu the
    notion is not defined: NaN. A linear model (``hidden`` empty) has no hidden
    unit: NaN for each of its ``runs`` runs.
    Each element of ``hidden`` is (K, N, H).
    """
    if not hidden:
        if runs is None:
            raise ValueError("saturated_fraction of a linear model needs the number of runs")
        return torch.full((runs,), float("nan"))
    if activation == "gelu":
        return torch.full((hidden[0].shape[0],), float("nan"), device=hidden[0].device)
    per_layer, sizes = [], []
    for h in hidden:
        if activation == "sigmoid":
            sat = ((h < SATURATION_TOL) | (h > 1 - SATURATION_TOL)).float().mean(dim=(1, 2))
        elif activation == "tanh":
            sat = (h.abs() > 1 - SATURATION_TOL).float().mean(dim=(1, 2))
        elif activation == "relu":
            sat = (h.amax(dim=1) <= 0).float().mean(dim=1)       # dead on the whole batch (amax: 40x faster than all)
        else:
            sat = torch.zeros(h.shape[0], device=h.device)
        per_layer.append(sat * h.shape[-1])
        sizes.append(h.shape[-1])
    return torch.stack(per_layer).sum(0) / sum(sizes)
