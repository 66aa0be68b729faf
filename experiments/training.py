"""Train every run of a group, stack by stack, each stack as one batched MLP.

Per run k (own seed, own minibatch order, own logit scale s_k and rate lr_k)::

    z = s_k * MLP_k(x);  L_k = mean_i loss(z_i, y_i);  theta_k <- opt_k(theta_k, dL_k/dtheta_k)

The stack's objective is sum_k L_k, whose gradient with respect to theta_k is
exactly dL_k/dtheta_k, so runs never interact: a run gives the same curve alone
or inside any stack (up to float rounding of batched kernels). A run whose loss
or gradient becomes non-finite is frozen at that step (status ``nonfinite``);
one whose full-training-set loss exceeds ``DIVERGENCE_FACTOR`` times its initial
loss is frozen too (``diverged``); the others go on. Failures are rows, never
exceptions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import pickle
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import columns
from .activations import saturated_fraction
from .data import Dataset, load_dataset
from .losses import get_loss
from .models import forward, init_params
from .optim import make_optimizer
from .storage import write_bytes
from .sweep import Group, Run, Stack, derive_seed, hidden_name

DIVERGENCE_FACTOR = 10.0
CPU_STACK = 64  # runs per batched model on a CPU: past this, per-step overhead is already amortised


def cuda_problem() -> str | None:
    """Why ``device: cuda`` cannot work here (one line), or None when it can."""
    if torch.cuda.is_available():
        return None
    build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
    return (f"config error: device: 'cuda' was requested but torch sees no CUDA device on "
            f"{platform.node()} ({build}); use device: auto or cpu")


def resolve_device(requested: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU. ``cuda`` without CUDA raises one line."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and (problem := cuda_problem()):
        raise RuntimeError(problem)
    return torch.device(requested)


def start_job(requested_device: str, threads: int) -> tuple[torch.device, dict]:
    """What a training job does first: set torch's threads, resolve the device and record where it
    runs (host, SLURM job, GPU). A CUDA device asked for where there is none ends the job in one line."""
    from .provenance import job_environment

    torch.set_num_threads(threads)
    try:
        device = resolve_device(requested_device)
    except RuntimeError as err:   # device: cuda on a node without CUDA: one line, no traceback
        raise SystemExit(str(err)) from None
    return device, job_environment(device)


def stack_chunk_size(max_stack: int | str, device: torch.device, sizes: list[int], n_eval: int,
                     batch_size: int) -> int:
    """How many runs to train as one batched model on ``device``.

    An integer ``max_stack`` is used as is. ``auto``: ``CPU_STACK`` on a CPU; on
    a GPU, half the free memory divided by a per-run estimate (parameters,
    gradients and two Adam moments, plus activations of a full-set evaluation
    and a minibatch, float32).
    """
    if max_stack != "auto":
        return int(max_stack)
    if device.type != "cuda":
        return CPU_STACK
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    width = sum(sizes[1:])
    per_run = 4 * (4 * n_params + 4 * (n_eval + batch_size) * width + n_eval * sizes[0])
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(8192, int(0.5 * free / per_run)))


def log_schedule(steps: int, points: int) -> np.ndarray:
    """Step 0, then ``points`` steps spaced geometrically in [1, steps] (dense early)."""
    geo = np.unique(np.round(np.geomspace(1, steps, points)).astype(int))
    return np.concatenate([[0], geo])


def target_schedule(steps: int) -> np.ndarray:
    """Steps at which validation accuracy is checked against the target: 0, 2, 4, ..., then about
    5% apart, and ``steps``. A check at s follows the previous one by at most max(2, 5% of s), so
    ``steps_to_target`` (the first check at or above the target; the check before was below it) is
    within max(2 steps, 5%) of the step where the run got there. (Accuracy is not monotone: a brief
    excursion above the target between two checks goes unseen.)"""
    out, s = [0], 0
    while s < steps:
        s = min(steps, s + max(2, int(0.05 * s)))
        out.append(s)
    return np.asarray(out)


def batch_indices(n: int, steps: int, batch: int, seed: int) -> torch.Tensor:
    """(steps, batch) example indices: shuffled epochs drawn from the run's own seed."""
    g = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
    need = steps * batch
    perms = [torch.randperm(n, generator=g) for _ in range(-(-need // n))]
    return torch.cat(perms)[:need].view(steps, batch)


def _evaluate(params, scale, x, y, activation, loss_fn) -> dict[str, torch.Tensor]:
    """Full-set metrics per run, each (K,)."""
    with torch.no_grad():
        z, hidden = forward(params, x, activation, scale)     # (K, N, C), [(K, N, H)]
    z = z.detach().requires_grad_()
    with torch.enable_grad():
        per_ex = loss_fn(z, y.expand(z.shape[0], -1))         # (K, N)
        (gz,) = torch.autograd.grad(per_ex.sum(), z)          # (K, N, C)
    with torch.no_grad():
        return {
            "loss": per_ex.mean(-1),
            "acc": (z.argmax(-1) == y).float().mean(-1),
            "grad_norm_logits": gz.norm(dim=-1).mean(-1),     # mean_i ||dl_i/dz_i||
            "mean_abs_logit": z.abs().mean(dim=(1, 2)),
            "logit_norm": z.norm(dim=-1).mean(-1),            # mean_i ||z_i||
            "saturated_frac": saturated_fraction(activation, hidden, runs=z.shape[0]).to(z.device),
        }


def train_stack(group: Group, stack: Stack, runs: tuple[Run, ...], ds: Dataset,
                device: torch.device, order_cache: dict | None = None) -> list[dict]:
    """Train ``runs`` (all of one stack) as one batched model; return one record per run."""
    order_cache = {} if order_cache is None else order_cache
    K = len(runs)
    loss_fn = get_loss(group.loss, group.loss_params)
    x_tr = torch.as_tensor(ds.x_train, device=device)          # (N, D)
    y_tr = torch.as_tensor(ds.y_train, device=device)          # (N,)
    x_va = torch.as_tensor(ds.x_val, device=device)
    y_va = torch.as_tensor(ds.y_val, device=device)
    sizes = [ds.num_features, *stack.hidden, ds.num_classes]
    params = init_params(sizes, [r.torch_seed for r in runs], device)
    log_scale = torch.tensor([math.log(r.logit_scale) for r in runs], device=device)  # (K,)
    trainable = list(params)
    if stack.learn_scale:
        log_scale.requires_grad_()
        trainable.append(log_scale)
    lr = torch.tensor([r.lr for r in runs], device=device)                            # (K,)
    opt = make_optimizer(stack.optimizer, trainable, lr)
    for r in runs:
        if r.torch_seed not in order_cache:
            order_cache[r.torch_seed] = batch_indices(len(y_tr), group.steps, group.batch_size, r.torch_seed)
    idx = torch.stack([order_cache[r.torch_seed] for r in runs], dim=1).to(device)  # (steps, K, B)

    alive = torch.ones(K, dtype=torch.bool, device=device)
    nonfinite_step = torch.full((K,), -1, dtype=torch.long, device=device)
    diverged_step = np.full(K, -1)
    reached_step = torch.full((K,), -1, dtype=torch.long, device=device)
    initial_loss = None
    log_steps = set(log_schedule(group.steps, group.log_points).tolist())
    check_steps = set(target_schedule(group.steps).tolist())
    records = []

    for step in range(group.steps + 1):
        va_acc = None
        if step in log_steps:
            scale = log_scale.detach().exp()
            tr = _evaluate(params, scale, x_tr, y_tr, stack.activation, loss_fn)
            va = _evaluate(params, scale, x_va, y_va, stack.activation, loss_fn)
            if initial_loss is None:
                initial_loss = tr["loss"].clone()
            blown = alive & torch.isfinite(tr["loss"]) & (tr["loss"] > DIVERGENCE_FACTOR * initial_loss.abs())
            diverged_step[blown.cpu().numpy()] = step
            alive &= ~blown
            va_acc = va["acc"]
            row = {"step": step, "train_loss": tr["loss"], "train_acc": tr["acc"], "val_acc": va["acc"],
                   "grad_norm_logits": tr["grad_norm_logits"], "mean_abs_logit": tr["mean_abs_logit"],
                   "logit_norm": tr["logit_norm"], "saturated_frac": tr["saturated_frac"],
                   "logit_scale_value": scale}
            records.append({k: (v.cpu().numpy() if torch.is_tensor(v) else v) for k, v in row.items()})
        waiting = alive & (reached_step < 0)
        if (step in check_steps or va_acc is not None) and bool(waiting.any()):
            if va_acc is None:                                                  # accuracy only: one forward pass
                with torch.no_grad():
                    z, _ = forward(params, x_va, stack.activation, log_scale.detach().exp())  # (K, N, C)
                    va_acc = (z.argmax(-1) == y_va).float().mean(-1)
            reached_step = torch.where(waiting & (va_acc >= group.target_acc), step, reached_step)
        if step == group.steps:
            break
        b = idx[step]                                                           # (K, B)
        z, _ = forward(params, x_tr[b], stack.activation, log_scale.exp())      # (K, B, C)
        loss = loss_fn(z, y_tr[b]).mean(-1)                                     # (K,)
        grads = torch.autograd.grad(loss.sum(), trainable)
        with torch.no_grad():
            # NaN/inf in any gradient entry makes the run's sum of entries non-finite
            # (one cheap reduction per tensor; an overflowing sum of finite entries also counts)
            finite = torch.isfinite(loss + sum(g.reshape(K, -1).sum(1) for g in grads))
            nonfinite_step = torch.where(alive & ~finite, torch.full_like(nonfinite_step, step), nonfinite_step)
            alive &= finite
        opt.step(grads, alive)

    nonfinite_step, reached_step = nonfinite_step.cpu().numpy(), reached_step.cpu().numpy()
    return [_run_record(group, stack, r, k, records, int(nonfinite_step[k]), int(diverged_step[k]),
                        int(reached_step[k])) for k, r in enumerate(runs)]


def _run_record(group, stack, run, k, records, nonfinite_step, diverged_step, reached_step) -> dict:
    """The run's curve (up to where it broke) and its summary row."""
    keys = dict(dataset=group.dataset, loss=group.loss, activation=stack.activation,
                hidden=hidden_name(stack.hidden), optimizer=stack.optimizer, learn_scale=stack.learn_scale,
                logit_scale=run.logit_scale, lr=run.lr, seed=run.seed)
    broke = [s for s in (nonfinite_step, diverged_step) if s >= 0]
    stop = min(broke) if broke else group.steps
    curve = [dict(keys, **{c: (rec[c] if c == "step" else float(rec[c][k])) for c in columns.CURVE_METRICS})
             for rec in records if rec["step"] <= stop]  # a frozen run repeats its last state: not data
    steps_to_target = reached_step if reached_step >= 0 else None   # on target_schedule, while the run was alive
    if nonfinite_step >= 0:
        status = "nonfinite"
    elif diverged_step >= 0:
        status = "diverged"
    elif steps_to_target is None:
        status = "not_reached"
    else:
        status = "ok"
    first, last = curve[0], curve[-1]
    growth = last["logit_norm"] / first["logit_norm"] if first["logit_norm"] > 0 else math.nan
    summary = dict(
        keys, group=group.name, steps=group.steps, batch_size=group.batch_size,
        target_acc=group.target_acc, steps_to_target=steps_to_target,
        final_train_loss=last["train_loss"], final_train_acc=last["train_acc"], final_val_acc=last["val_acc"],
        final_grad_norm_logits=last["grad_norm_logits"], final_mean_abs_logit=last["mean_abs_logit"],
        logit_norm_growth=growth, final_saturated_frac=last["saturated_frac"],
        final_logit_scale=last["logit_scale_value"], status=status,
        nonfinite_step=nonfinite_step if nonfinite_step >= 0 else None,
        diverged_step=diverged_step if diverged_step >= 0 else None,
    )
    return {"summary": summary, "curve": curve}


def _chunk_key(group: Group, cfg: dict, device: torch.device, stack_index: int, start: int, size: int) -> str:
    """What a chunk's result depends on, hashed: a checkpoint is reused only for the same work."""
    what = json.dumps([group.to_dict(), cfg["seed"], cfg["data"], str(device), stack_index, start, size],
                      sort_keys=True, default=str)
    return hashlib.sha256(what.encode()).hexdigest()[:16]


def train_group(group: Group, cfg: dict, device: torch.device | str = "cpu",
                max_stack: int | str = "auto", checkpoint_dir: Path | str | None = None,
                log=lambda msg: None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every stack of ``group`` in chunks sized to the device; return (runs, curves).

    With ``checkpoint_dir``, each finished chunk is saved there (atomically) and a
    rerun of the same group loads it instead of training it again, so a killed or
    preempted job resumes from its last finished chunk. The caller removes the
    directory once the group's tables are written.
    """
    device = torch.device(device)
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    ds = load_dataset(group.dataset, cfg)
    order_cache: dict = {}
    records, wall = [], []
    for s_idx, stack in enumerate(group.stacks):
        sizes = [ds.num_features, *stack.hidden, ds.num_classes]
        chunk = stack_chunk_size(max_stack, device, sizes, len(ds.y_train), group.batch_size)
        for i in range(0, len(stack.runs), chunk):
            chunk_runs = stack.runs[i:i + chunk]
            ckpt = None
            if checkpoint_dir is not None:
                key = _chunk_key(group, cfg, device, s_idx, i, len(chunk_runs))
                ckpt = Path(checkpoint_dir) / f"stack{s_idx}-runs{i}-{key}.pkl"
            if ckpt is not None and ckpt.exists():
                part, seconds = pickle.loads(ckpt.read_bytes())
                log(f"stack {s_idx}, runs {i}-{i + len(chunk_runs) - 1}: from checkpoint {ckpt.name}")
            else:
                t0 = time.perf_counter()
                part = train_stack(group, stack, chunk_runs, ds, device, order_cache)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                seconds = time.perf_counter() - t0
                if ckpt is not None:
                    write_bytes(pickle.dumps((part, seconds)), ckpt)
            records += part
            wall += [seconds / len(part)] * len(part)
    runs = pd.DataFrame([r["summary"] for r in records])
    runs["device"] = str(device)
    runs["wall_time_s"] = wall
    runs["started_at"] = started_at
    for c in ["steps_to_target", "nonfinite_step", "diverged_step"]:
        runs[c] = runs[c].astype("Int64")
    curves = pd.DataFrame([row for r in records for row in r["curve"]], columns=columns.CURVES)
    return runs[columns.RUNS], curves
