"""Train every run of a group, stack by stack, each stack as one batched MLP.

Per run k (own seed, own minibatch order, own logit scale s_k and rate lr_k)::

    z = s_k * MLP_k(x);  L_k = mean_i loss(z_i, y_i);  theta_k <- opt_k(theta_k, dL_k/dtheta_k)

The stack's objective is sum_k L_k, whose gradient with respect to theta_k is
exactly dL_k/dtheta_k, so runs never interact: a run gives the same curve alone
or inside any stack (up to float rounding of batched kernels). A run whose loss
or gradient becomes non-finite is frozen at that step (status ``nonfinite``);
the others go on to the end of the budget. A run that ends with a training loss
above ``DIVERGENCE_FACTOR`` times its initial loss, never coming back below it, is
``diverged`` (:func:`diverged_steps`): judged at the end, never stopped early, since
a loss spike in the first steps (a large logit scale) is often followed by full
recovery. Failures are rows, never exceptions. A run that broke (either status) has
no usable final model: it scores chance accuracy (:func:`broken_score`) and no NLL,
Brier or ECE, and it misses every target.
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

from typing import NamedTuple

from .. import columns
from ..analysis.targets import Targets
from .data import Dataset, load_dataset
from .calibration import fit_temperature
from . import sizing
from .engine import SHARED_MIN_FEATURES, StackedMLP, augment, flops_per_example, range_kernels
from .losses import get_loss_grad, predictive_log_probs, stuck_outputs
from .models import init_engine_weights
from .steps import StepRunner
from ..storage import write_bytes
from ..sweep import Group, Run, Stack, derive_seed, hidden_name, log_schedule, target_schedule

DIVERGENCE_FACTOR = 10.0


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


# config matmul_precision -> torch's float32 matmul setting on CUDA (torch >= 2.9 names; older: allow_tf32)
MATMUL_PRECISION = {"highest": "ieee", "high": "tf32"}


def set_matmul_precision(precision: str) -> str:
    """Apply the config's ``matmul_precision`` to CUDA float32 matrix products; return torch's setting
    as it now stands (``ieee`` or ``tf32``), which a job records. The CPU's products are left alone."""
    if precision not in MATMUL_PRECISION:
        raise ValueError(f"unknown matmul_precision {precision!r}; valid: {list(MATMUL_PRECISION)}")
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = MATMUL_PRECISION[precision]
    else:                                                        # pragma: no cover (torch < 2.9)
        matmul.allow_tf32 = precision == "high"
    return cuda_matmul_setting()


