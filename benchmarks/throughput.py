"""How much faster is training runs as batched stacks than one at a time?

Runs one group of the default sweep (default: digits x cross_entropy, every
activation, optimiser, logit scale, learning rate and seed) three ways, all on
one CPU thread, in one invocation:

  (a) one process per run, as a naive Snakemake sweep would (a seeded sample of
      runs; per-run cost includes interpreter start-up and ``import torch``);
  (b) one run at a time in this process (a seeded sample of runs);
  (c) this project's batched stacks (the whole group).

Every mode does the same work per run: 400 training steps and every evaluation
(the full training and validation sets at the logged steps, the validation set
at the target checks). It checks that (c) gives the same curves as (b) on the
sampled runs, prints runs per second for each and the cost of one run-step, and
the model FLOPs utilisation (MFU) of (c) end to end: the model FLOPs of all its
training and evaluation (the matrix products a run needs, counted by formula in
``experiments.convergence.engine.MODEL_FLOPS``) / its wall time / this thread's float32
GEMM peak, measured in the same invocation (best of square GEMMs, 512 to 2048).
With ``--stack-sizes``, it also times (c) at several runs per stacked model
(the measurement behind ``sizing.CPU_STACK``). It ends with one line:

    batched_vs_serial=<x> batched_vs_process=<y> mfu=<z>

Usage: python benchmarks/throughput.py [--group digits.cross_entropy] [--sample 24] [--processes 3]
                                       [--stack-sizes 16,32,64,128,256]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from experiments import columns
from experiments.analysis.targets import Targets
from experiments.config import validate_config
from experiments.convergence import engine
from experiments.convergence.training import train_group
from experiments.sweep import Group, groups_from_config
from measure import gemm_peak_flops

TARGET = Targets.constant(0.9)   # set from --target in main()

REPO = Path(__file__).resolve().parent.parent
METRICS = ["train_loss", "train_acc", "val_acc", "grad_norm_logits"]


def sample_group(group: Group, k: int, seed: int = 0) -> Group:
    """The same group with a seeded sample of k runs (kept in their stacks)."""
    pairs = [(i, j) for i, s in enumerate(group.stacks) for j in range(len(s.runs))]
    keep = set(random.Random(seed).sample(pairs, min(k, len(pairs))))
    stacks = [dataclasses.replace(s, runs=tuple(r for j, r in enumerate(s.runs) if (i, j) in keep))
              for i, s in enumerate(group.stacks)]
    return dataclasses.replace(group, stacks=tuple(s for s in stacks if s.runs))


ONE_RUN = """
import json, sys, torch
torch.set_num_threads(1)
from experiments.analysis.targets import Targets
from experiments.sweep import Group
from experiments.convergence.training import train_group
spec = json.loads(sys.argv[1])
train_group(Group.from_dict(spec["group"]), spec["cfg"], "cpu", max_stack=1, targets=Targets.constant(spec["target"]))
"""


def per_process(group: Group, cfg: dict, n: int) -> tuple[float, int]:
    """Seconds for n runs, each in its own fresh Python process."""
    sample = sample_group(group, n, seed=1)
    singles = [dataclasses.replace(sample, stacks=(dataclasses.replace(s, runs=(r,)),))
               for s in sample.stacks for r in s.runs]
    t = time.perf_counter()
    for g in singles:
        spec = json.dumps({"group": g.to_dict(), "cfg": cfg, "target": TARGET.default[0]})
        subprocess.run([sys.executable, "-c", ONE_RUN, spec], check=True)
    return time.perf_counter() - t, len(singles)


def timed(group: Group, cfg: dict, max_stack="auto") -> tuple[float, dict, pd.DataFrame]:
    """(seconds, model FLOPs by kind, curves) of training ``group``."""
    engine.MODEL_FLOPS.clear()
    t = time.perf_counter()
    curves = train_group(group, cfg, "cpu", max_stack=max_stack, targets=TARGET).curves
    return time.perf_counter() - t, dict(engine.MODEL_FLOPS), curves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    ap.add_argument("--group", default="digits.cross_entropy")
    ap.add_argument("--sample", type=int, default=24, help="runs timed one at a time in-process (b)")
    ap.add_argument("--processes", type=int, default=3, help="runs timed one process each (a)")
    ap.add_argument("--stack-sizes", default="", help="comma-separated runs per stacked model to time (c) at")
    # the workload docs/performance.md's figures were measured on: 400 steps, 30 logged steps, one target of 0.9
    # (the default config now gives digits 56 steps, its tune stage 8 logged steps, and targets per cell)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--log-points", type=int, default=30)
    ap.add_argument("--target", type=float, default=0.9)
    args = ap.parse_args()
    global TARGET
    TARGET = Targets.constant(args.target)
    torch.set_num_threads(1)
    cfg = validate_config(yaml.safe_load(Path(args.config).read_text()))
    group = groups_from_config(cfg, "tune")[args.group]   # the tune stage's initial grid: every rate is set
    group = dataclasses.replace(group, steps=args.steps, log_points=args.log_points)
    print(f"group {group.name}: {group.num_runs} runs, {group.steps} steps each, 1 CPU thread, "
          f"torch {torch.__version__}")

    peak = gemm_peak_flops() / 1e9
    print(f"float32 GEMM peak (best of 512^3..2048^3, 1 thread): {peak:.1f} GFLOP/s")

    timed(sample_group(group, 2), cfg)                    # warm-up: dataset cache, first-call kernel setup
    c_s, flops, batched = timed(group, cfg)
    c_flops = sum(flops.values())
    c_rate = group.num_runs / c_s
    mfu = c_flops / c_s / 1e9 / peak

    sample = sample_group(group, args.sample)
    b_s, _, serial = timed(sample, cfg, max_stack=1)
    b_rate = sample.num_runs / b_s

    a_s, a_n = per_process(group, cfg, args.processes)
    a_rate = a_n / a_s

    merged = serial.merge(batched, on=columns.RUN_KEYS + ["step"], suffixes=("_b", "_c"))
    assert len(merged) == len(serial), "every sampled run must appear in the batched output"
    diff = max(float(np.nanmax(np.abs(merged[f"{m}_b"] - merged[f"{m}_c"]))) for m in METRICS)
    same = all(np.allclose(merged[f"{m}_b"], merged[f"{m}_c"], rtol=1e-4, atol=1e-5, equal_nan=True)
               for m in METRICS)

    per_step = lambda seconds, runs: seconds / (runs * group.steps) * 1e6   # noqa: E731
    print(f"(a) one process per run : {a_rate:8.2f} runs/s  ({a_n} runs, {a_s:.1f} s)")
    print(f"(b) one run at a time    : {b_rate:8.2f} runs/s  ({sample.num_runs} runs, {b_s:.1f} s, "
          f"{per_step(b_s, sample.num_runs):.0f} us per run-step)")
    print(f"(c) batched stacks       : {c_rate:8.2f} runs/s  ({group.num_runs} runs, {c_s:.1f} s, "
          f"{per_step(c_s, group.num_runs):.1f} us per run-step)")
    print(f"(c) model FLOPs: {c_flops / 1e9:.1f} GFLOP ({flops['train'] / c_flops:.0%} training, "
          f"rest evaluation) in {c_s:.1f} s = {c_flops / c_s / 1e9:.1f} GFLOP/s = MFU {mfu:.2f}")
    print(f"(c) equals (b) on the sampled runs: {same} (largest difference {diff:.2e})")
    if not same:
        sys.exit("batched and serial runs disagree")
    for k in [int(v) for v in args.stack_sizes.split(",") if v]:
        s, f, _ = timed(group, cfg, max_stack=k)
        print(f"max_stack={k:4d}: {s:6.2f} s, {per_step(s, group.num_runs):5.1f} us per run-step, "
              f"MFU {sum(f.values()) / s / 1e9 / peak:.2f}")
    x, y = c_rate / b_rate, c_rate / a_rate
    print(f"targets x >= 10, y >= 30, z >= 0.4: {'met' if x >= 10 and y >= 30 and mfu >= 0.4 else 'not met'}")
    print(f"batched_vs_serial={x:.1f} batched_vs_process={y:.1f} mfu={mfu:.2f}")


if __name__ == "__main__":
    main()
