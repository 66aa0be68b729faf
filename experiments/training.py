"""Train every run of a group at once, as one stacked (batched) MLP with SGD.

Per run k (own seed, own minibatch order, own logit scale s_k and rate lr_k)::

    z = s_k * MLP_k(x);  L_k = mean_i loss(z_i, y_i);  theta_k <- theta_k - lr_k * dL_k/dtheta_k

The group's objective is sum_k L_k, whose gradient with respect to theta_k is
exactly dL_k/dtheta_k, so runs never interact. A run whose loss or gradient
becomes non-finite is frozen at that step (status ``nonfinite``); one whose
full-training-set loss exceeds ``DIVERGENCE_FACTOR`` times its initial loss is
frozen too (status ``diverged``). The others go on. Failures are rows, never
exceptions.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import torch

from . import columns
from .data import load_dataset
from .losses import get_loss
from .models import forward, init_params
from .sweep import Group, derive_seed

DIVERGENCE_FACTOR = 10.0


def resolve_device(requested: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU. ``cuda`` without CUDA raises one line."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config error: device: 'cuda' was requested but torch sees no CUDA device "
                           "(use device: auto or cpu)")
    return torch.device(requested)


def log_schedule(steps: int, points: int) -> np.ndarray:
    """Step 0, then ``points`` steps spaced geometrically in [1, steps] (dense early)."""
    geo = np.unique(np.round(np.geomspace(1, steps, points)).astype(int))
    return np.concatenate([[0], geo])


def batch_indices(n: int, steps: int, batch: int, seed: int) -> torch.Tensor:
    """(steps, batch) example indices: shuffled epochs drawn from the run's own seed."""
    g = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
    need = steps * batch
    perms = [torch.randperm(n, generator=g) for _ in range(-(-need // n))]
    return torch.cat(perms)[:need].view(steps, batch)


@torch.no_grad()
def _evaluate(params, x, y, activation, scale, loss_fn):
    """Full-set loss, accuracy and mean per-example ||dl/dz||, each (K,)."""
    with torch.enable_grad():
        z, _ = forward(params, x, activation, scale)          # (K, N, C)
        z = z.detach().requires_grad_()
        per_ex = loss_fn(z, y.expand(z.shape[0], -1))         # (K, N)
        (gz,) = torch.autograd.grad(per_ex.sum(), z)          # (K, N, C)
    acc = (z.argmax(-1) == y).float().mean(-1)
    return per_ex.mean(-1), acc, gz.norm(dim=-1).mean(-1)


def train_group(group: Group, cfg: dict, device: torch.device | str = "cpu") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train all runs of ``group``; return (runs table, curves table)."""
    t0 = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    device = torch.device(device)
    ds = load_dataset(group.dataset, cfg)
    loss_fn = get_loss(group.loss)
    runs = group.runs
    K = len(runs)

    x_tr = torch.as_tensor(ds.x_train, device=device)          # (N, D)
    y_tr = torch.as_tensor(ds.y_train, device=device)          # (N,)
    x_va = torch.as_tensor(ds.x_val, device=device)
    y_va = torch.as_tensor(ds.y_val, device=device)
    sizes = [ds.num_features, *group.hidden, ds.num_classes]
    params = init_params(sizes, [r.torch_seed for r in runs], device)
    scale = torch.tensor([r.logit_scale for r in runs], device=device)          # (K,)
    lr = torch.tensor([r.lr for r in runs], device=device)                      # (K,)
    idx = torch.stack([batch_indices(len(y_tr), group.steps, group.batch_size, r.torch_seed)
                       for r in runs], dim=1).to(device)                        # (steps, K, B)

    alive = torch.ones(K, dtype=torch.bool, device=device)
    nonfinite_step = torch.full((K,), -1, dtype=torch.long, device=device)
    diverged_step = np.full(K, -1)
    initial_loss = None
    log_steps = set(log_schedule(group.steps, group.log_points).tolist())
    records = []

    for step in range(group.steps + 1):
        if step in log_steps:
            tr_loss, tr_acc, gnorm = _evaluate(params, x_tr, y_tr, group.activation, scale, loss_fn)
            _, va_acc, _ = _evaluate(params, x_va, y_va, group.activation, scale, loss_fn)
            if initial_loss is None:
                initial_loss = tr_loss.clone()
            blown = alive & torch.isfinite(tr_loss) & (tr_loss > DIVERGENCE_FACTOR * initial_loss.abs())
            for k in torch.nonzero(blown).flatten().tolist():
                diverged_step[k] = step
            alive &= ~blown
            records.append((step, tr_loss.cpu(), tr_acc.cpu(), va_acc.cpu(), gnorm.cpu()))
        if step == group.steps:
            break
        b = idx[step]                                                           # (K, B)
        z, _ = forward(params, x_tr[b], group.activation, scale)                # (K, B, C)
        loss = loss_fn(z, y_tr[b]).mean(-1)                                     # (K,)
        grads = torch.autograd.grad(loss.sum(), params)
        with torch.no_grad():
            finite = torch.isfinite(loss)
            for g in grads:
                finite &= torch.isfinite(g).flatten(1).all(1)
            newly = alive & ~finite
            nonfinite_step = torch.where(newly, torch.full_like(nonfinite_step, step), nonfinite_step)
            alive &= finite
            for p, g in zip(params, grads):
                upd = torch.where(alive.view(-1, 1, 1), lr.view(-1, 1, 1) * g, torch.zeros_like(g))
                p.sub_(upd)

    wall = time.perf_counter() - t0
    runs_df, curves_df = _tables(group, runs, records, nonfinite_step.cpu().numpy(), diverged_step, str(device), wall)
    runs_df["started_at"] = started_at
    return runs_df[columns.RUNS], curves_df


def _tables(group, runs, records, nonfinite_step, diverged_step, device, wall):
    curves, run_rows = [], []
    for k, r in enumerate(runs):
        keys = dict(dataset=r.dataset, loss=r.loss, activation=r.activation,
                    logit_scale=r.logit_scale, lr=r.lr, seed=r.seed)
        steps_to_target = None
        last = None
        broke = [s for s in (nonfinite_step[k], diverged_step[k]) if s >= 0]
        stop = min(broke) if broke else group.steps
        for step, tl, ta, va, gn in records:
            if step > stop:  # a frozen run repeats its last state: not a measurement
                break
            row = dict(keys, step=step, train_loss=float(tl[k]), train_acc=float(ta[k]),
                       val_acc=float(va[k]), grad_norm_logits=float(gn[k]))
            curves.append(row)
            last = row
            if steps_to_target is None and row["val_acc"] >= group.target_acc:
                steps_to_target = step
        if nonfinite_step[k] >= 0:
            status = "nonfinite"
        elif diverged_step[k] >= 0:
            status = "diverged"
        elif steps_to_target is None:
            status = "not_reached"
        else:
            status = "ok"
        run_rows.append(dict(
            keys, group=group.name, hidden="-".join(map(str, group.hidden)), steps=group.steps,
            batch_size=group.batch_size, target_acc=group.target_acc, steps_to_target=steps_to_target,
            final_train_loss=last["train_loss"], final_train_acc=last["train_acc"],
            final_val_acc=last["val_acc"], status=status,
            nonfinite_step=int(nonfinite_step[k]) if nonfinite_step[k] >= 0 else None,
            diverged_step=int(diverged_step[k]) if diverged_step[k] >= 0 else None,
            device=device, wall_time_s=wall / len(runs),
        ))
    runs_df = pd.DataFrame(run_rows)
    runs_df["steps_to_target"] = runs_df["steps_to_target"].astype("Int64")
    runs_df["nonfinite_step"] = runs_df["nonfinite_step"].astype("Int64")
    runs_df["diverged_step"] = runs_df["diverged_step"].astype("Int64")
    return runs_df, pd.DataFrame(curves, columns=columns.CURVES)
