"""How close does a cluster-shaped group come to the device's float32 GEMM peak, end to end?

Trains one group of cluster shape through the real ``train_group`` (the sweep's code path: chunks
and evaluation blocks from ``sizing``, checkpoints off), on a Gaussian mixture of the MNIST shape
(default: 20,000 points of 784 features, 10 classes; 784-512-256-10 MLPs, batch 128, 200 steps,
10 logged steps, cross-entropy, 256 runs of two activations, both optimisers, 4 logit scales and
8 seeds). It counts the model FLOPs of all training and evaluation (``engine.MODEL_FLOPS``: the matrix
products a run needs, by formula), divides by the wall time, and compares with the float32 GEMM peak
measured in the same invocation on the same device (square GEMMs; on CUDA 8192^3, on a CPU the best
of 512^3..2048^3 at this thread count). A second figure times the training step alone (no evaluation).
The group's plan (runs per chunk, evaluation block, device memory) is printed as a job records it.

Usage (a GPU node):   python benchmarks/device_throughput.py --device cuda [--matmul-precision high]
A small CPU check:    python benchmarks/device_throughput.py --device cpu --runs 16 --steps 10 --points 2000
``--save FILE`` writes the figures as JSON for ``benchmarks/cluster_cost.py --rates FILE``.
Ends with one line:   mfu=<z> tflops=<x> peak_tflops=<p> step_mfu=<s> seconds=<t> device=<d>
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from experiments.config import validate_config
from experiments.convergence import engine
from experiments.convergence.data import load_dataset
from experiments.convergence.training import group_plan, resolve_device, set_matmul_precision, train_group
from experiments.sweep import groups_from_config
from measure import engine_step, gemm_peak_flops, sync


def cluster_group(args) -> tuple[dict, object]:
    """(config, group): the cluster-shaped workload, every rate set (no tune stage needed)."""
    cfg = validate_config({
        "data": {"gaussian_mixture": {"n_samples": args.points, "n_features": args.features, "n_classes": 10}},
        "convergence": {"datasets": ["gaussian_mixture"], "losses": ["cross_entropy"],
                        "activations": ["relu", "tanh"], "optimizers": ["sgd", "adam"],
                        "logit_scales": [0.1, 1.0, 10.0, 100.0], "learn_logit_scale": [False],
                        "hidden_layers": [args.hidden], "steps": {"gaussian_mixture": args.steps},
                        "batch_size": args.batch, "log_points": args.log_points,
                        "eval_seeds": list(range(args.runs // 16 or 1)),
                        "train_metric_examples": args.train_metric_examples}})
    (group,) = groups_from_config(cfg, "eval").values()
    rate = {"sgd": 0.05, "adam": 1e-3}
    stacks = tuple(dataclasses.replace(s, runs=tuple(dataclasses.replace(r, lr=rate[s.optimizer]) for r in s.runs))
                   for s in group.stacks)
    return cfg, dataclasses.replace(group, stacks=stacks)


def step_only_tflops(group, cfg, device: torch.device, runs: int) -> float:
    """Model TFLOP/s of the training step alone (forward, backward, update) on ``runs`` stacked runs of the
    group's architecture, on its dataset's first batch."""
    ds = load_dataset(group.dataset, cfg)
    sizes = [ds.num_features, *group.stacks[0].hidden, ds.num_classes]
    seconds, flops = engine_step(sizes, group.batch_size, runs, device, x=torch.as_tensor(ds.x_train[:group.batch_size]),
                                 y=torch.as_tensor(ds.y_train[:group.batch_size]))
    return flops / seconds / 1e12


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--matmul-precision", default="highest", choices=["highest", "high"])
    ap.add_argument("--runs", type=int, default=256, help="runs in the group (a multiple of 16)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--log-points", type=int, default=10)
    ap.add_argument("--points", type=int, default=20000, help="examples in the Gaussian mixture")
    ap.add_argument("--features", type=int, default=784)
    ap.add_argument("--hidden", default="512,256", help="hidden widths, comma-separated")
    ap.add_argument("--train-metric-examples", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    ap.add_argument("--save", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    args.hidden = [int(h) for h in args.hidden.split(",")]
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    setting = set_matmul_precision(args.matmul_precision)
    cfg, group = cluster_group(args)
    plan = group_plan(group, load_dataset(group.dataset, cfg), device, "auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device {device} ({name}), torch {torch.__version__}, matmul {setting if device.type == 'cuda' else 'cpu'}")
    print(f"group: {group.num_runs} runs of {args.features}-{'-'.join(map(str, args.hidden))}-10, batch {args.batch}, "
          f"{args.steps} steps, {args.log_points} logged steps, {args.points:,} points, cross-entropy")
    print(f"plan: {json.dumps(plan)}")

    peak = gemm_peak_flops(device, seconds=2.0) / 1e12
    print(f"float32 GEMM peak, measured now: {peak:.2f} TFLOP/s")
    small = dataclasses.replace(group, steps=2, log_points=2,
                                stacks=tuple(dataclasses.replace(s, runs=s.runs[:1]) for s in group.stacks[:1]))
    train_group(small, cfg, device)                                   # warm-up: data cache, kernel selection
    engine.MODEL_FLOPS.clear()
    sync(device)
    t = time.perf_counter()
    train_group(group, cfg, device)
    sync(device)
    seconds = time.perf_counter() - t
    flops = dict(engine.MODEL_FLOPS)
    total = sum(flops.values())
    rate = total / seconds / 1e12
    chunk = plan["runs_per_chunk"][next(iter(plan["runs_per_chunk"]))]
    step_rate = step_only_tflops(group, cfg, device, min(chunk, group.num_runs))
    print(f"end to end: {total / 1e12:.2f} TFLOP ({flops.get('train', 0) / total:.0%} training, rest evaluation) "
          f"in {seconds:.2f} s = {rate:.3f} TFLOP/s = {rate / peak:.1%} of the measured peak")
    print(f"training step alone ({min(chunk, group.num_runs)} runs): {step_rate:.3f} TFLOP/s = "
          f"{step_rate / peak:.1%} of the peak")
    figures = {"device": str(device), "device_name": name, "torch": torch.__version__, "matmul": setting,
               "peak_tflops": peak, "tflops": rate, "mfu": rate / peak, "step_tflops": step_rate,
               "step_mfu": step_rate / peak, "seconds": seconds, "model_tflop": total / 1e12, "plan": plan,
               "workload": {k: v for k, v in vars(args).items() if k not in ("save", "device")}}
    if args.save:
        Path(args.save).write_text(json.dumps(figures, indent=1))
    print(f"mfu={rate / peak:.3f} tflops={rate:.3f} peak_tflops={peak:.2f} step_mfu={step_rate / peak:.3f} "
          f"seconds={seconds:.2f} device={device.type}")


if __name__ == "__main__":
    main()
