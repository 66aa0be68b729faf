"""Train in reduced precision at growing logit scale: when does training first produce NaN/inf?

One MLP (digits, hidden 64, ReLU) per (autocast dtype, loss implementation,
gradient scaler, optimiser, logit scale, seed). The forward pass and the loss
run inside ``torch.autocast`` on the device; the naive ``log(softmax(z))`` and
the fused ``F.cross_entropy`` are compared, float16 also with
``torch.amp.GradScaler`` (which skips a step whose gradients are not finite and
lowers its scale). ``float32`` is the control: the same runs without autocast,
so a failure that also happens there is optimisation, not overflow.

The logits reach the loss in the autocast dtype (``models.forward`` adds the
bias inside the product, so a float32 bias does not promote them back);
``loss_input_dtype`` records the dtype each loss received and
``loss_compute_dtype`` the dtype of its arithmetic that can break
(``probe.compute_dtype``: the probabilities of the naive path; autocast runs
``F.cross_entropy`` in float32 inside, on CPU and CUDA alike).

The rate is scaled so that a larger logit scale does not simply mean a larger
step: with z = s * MLP(x), an SGD step moves the logits by about lr * s^2 times
what it would at s = 1, so SGD runs at lr / s^2; Adam's step is already
normalised per parameter (it moves the logits by about lr * s) and runs at lr / s.

Where the half formats bite depends on the device: CPU autocast (torch 2.x)
runs softmax, log_softmax and log in the half format (only cross_entropy is
cast up to float32), while CUDA autocast runs softmax, log_softmax, log, nll_loss
and cross_entropy in float32. So the naive path fails on CPU where it would not
on a GPU: CPU results are the worst case.

Statuses: ``ok`` (never non-finite), ``nonfinite`` (without a scaler, training
stops at the first non-finite loss or gradient), ``skipped`` (the scaler skipped
some steps and training went on).
"""

from __future__ import annotations

import itertools
import math

import pandas as pd
import torch

from .. import columns
from ..convergence.data import load_dataset
from ..convergence.models import forward, init_params
from .probe import DTYPES, IMPLEMENTATIONS, compute_dtype
from ..sweep import derive_seed
from ..convergence.training import batch_indices

AMP_IMPLEMENTATIONS = ["log_softmax_naive", "cross_entropy"]


CHECK_EVERY = 25      # steps between the host's looks at a run without a scaler (to stop a broken one early)

# how the rate follows the logit scale s, per optimiser (see the module docstring)
RATE_POWER = {"sgd": 2, "adam": 1}


