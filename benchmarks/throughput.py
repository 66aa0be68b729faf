"""How much faster is training runs as batched stacks than one at a time?

Runs one group of the default sweep (default: digits x cross_entropy, every
activation, optimiser, logit scale, learning rate and seed) three ways, all on
one CPU thread, in one invocation:

  (a) one process per run, as a naive Snakemake sweep would (a seeded sample of
      runs; per-run cost includes interpreter start-up and ``import torch``);
  (b) one run at a time in this process (a seeded sample of runs);
  (c) this project's batched stacks (the whole group).

It checks that (c) gives the same curves as (b) on the sampled runs, prints
runs per second for each, the ratios, and the fraction of this machine's
measured float32 matmul peak that (c)'s batched matmul kernels reach (FLOPs and
kernel time from torch.profiler), ending with one line:

    batched_vs_serial=<x> batched_vs_process=<y> peak_fraction=<z>

Usage: python benchmarks/throughput.py [--group digits.cross_entropy] [--sample 24] [--processes 3]
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
import torch
import yaml

from experiments import columns
from experiments.config import validate_config
from experiments.sweep import Group, groups_from_config
from experiments.training import train_group

REPO = Path(__file__).resolve().parent.parent
MATMUL_OPS = {"aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm"}
METRICS = ["train_loss", "train_acc", "val_acc", "grad_norm_logits"]


def matmul_peak_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """Best float32 GFLOP/s of an n x n matmul on this thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t) / 1e9)
    return best


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
from experiments.sweep import Group
from experiments.training import train_group
spec = json.loads(sys.argv[1])
train_group(Group.from_dict(spec["group"]), spec["cfg"], "cpu", max_stack=1)
"""


def per_process(group: Group, cfg: dict, n: int) -> tuple[float, int]:
    """Seconds for n runs, each in its own fresh Python process."""
    sample = sample_group(group, n, seed=1)
    singles = [dataclasses.replace(sample, stacks=(dataclasses.replace(s, runs=(r,)),))
               for s in sample.stacks for r in s.runs]
    t = time.perf_counter()
    for g in singles:
        spec = json.dumps({"group": g.to_dict(), "cfg": cfg})
        subprocess.run([sys.executable, "-c", ONE_RUN, spec], check=True)
    return time.perf_counter() - t, len(singles)


def kernel_fraction(group: Group, cfg: dict, peak: float) -> tuple[float, float]:
    """(GFLOP/s inside the batched matmul kernels, fraction of peak) for the group's first stack."""
    from torch.profiler import ProfilerActivity, profile

    one = dataclasses.replace(group, stacks=group.stacks[:1], steps=min(group.steps, 200))
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        train_group(one, cfg, "cpu")
    flops = us = 0.0
    for e in prof.key_averages():
        if e.key in MATMUL_OPS:
            flops += e.flops
            us += e.self_cpu_time_total
    rate = flops / (us * 1e-6) / 1e9 if us else float("nan")
    return rate, rate / peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    ap.add_argument("--group", default="digits.cross_entropy")
    ap.add_argument("--sample", type=int, default=24, help="runs timed one at a time in-process (b)")
    ap.add_argument("--processes", type=int, default=3, help="runs timed one process each (a)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = validate_config(yaml.safe_load(Path(args.config).read_text()))
    group = groups_from_config(cfg, "tune")[args.group]   # the tune stage's initial grid: every rate is set
    print(f"group {group.name}: {group.num_runs} runs in {len(group.stacks)} stacks, {group.steps} steps, "
          f"1 CPU thread, torch {torch.__version__}")

    peak = matmul_peak_gflops()
    print(f"float32 matmul peak (1024^3, 1 thread): {peak:.1f} GFLOP/s")

    t = time.perf_counter()
    _, batched = train_group(group, cfg, "cpu")
    c_s = time.perf_counter() - t
    c_rate = group.num_runs / c_s

    sample = sample_group(group, args.sample)
    t = time.perf_counter()
    _, serial = train_group(sample, cfg, "cpu", max_stack=1)
    b_s = time.perf_counter() - t
    b_rate = sample.num_runs / b_s

    a_s, a_n = per_process(group, cfg, args.processes)
    a_rate = a_n / a_s

    merged = serial.merge(batched, on=columns.RUN_KEYS + ["step"], suffixes=("_b", "_c"))
    assert len(merged) == len(serial), "every sampled run must appear in the batched output"
    diff = max(float(np.nanmax(np.abs(merged[f"{m}_b"] - merged[f"{m}_c"]))) for m in METRICS)
    same = all(np.allclose(merged[f"{m}_b"], merged[f"{m}_c"], rtol=1e-4, atol=1e-5, equal_nan=True)
               for m in METRICS)

    gflops, fraction = kernel_fraction(group, cfg, peak)
    print(f"(a) one process per run : {a_rate:8.2f} runs/s  ({a_n} runs, {a_s:.1f} s)")
    print(f"(b) one run at a time    : {b_rate:8.2f} runs/s  ({sample.num_runs} runs, {b_s:.1f} s)")
    print(f"(c) batched stacks       : {c_rate:8.2f} runs/s  ({group.num_runs} runs, {c_s:.1f} s)")
    print(f"(c) equals (b) on the sampled runs: {same} (largest difference {diff:.2e})")
    print(f"batched matmul kernels: {gflops:.1f} GFLOP/s = {fraction:.0%} of the matmul peak")
    if not same:
        sys.exit("batched and serial runs disagree")
    print(f"batched_vs_serial={c_rate / b_rate:.1f} batched_vs_process={c_rate / a_rate:.1f} "
          f"peak_fraction={fraction:.2f}")


if __name__ == "__main__":
    main()
