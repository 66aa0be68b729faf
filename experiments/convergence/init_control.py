"""A control for the depth study: the weight-gradient ratio at initialisation with the output bias at
the log class prior.

At the default initialisation every output starts near "no idea": a sigmoid output near 1/2 on every
class, so against a one-hot target with class prior pi ~ 1/C its mean error is about 1/2 - pi on every
output, whatever the input. That constant error reaches the output layer's weight gradient directly
(dL/dW_out = e h^T, e the output error) but mostly cancels on its way down (W_out^T e with zero-mean
weights), so it inflates ||dL/dW_out|| and shrinks the ratio ||dL/dW_1|| / ||dL/dW_out|| for every
loss read through sigmoids (BCE as well as sigmoid + MSE). Setting the output bias so that the
untrained model predicts the class prior removes it:

    sigmoid outputs: b_c = log(pi_c / (1 - pi_c));   softmax outputs: b_c = log pi_c

(divided by the run's logit scale, since z = s (h W + b)); losses on raw logits keep their bias. Each
row recomputes the step-0 minibatch gradient of an evaluation run of a depth study (its own weights,
seed and first minibatch, through autograd in float64): with ``output_bias`` "default" it is the
ratio the layers table holds; with "log_prior", the control.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .data import load_dataset
from .losses import get_loss, spec
from .models import forward, init_params
from .training import batch_indices
from ..columns import INIT_CONTROL
from ..sweep import groups_from_config, hidden_name


def prior_bias(output: str, prior: np.ndarray) -> np.ndarray | None:
    """The logit bias at which an untrained model predicts the class prior ``prior`` (C,), per output
    kind (the registered loss's ``output``); None for a loss on raw logits."""
    if output == "sigmoid":
        return np.log(prior / (1 - prior))
    if output == "softmax":
        return np.log(prior)
    return None


def init_control(cfg: dict) -> pd.DataFrame:
    """One row per evaluation run of every dataset swept at more than one depth (optimisers share the
    start, so one row for them all) and per ``output_bias``: ``grad_ratio_init`` = ||dL/dW_1|| /
    ||dL/dW_out|| on its first minibatch, and ``mean_output_error``, the mean over the minibatch and
    classes of q - t (q the sigmoid or softmax output; NaN on raw logits)."""
    groups = groups_from_config(cfg, "eval")
    depths: dict[str, set] = {}
    for g in groups.values():
        for s in g.stacks:
            if s.hidden:                                  # a linear model has no depth to compare
                depths.setdefault(g.dataset, set()).add(len(s.hidden))
    rows = []
    data = {}
    seen = set()                                          # a group split into parts repeats no run
    for g in groups.values():
        if len(depths.get(g.dataset, ())) < 2:
            continue
        ds = data.setdefault(g.dataset, load_dataset(g.dataset, cfg))
        prior = np.bincount(ds.y_train, minlength=ds.num_classes) / len(ds.y_train)
        output = spec(g.loss).output
        b = prior_bias(output, prior)                      # (C,), or None on raw logits
        loss_fn = get_loss(g.loss, g.loss_params)
        for st in g.stacks:
            for run in st.runs:
                key = (g.dataset, g.loss, st.activation, st.hidden, run.logit_scale, run.seed)
                if key in seen or len(st.hidden) == 0:
                    continue
                seen.add(key)
                sizes = [ds.num_features, *st.hidden, ds.num_classes]
                first = batch_indices(len(ds.y_train), g.steps, g.batch_size, run.torch_seed)[0]
                x = torch.as_tensor(ds.x_train, dtype=torch.float64)[first][None]       # (1, B, D)
                y = torch.as_tensor(ds.y_train)[first][None]                           # (1, B)
                for bias in ("default", "log_prior"):
                    if bias == "log_prior" and b is None:
                        continue
                    params = init_params(sizes, [run.torch_seed], dtype=torch.float64)
                    if bias == "log_prior":
                        with torch.no_grad():
                            params[-1].copy_(torch.as_tensor(b / run.logit_scale).view(1, 1, -1))
                    scale = torch.tensor([run.logit_scale], dtype=torch.float64)
                    z, _ = forward(params, x, st.activation, scale)                     # (1, B, C)
                    grads = torch.autograd.grad(loss_fn(z, y).mean(), params[0::2])
                    q = (torch.sigmoid(z) if output == "sigmoid" else torch.softmax(z, -1)) if b is not None else None
                    t = torch.nn.functional.one_hot(y, ds.num_classes).double()
                    rows.append(dict(dataset=g.dataset, loss=g.loss, activation=st.activation,
                                     hidden=hidden_name(st.hidden), logit_scale=run.logit_scale, seed=run.seed,
                                     output_bias=bias, grad_ratio_init=float(grads[0].norm() / grads[-1].norm()),
                                     mean_output_error=float((q.detach() - t).mean()) if q is not None else np.nan))
    return pd.DataFrame(rows, columns=INIT_CONTROL)