def cuda_matmul_setting() -> str:
    """torch's current CUDA float32 matmul setting: ``ieee`` (full float32) or ``tf32``."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        return "tf32" if matmul.fp32_precision == "tf32" else "ieee"
    return "tf32" if matmul.allow_tf32 else "ieee"               # pragma: no cover (torch < 2.9)


def start_job(requested_device: str, threads: int, matmul_precision: str = "highest") -> tuple[torch.device, dict]:
    """What a training job does first: set torch's threads and CUDA matmul precision, resolve the device
    and record where it runs (host, SLURM job, GPU, matmul setting). A CUDA device asked for where there
    is none ends the job in one line."""
    from ..provenance import job_environment

    torch.set_num_threads(threads)
    try:
        device = resolve_device(requested_device)
    except RuntimeError as err:   # device: cuda on a node without CUDA: one line, no traceback
        raise SystemExit(str(err)) from None
    setting = set_matmul_precision(matmul_precision)
    return device, {**job_environment(device), "matmul_precision": matmul_precision,
                    "cuda_matmul_fp32": setting if device.type == "cuda" else None}


# How a chunk checks its targets (check_mode): "waiting" reads on the host which runs still wait and
# evaluates those; "all" evaluates every run and never reads the host.
CHECKS = ("waiting", "all")
SYNC_SECONDS = {"cuda": 1e-3}   # what a host read costs: the queue drains, then the GPU idles while the host
                                # launches the next kernels, about one launch-bound step (1.1-1.3 ms, issue 23,
                                # H200); none on a CPU, whose kernels run as they are called
EVAL_FLOP_RATE = 25e12          # FLOP/s of an evaluation on a GPU: the float32 rate issue 23 measured for a
                                # cluster-shaped step on an H200 (25.9 TFLOP/s); an assumption elsewhere


def check_mode(device_type: str, runs: int, n_val: int, sizes: list[int]) -> str:
    """The cheaper way for a chunk of ``runs`` runs (layer sizes ``sizes``) to check its targets on an
    ``n_val``-example validation split, by a cost model. Per check, with E = runs n_val F / R the seconds
    of one evaluation of every run (F forward FLOPs per run and example, R = ``EVAL_FLOP_RATE``), T the
    seconds of a host read (``SYNC_SECONDS``) and w in [0, 1] the share of runs still waiting:

        "waiting":  T + w E      one host read, then only the runs that still wait are evaluated
        "all":      E            every run evaluated, no host read

    w is not known before training (all runs wait at first; those that reached every level, or broke,
    no longer do), so the choice is the one whose worst case over w loses less: "all" loses E - T at
    w = 0, "waiting" loses T at w = 1; "all" where E < 2 T. On a CPU (T = 0): "waiting". Either way
    the tables are the same (a run's accuracy does not depend on which runs are evaluated with it)."""
    sync = SYNC_SECONDS.get(device_type, 0.0)
    seconds = runs * n_val * flops_per_example(sizes)[0] / EVAL_FLOP_RATE
    return "all" if seconds < 2 * sync else "waiting"


def group_plan(group: Group, ds: Dataset, device: torch.device, max_stack: int | str, checks: bool = True) -> dict:
    """How ``train_group`` will split and stream ``group`` on ``device`` (``sizing``): the device's total
    memory, the evaluation block's bytes, runs per chunk for each architecture, how a full chunk checks
    its targets (:func:`check_mode`; ``checks`` false: no targets, as in the reference stage) and what
    evaluation costs beside training: model FLOPs at every logged step on the training metrics'
    examples and the validation split, and at every other target check on the validation split (at
    most: every run; ``check_to_train_flops`` alone), over the training steps' FLOPs. A job writes it to
    its ``job.json``; it depends on the device's total memory and the shapes only, so a rerun or a
    resume makes the same chunks."""
    total = sizing.device_memory(device)
    n_train = min(group.train_metric_examples or len(ds.y_train), len(ds.y_train))
    # [x; 1] of every split on the device, the training split twice (augment's temporary) and the metrics' copy
    data_bytes = 4 * (ds.num_features + 1) * (2 * len(ds.y_train) + n_train + len(ds.y_val) + len(ds.y_test))
    logged = set(log_schedule(group.steps, group.log_points).tolist())
    extra_checks = len(set(target_schedule(group.steps).tolist()) - logged) if checks else 0   # logged: no new pass
    chunks, modes, ratio, check_ratio = {}, {}, {}, {}
    for hidden in dict.fromkeys(tuple(stack.hidden) for stack in group.stacks):      # each architecture once
        sizes = [ds.num_features, *hidden, ds.num_classes]
        name = hidden_name(hidden)
        chunks[name] = sizing.stack_chunk_size(max_stack, sizes, group.batch_size, total, len(ds.y_val),
                                               len(ds.y_test), data_bytes)
        modes[name] = check_mode(device.type, chunks[name], len(ds.y_val), sizes) if checks else None
        fwd, step = flops_per_example(sizes)
        train = max(1, group.steps * group.batch_size * step)
        check_evals = extra_checks * len(ds.y_val) * fwd
        ratio[name] = round((len(logged) * (n_train + len(ds.y_val)) * fwd + check_evals) / train, 3)
        check_ratio[name] = round(check_evals / train, 3)
    return {"device_memory_bytes": total, "eval_block_bytes": sizing.eval_block_bytes(total),
            "runs_per_chunk": chunks, "train_metric_examples": n_train, "target_checks": modes,
            "eval_to_train_flops": ratio, "check_to_train_flops": check_ratio}


def batch_indices(n: int, steps: int, batch: int, seed: int) -> torch.Tensor:
    """(steps, batch) example indices: shuffled epochs drawn from the run's own seed."""
    g = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
    need = steps * batch
    perms = [torch.randperm(n, generator=g) for _ in range(-(-need // n))]
    return torch.cat(perms)[:need].view(steps, batch)


def train_metric_rows(n: int, examples: int | None, seed: int, dataset: str) -> torch.Tensor | None:
    """The training examples the training metrics are measured on (ascending indices), or None for all:
    a fixed subsample of ``examples`` of the ``n``, drawn once per dataset from the base seed."""
    if examples is None or examples >= n:
        return None
    g = torch.Generator().manual_seed(derive_seed(seed, dataset, "train-metrics"))
    return torch.randperm(n, generator=g)[:examples].sort().values


def run_order(members: list[tuple[Stack, Run]], shared: bool) -> list[int]:
    """The chunk's runs in the order that makes the fewest per-range kernels per step
    (``engine.range_kernels``): grouped by optimiser, then activation, then data order; or, with shared
    first-layer GEMMs, by data order first where that launches fewer (one GEMM pair per data order, but
    an activation and an optimiser range per data order too). Ties keep data order first."""
    def by_kernel(i):
        stack, run = members[i]
        return stack.optimizer, stack.activation, run.torch_seed

    def by_data(i):
        stack, run = members[i]
        return run.torch_seed, stack.optimizer, stack.activation

    candidates = [sorted(range(len(members)), key=k) for k in ((by_data, by_kernel) if shared else (by_kernel,))]
    seeds = {}

    def launches(order):
        picked = [members[i] for i in order]
        return range_kernels([s.activation for s, _ in picked], [s.optimizer for s, _ in picked],
                             [seeds.setdefault(r.torch_seed, len(seeds)) for _, r in picked], shared,
                             len(picked[0][0].hidden) + 1 if picked else 1)
    return min(candidates, key=launches)


def train_chunk(group: Group, members: list[tuple[Stack, Run]], ds: Dataset, device: torch.device,
                order_cache: dict | None = None, shared: bool | None = None, test: bool = False,
                targets: Targets | None = None, metric_rows: torch.Tensor | None = None,
                eval_block_bytes: int | None = None, step_mode: str = "eager",
                target_checks: str | None = None) -> list[dict]:
    """Train ``members`` (runs of one architecture, from any of the group's stacks) as one stacked
    model (:class:`engine.StackedMLP`); return one record per member, in the given order.

    ``shared``: first-layer GEMMs shared by runs of one data order; default: for inputs of at least
    ``engine.SHARED_MIN_FEATURES`` features, on any device (narrower inputs are gathered per run: one
    batched GEMM instead of one per data range, which a launch-bound GPU step prefers too). ``test``:
    measure the final model on the test split (accuracy, NLL, Brier, ECE and every example's outputs;
    ``experiments.convergence.calibration``); the tune stage does not. ``targets``: the validation accuracies checked on ``target_schedule``, per
    run's cell and level (None: no check, as in the reference stage). ``metric_rows``: the training
    examples the training metrics are measured on (:func:`train_metric_rows`; None: all).
    ``eval_block_bytes``: the evaluation block's budget (``sizing.eval_block_bytes``; None: a CPU's).
    ``step_mode``: how the training step runs (``steps.MODES``: eager, static buffers, CUDA graph).
    ``target_checks``: how the targets are checked (``CHECKS``; None: :func:`check_mode`'s choice for this
    chunk on this device); the tables are the same either way.
    """
    torch.set_flush_denormal(True)
    try:
        return _train_chunk(group, members, ds, device, order_cache, shared, test, targets, metric_rows,
                            eval_block_bytes, step_mode, target_checks)
    finally:
        torch.set_flush_denormal(False)


def _train_chunk(group, members, ds, device, order_cache, shared, test, targets, metric_rows,
                 eval_block_bytes, step_mode, target_checks) -> list[dict]:
    order_cache = {} if order_cache is None else order_cache
    if shared is None:
        shared = ds.num_features + 1 >= SHARED_MIN_FEATURES
    order = run_order(members, shared)
    stacks = [members[i][0] for i in order]
    runs = [members[i][1] for i in order]
    K = len(runs)
    x_tr = augment(torch.as_tensor(ds.x_train, device=device))           # (N, D + 1)
    y_tr = torch.as_tensor(ds.y_train, device=device)                     # (N,)
    if metric_rows is None:                                               # the training metrics' examples
        x_me, y_me = x_tr, y_tr
    else:
        x_me, y_me = x_tr[metric_rows.to(device)], y_tr[metric_rows.to(device)]   # (n, D + 1), (n,)
    x_va = augment(torch.as_tensor(ds.x_val, device=device))
    y_va = torch.as_tensor(ds.y_val, device=device)
    sizes = [ds.num_features, *stacks[0].hidden, ds.num_classes]
    seeds = list(dict.fromkeys(r.torch_seed for r in runs))              # data orders, in run order
    for s in seeds:
        if s not in order_cache:
            order_cache[s] = batch_indices(len(y_tr), group.steps, group.batch_size, s)
    idx = torch.stack([order_cache[s] for s in seeds], dim=1).to(device)  # (steps, G, B)
    net = StackedMLP(
        init_engine_weights(sizes, [r.torch_seed for r in runs], device),
        log_scale=torch.tensor([math.log(r.logit_scale) for r in runs], device=device),
        learn=torch.tensor([s.learn_scale for s in stacks], device=device),
        lr=torch.tensor([r.lr for r in runs], device=device),
        activations=[s.activation for s in stacks], optimizers=[s.optimizer for s in stacks],
        data_groups=[seeds.index(r.torch_seed) for r in runs], shared=shared, eval_block_bytes=eval_block_bytes)
    loss_grad = get_loss_grad(group.loss, group.loss_params)
    stuck = stuck_outputs(group.loss)                  # None: the loss has no output non-linearity

    alive = torch.ones(K, dtype=torch.bool, device=device)       # updated in place only (a graph reads it)
    step_runner = StepRunner(net, loss_grad, alive, step_mode)
    # "all": the loop reads the device only at logged steps, the target checks evaluating every run;
    # "waiting": each check asks the host which runs still wait (check_mode: the cheaper on this device)
    checks = target_checks or check_mode(device.type, K, len(y_va), sizes)
    if checks not in CHECKS:
        raise ValueError(f"unknown target_checks {checks!r}; valid: {list(CHECKS)}")
    nonfinite_step = torch.full((K,), -1, dtype=torch.long, device=device)
    # (levels, K): each run's target accuracy per level, and the first check at or above it
    levels = targets.levels if targets is not None else ()
    exact = [targets.of(hidden_name(st.hidden), st.activation, st.optimizer) for st in stacks] if levels else []
    target_acc = torch.tensor(exact, device=device).T.reshape(len(levels), K) if levels else \
        torch.empty(0, K, device=device)
    reached_step = torch.full((len(levels), K), -1, dtype=torch.long, device=device)
    log_steps = set(log_schedule(group.steps, group.log_points).tolist())
    check_steps = set(target_schedule(group.steps).tolist())
    records = []

    for step in range(group.steps + 1):
        va_acc = None
        if step in log_steps:
            tr = net.evaluate(x_me, y_me, loss_grad, saturation=True, stuck=stuck)
            va = net.evaluate(x_va, y_va)
            va_acc = va["acc"]
            row = {"step": step, "train_loss": tr["loss"], "train_acc": tr["acc"], "val_acc": va["acc"],
                   "grad_norm_logits": tr["grad_norm_logits"], "mean_abs_logit": tr["mean_abs_logit"],
                   "logit_norm": tr["logit_norm"], "saturated_frac": tr["saturated_frac"],
                   **{c: tr.get(c, torch.full((K,), math.nan)) for c in columns.STUCK_COLUMNS},
                   "logit_scale_value": net.log_scale.exp(),
                   "layer_saturated_frac": tr["saturated_frac_layers"],                     # (L - 1, K)
                   "layer_grad_norm": torch.full((len(net.W), K), math.nan),              # (L, K)
                   "layer_entries": [w.shape[1] * (w.shape[2] - 1) for w in net.W]}      # weights per layer
            records.append({k: (v.cpu().numpy() if torch.is_tensor(v) else v) for k, v in row.items()})
        checking = bool(levels) and (step in check_steps or va_acc is not None)
        if checking and checks == "all":               # every run's accuracy; the host never looks
            va_acc = net.evaluate(x_va, y_va)["acc"] if va_acc is None else va_acc
        elif checking:                                 # accuracy only of the runs still waiting, if any
            waiting = alive & (reached_step < 0).any(0)                         # (K,)
            checking = bool(waiting.any())
            if checking and va_acc is None:
                waiting_runs = waiting.nonzero().flatten()
                if len(waiting_runs) == K:
                    va_acc = net.evaluate(x_va, y_va)["acc"]
                else:
                    va_acc = torch.zeros(K, device=device)
                    va_acc[waiting_runs] = net.subset(waiting_runs).evaluate(x_va, y_va)["acc"].to(va_acc.dtype)
        if checking:
            hit = alive & (reached_step < 0) & (va_acc >= target_acc)              # (levels, K)
            reached_step = torch.where(hit, step, reached_step)
        if step == group.steps:
            break
        b = idx[step]                                                           # (G, B)
        x = [x_tr[rows] for rows in b] if shared else x_tr[b].index_select(0, net.data_group)  # G x (B, D+1) | (K, B, D+1)
        _, finite = step_runner(x, y_tr[b].index_select(0, net.data_group))
        if step in log_steps:                   # this step's minibatch gradient, per layer
            records[-1]["layer_grad_norm"] = net.weight_grad_norms().cpu().numpy()
        nonfinite_step = torch.where(alive & ~finite, step, nonfinite_step)
        alive &= finite

    nonfinite_step, reached_step = nonfinite_step.cpu().numpy(), reached_step.cpu().numpy()
    diverged_step = diverged_steps(np.array([rec["step"] for rec in records]),
                                   np.stack([rec["train_loss"] for rec in records]), nonfinite_step)
    tested = {}
    chance = {"val": broken_score(ds.y_val)[0]}
    if test:
        chance["test"], tested["guess_correct"] = broken_score(ds.y_test)
        x_te, y_te = augment(torch.as_tensor(ds.x_test, device=device)), torch.as_tensor(ds.y_test, device=device)
        predictive = predictive_log_probs(group.loss)
        te = net.evaluate(x_te, y_te, log_probs=predictive)
        tested.update({f"test_{m}": te[m].cpu().numpy() for m in ("acc", "nll", "brier", "ece")})
        tested["per_example"] = {c: v.cpu().numpy() for c, v in te["per_example"].items()}   # (K, N) each
        # temperature-scaled (Guo et al. 2017): T fitted on the validation split, applied to the test logits
        temp = fit_temperature(net.logits(x_va), y_va, predictive)                                 # (K,)
        scaled = net.evaluate(x_te, y_te, log_probs=lambda z: predictive(z / temp.view(-1, 1, 1).to(z.dtype)))
        tested.update({f"test_{m}_ts": scaled[m].cpu().numpy() for m in ("nll", "brier", "ece")},
                      temperature=temp.cpu().numpy())
    out = [None] * K
    for k, i in enumerate(order):
        reached = [(lv, float(exact[k][j]), int(reached_step[j, k])) for j, lv in enumerate(levels)]
        main = reached[targets.main_index] if levels else None
        out[i] = _run_record(group, stacks[k], runs[k], k, records, int(nonfinite_step[k]),
                             int(diverged_step[k]), reached, main, tested, chance)
    return out


def diverged_steps(steps: np.ndarray, loss: np.ndarray, nonfinite_step: np.ndarray,
                   factor: float | None = None) -> np.ndarray:
    """Per run (K,): the logged step from which its training loss stayed above ``factor`` (default
    :data:`DIVERGENCE_FACTOR`) times its initial loss to the end of training, or -1 when it ended below
    that (a spike it recovered from is not a divergence) or broke at a NaN/inf first. ``steps`` (T,) the
    logged steps, ``loss`` (T, K) the training loss there."""
    factor = DIVERGENCE_FACTOR if factor is None else factor
    above = loss > factor * np.abs(loss[:1])                              # (T, K)
    live = steps[:, None] <= np.where(nonfinite_step >= 0, -1, steps[-1])[None, :]   # a NaN/inf run: none
    tail = np.flip(np.logical_and.accumulate(np.flip(above, 0), 0), 0)   # above from this step to the end
    first = np.where(tail.any(0), tail.argmax(0), -1)
    return np.where(live.all(0) & (first >= 0), steps[np.maximum(first, 0)], -1)


def broken_score(y: np.ndarray) -> tuple[float, np.ndarray]:
    """What a run that broke scores on a split with labels ``y``: the accuracy of the best constant guess
    (the split's most frequent class: its share, the targets' *chance*), and per example whether that
    guess is right. A run that broke has no usable final model (NaN/inf in its weights had it gone on, or a
    loss ten times its start when it was stopped): it counts at chance, never at a value from before the
    break, and metrics a guess does not define (NLL, Brier, ECE) are left undefined (NaN)."""
    y = np.asarray(y)
    mode = int(np.bincount(y).argmax())
    return float(np.mean(y == mode)), (y == mode).astype(np.float32)


def _run_record(group, stack, run, k, records, nonfinite_step, diverged_step, reached, main, tested,
                chance) -> dict:
    """The run's curve (up to where it broke), its per-layer rows, its row per target level, its test
    outputs and its summary row. ``reached``: (level, target accuracy, first check at or above it or -1)
    per level; ``main``: the main level's; ``chance``: what a run that broke scores (:func:`broken_score`)
    on the validation and test splits."""
    keys = dict(dataset=group.dataset, loss=group.loss, activation=stack.activation,
                hidden=hidden_name(stack.hidden), optimizer=stack.optimizer, learn_scale=stack.learn_scale,
                logit_scale=run.logit_scale, lr=run.lr, seed=run.seed)
    broke = [s for s in (nonfinite_step, diverged_step) if s >= 0]
    stop = nonfinite_step if nonfinite_step >= 0 else group.steps
    kept = [rec for rec in records if rec["step"] <= stop]  # a frozen run repeats its last state: not data
    curve = [dict(keys, **{c: (rec[c] if c == "step" else float(rec[c][k])) for c in columns.CURVE_METRICS})
             for rec in kept]
    layers = [dict(keys, step=rec["step"], layer=layer + 1, weights=rec["layer_entries"][layer],
                   grad_norm=float(rec["layer_grad_norm"][layer, k]),
                   saturated_frac=float(rec["layer_saturated_frac"][layer, k])
                   if layer < len(rec["layer_saturated_frac"]) else math.nan)
              for rec in kept for layer in range(len(rec["layer_grad_norm"]))]
    # on target_schedule, while the run was alive
    steps_to_target = main[2] if main is not None and main[2] >= 0 else None
    status = columns.run_status(nonfinite_step >= 0, diverged_step >= 0, steps_to_target is not None)
    level_rows = [dict(keys, level=lv, target_acc=acc, steps_to_target=s if s >= 0 else None, status=status)
                  for lv, acc, s in reached]
    if tested and not broke:
        predictions = dict(keys, **{c: v[k] for c, v in tested["per_example"].items()})
    elif tested:                        # a broken run: the guess's answers, no probabilities
        nan = np.full_like(tested["guess_correct"], np.nan)
        predictions = dict(keys, **{c: (tested["guess_correct"] if c == "correct" else nan)
                                    for c in tested["per_example"]})
    else:
        predictions = None
    first, last = curve[0], curve[-1]
    growth = last["logit_norm"] / first["logit_norm"] if first["logit_norm"] > 0 else math.nan
    summary = dict(
        keys, group=group.name, steps=group.steps, batch_size=group.batch_size,
        target_acc=main[1] if main is not None else math.nan, steps_to_target=steps_to_target,
        final_train_loss=last["train_loss"], final_train_acc=last["train_acc"],
        final_val_acc=chance["val"] if broke else last["val_acc"],
        final_grad_norm_logits=last["grad_norm_logits"], final_mean_abs_logit=last["mean_abs_logit"],
        logit_norm_growth=growth, final_saturated_frac=last["saturated_frac"],
        final_stuck_wrong_frac=last["stuck_wrong_frac"],
        final_logit_scale=last["logit_scale_value"], status=status,
        nonfinite_step=nonfinite_step if nonfinite_step >= 0 else None,
        diverged_step=diverged_step if diverged_step >= 0 else None,
        # the final model on the test split; a run that broke scores chance accuracy, the rest undefined
        **{m: (float(tested[m][k]) if tested and not broke else
               chance["test"] if tested and m == "test_acc" else math.nan)
           for m in columns.TEST_METRICS + columns.TEMPERATURE_METRICS},
    )
    return {"summary": summary, "curve": curve, "layers": layers, "levels": level_rows, "predictions": predictions}


def _chunk_key(group: Group, cfg: dict, device: torch.device, arch_index: int, start: int, size: int,
               test: bool, targets: Targets | None) -> str:
    """What a chunk's result depends on, hashed: a checkpoint is reused only for the same work."""
    what = json.dumps([group.to_dict(), cfg["seed"], cfg["data"], str(device), cuda_matmul_setting(), arch_index,
                       start, size, test,
                       columns.RUNS, columns.CURVES, columns.LAYERS,      # a chunk saved by older code is not reused
                       None if targets is None else [targets.levels, targets.main, sorted(targets.acc.items()),
                                                     targets.default]],
                      sort_keys=True, default=str)
    return hashlib.sha256(what.encode()).hexdigest()[:16]


class GroupTables(NamedTuple):
    """What :func:`train_group` returns, one table per results file of a group."""
    runs: pd.DataFrame           # columns.RUNS
    curves: pd.DataFrame         # columns.CURVES
    layers: pd.DataFrame         # columns.LAYERS
    levels: pd.DataFrame         # columns.LEVELS (empty without targets)
    predictions: pd.DataFrame    # columns.PREDICTIONS (empty without ``test``)


def train_group(group: Group, cfg: dict, device: torch.device | str = "cpu",
                max_stack: int | str = "auto", checkpoint_dir: Path | str | None = None,
                log=lambda msg: None, test: bool = False, targets: Targets | None = None,
                cuda_graphs: bool = False, step_mode: str | None = None,
                target_checks: str | None = None) -> GroupTables:
    """Train every stack of ``group`` in chunks sized to the device; return its :class:`GroupTables`.
    ``test``: measure each final model on the test split (the evaluation stage only). ``targets``: the
    accuracies checked during training, per cell and level (None: none, as in the reference stage).
    ``cuda_graphs``: on a CUDA device, replay each chunk's training step as a CUDA graph (``steps``; the
    same numbers, fewer launches); without it CUDA runs ``static`` steps and the CPU ``eager`` ones;
    ``step_mode`` sets the mode outright, ``target_checks`` the way targets are checked (``CHECKS``; None:
    :func:`check_mode`'s choice per chunk): the tests'.

    With ``checkpoint_dir``, each finished chunk is saved there (atomically) and a
    rerun of the same group loads it instead of training it again, so a killed or
    preempted job resumes from its last finished chunk. The caller removes the
    directory once the group's tables are written.
    """
    device = torch.device(device)
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    ds = load_dataset(group.dataset, cfg)
    plan = group_plan(group, ds, device, max_stack, checks=targets is not None)
    mode = step_mode or ("eager" if device.type != "cuda" else "graph" if cuda_graphs else "static")
    metric_rows = train_metric_rows(len(ds.y_train), group.train_metric_examples, cfg["seed"], group.dataset)
    order_cache: dict = {}
    # runs of one architecture train together, whatever their activation, optimiser and scale
    by_arch: dict[tuple, list] = {}
    for s_idx, stack in enumerate(group.stacks):
        by_arch.setdefault(tuple(stack.hidden), []).extend(
            ((s_idx, j), (stack, run)) for j, run in enumerate(stack.runs))
    done: dict[tuple, tuple[dict, float]] = {}
    for a_idx, (hidden, members) in enumerate(by_arch.items()):
        chunk = plan["runs_per_chunk"][hidden_name(hidden)]
        for i in range(0, len(members), chunk):
            part_members = members[i:i + chunk]
            ckpt = None
            if checkpoint_dir is not None:
                key = _chunk_key(group, cfg, device, a_idx, i, len(part_members), test, targets)
                ckpt = Path(checkpoint_dir) / f"arch{a_idx}-runs{i}-{key}.pkl"
            if ckpt is not None and ckpt.exists():
                part, seconds = pickle.loads(ckpt.read_bytes())
                log(f"architecture {hidden_name(hidden)}, runs {i}-{i + len(part_members) - 1}: "
                    f"from checkpoint {ckpt.name}")
            else:
                t0 = time.perf_counter()
                part = train_chunk(group, [m for _, m in part_members], ds, device, order_cache, test=test,
                                   targets=targets, metric_rows=metric_rows, eval_block_bytes=plan["eval_block_bytes"],
                                   step_mode=mode, target_checks=target_checks)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                seconds = time.perf_counter() - t0
                if ckpt is not None:
                    write_bytes(pickle.dumps((part, seconds)), ckpt)
            for (pos, _), rec in zip(part_members, part):
                done[pos] = (rec, seconds / len(part))
    ordered = [done[pos] for pos in sorted(done)]                 # the group's stack and run order
    records, wall = [r for r, _ in ordered], [w for _, w in ordered]
    runs = pd.DataFrame([r["summary"] for r in records])
    runs["device"] = str(device)
    runs["wall_time_s"] = wall
    runs["started_at"] = started_at
    for c in ["steps_to_target", "nonfinite_step", "diverged_step"]:
        runs[c] = runs[c].astype("Int64")
    curves = pd.DataFrame([row for r in records for row in r["curve"]], columns=columns.CURVES)
    layers = pd.DataFrame([row for r in records for row in r["layers"]], columns=columns.LAYERS)
    levels = pd.DataFrame([row for r in records for row in r["levels"]], columns=columns.LEVELS)
    levels["steps_to_target"] = levels["steps_to_target"].astype("Int64")
    predictions = pd.DataFrame([r["predictions"] for r in records if r["predictions"] is not None],
                               columns=columns.PREDICTIONS)
    return GroupTables(runs[columns.RUNS], curves, layers, levels, predictions)