def train_amp(cfg: dict, dtype: str, implementation: str, scaler: bool, logit_scale: float,
              device: str = "cpu", optimizer: str = "sgd", replicate: int = 0) -> dict:
    a = cfg["overflow"]["amp_training"]
    ds = load_dataset("digits", cfg)
    x, y = torch.as_tensor(ds.x_train, device=device), torch.as_tensor(ds.y_train, device=device)
    seed = derive_seed(cfg["seed"], "amp", replicate)
    params = init_params([ds.num_features, 64, ds.num_classes], [seed], device)
    scale = torch.tensor([logit_scale], device=device)
    try:
        shrink = logit_scale ** RATE_POWER[optimizer]
    except OverflowError:                  # a scale so large its square overflows: the rate rounds to 0
        shrink = math.inf
    lr = a["lr"][optimizer] / shrink if shrink > 0 else math.inf   # a scale so small its square underflows
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(params, lr=lr)
    gs = torch.amp.GradScaler(device) if scaler else None
    idx = batch_indices(len(y), a["steps"], 64, seed).to(device)   # on the device once: no copy per step
    loss_fn = IMPLEMENTATIONS[implementation]
    first_bad, skipped, broke = None, 0, False
    received = {}                                   # the dtypes the loss got and gave, at the first step
    # Without a scaler the loop never waits for the device: each step's finiteness (loss and every
    # gradient) stays a device flag; a run that broke keeps the weights it had before that step (they
    # are put back after each update: p <- where(alive, p, p_before)), and the host looks every
    # CHECK_EVERY steps to stop early. The same table as a host check per step, without its syncs.
    alive = torch.ones((), dtype=torch.bool, device=device)
    bad_step = torch.full((), -1, dtype=torch.long, device=device)
    before = [torch.empty_like(p) for p in params]
    for step in range(a["steps"]):
        b = idx[step]
        with torch.autocast(device, dtype=DTYPES[dtype], enabled=dtype != "float32"):
            z, _ = forward(params, x[b][None], "relu", scale)             # (1, B, C), the autocast dtype
            per_example = loss_fn(z[0], y[b])                             # (B,)
            received = received or {"loss_input_dtype": _name(z.dtype),
                                    "loss_compute_dtype": compute_dtype(implementation, z, per_example)}
            loss = per_example.float().mean()
        opt.zero_grad()
        if gs is None:
            loss.backward()
            finite = torch.stack([torch.isfinite(loss).all(), *(torch.isfinite(p.grad).all() for p in params)]).all()
            bad_step = torch.where(alive & ~finite, step, bad_step)
            alive &= finite
            with torch.no_grad():
                torch._foreach_copy_(before, params)
            stepped = _stepped(lambda: opt.step())    # False: the rate does not fit float32 (known on the host)
            if not stepped:
                bad_step = torch.where(alive, step, bad_step)
                alive &= False
            with torch.no_grad():
                for p, p0 in zip(params, before):
                    torch.where(alive, p, p0, out=p)
            if not stepped:
                break
            if (step + 1) % CHECK_EVERY == 0 and not bool(alive):   # one sync per CHECK_EVERY steps
                break
        else:
            # GradScaler.step reads its found-inf flag on the host for these optimisers (torch's design):
            # a sync per step that only a fused optimiser avoids; the scale is read in the same wait
            scale_before = gs.get_scale()
            gs.scale(loss).backward()
            if not _stepped(lambda: gs.step(opt)):
                first_bad, broke = (step if first_bad is None else first_bad), True
                break
            gs.update()
            if gs.get_scale() < scale_before:     # the scaler found inf/NaN gradients and skipped
                skipped += 1
                first_bad = step if first_bad is None else first_bad
    if gs is None and int(bad_step) >= 0:
        first_bad = int(bad_step)
    with torch.no_grad():
        zt, _ = forward(params, x[None], "relu", scale)
        zv, _ = forward(params, torch.as_tensor(ds.x_val, device=device)[None], "relu", scale)
        train_loss = float(IMPLEMENTATIONS["cross_entropy"](zt[0].double(), y).mean())
        val_acc = float((zv[0].argmax(-1).cpu() == torch.as_tensor(ds.y_val)).float().mean())
    status = "ok" if first_bad is None else ("skipped" if scaler and not broke else "nonfinite")
    return dict(dtype=dtype, implementation=implementation, grad_scaler=scaler, logit_scale=logit_scale,
                steps=a["steps"], first_nonfinite_step=first_bad, skipped_steps=skipped,
                final_train_loss=train_loss, final_val_acc=val_acc, status=status, optimizer=optimizer, lr=lr,
                seed=replicate, device=device, **received)


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _stepped(step) -> bool:
    """Run an optimiser step; False when the learning rate itself does not fit the parameters'
    format (torch refuses ``p.add_(g, alpha=-lr)`` for lr past float32's largest value): a
    numerical failure, so a row with a status rather than a crash."""
    try:
        step()
    except RuntimeError as err:
        if "without overflow" not in str(err):
            raise
        return False
    return True


def run_amp_training(cfg: dict, device: str = "cpu") -> pd.DataFrame:
    a = cfg["overflow"]["amp_training"]
    rows = []
    for dtype, impl, opt, scale, seed in itertools.product(a["dtypes"], AMP_IMPLEMENTATIONS, a["optimizers"],
                                                           a["logit_scales"], a["seeds"]):
        for scaler in ([False, True] if dtype == "float16" else [False]):  # bfloat16 has float32's range
            rows.append(train_amp(cfg, dtype, impl, scaler, float(scale), device, opt, seed))
    df = pd.DataFrame(rows, columns=columns.AMP_TRAINING)
    df["first_nonfinite_step"] = df["first_nonfinite_step"].astype("Int64")
    return df
