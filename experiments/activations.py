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
