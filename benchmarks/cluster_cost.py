"""What a sweep costs: FLOPs counted from the config, time measured per run-step here.

For every group of a config (default: config/cluster.yaml) it counts the
floating-point work of its runs,

    training    F_step * B * steps                 (forward, weight and input gradients)
    evaluation  F_fwd * (N_metrics + N_val) * (log points + 1)
                (the training metrics' examples, convergence.train_metric_examples or the whole
                training split, and the validation split; target checks left out)

with F_fwd and F_step the model FLOPs per example that the training engine
counts (``experiments.convergence.engine``: forward 2(n_in + 1)n_out per layer; a step
adds the weight gradients and the input gradients of layers 2..L), B the batch
size and the split sizes from the dataset's shape and the config's fractions
(nothing is downloaded). It then measures, on this machine and in this process, steps of
the engine on a stack of K runs of each architecture (random data of the
dataset's shape) to give a measured cost per run-step and the FLOP rate it
reached. GPU hours come from a *measured* end-to-end rate: ``--rates FILE``
as ``benchmarks/device_throughput.py --device cuda --save FILE`` wrote it on a
GPU node (a cluster-shaped group through the real ``train_group``: training and
evaluation, chunks and blocks as the sweep makes them), applied to every shape
of the config (an extrapolation: small stacks are launch-bound and run below
it); or from a rate you give (``--gpu-tflops``), which the output labels an
assumption.

Usage: python benchmarks/cluster_cost.py [--config config/cluster.yaml] [--rates FILE | --gpu-tflops X] [--stack 128]
Ends with one line:  runs=<n> jobs=<n> pflop=<x> cpu_core_hours=<y> gpu_hours=<z> gpu_rate=<measured|assumed|none>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import yaml

from experiments.config import split_sizes, validate_config
from experiments.convergence.engine import flops_per_example
from experiments.sweep import groups_from_config
from measure import engine_step

REPO = Path(__file__).resolve().parent.parent
# (examples, features, classes, published test examples or None) of each dataset, as data.py loads it
SHAPES = {"digits": (1797, 64, 10, None), "mnist": (70000, 784, 10, 10000), "fashion_mnist": (70000, 784, 10, 10000),
          "cifar10": (60000, 3072, 10, 10000), "mnist1d": (6000, 40, 10, 1000)}


def shape(name: str, cfg: dict) -> tuple[int, int, int, int]:
    """(training examples, validation examples, features, classes) of dataset ``name`` under ``cfg``."""
    if name == "gaussian_mixture":
        g = cfg["data"]["gaussian_mixture"]
        n, d, c, test = g["n_samples"], g["n_features"], g["n_classes"], None
    else:
        n, d, c, test = SHAPES[name]
    if name == "mnist1d":                       # its own splits: 4,000 training, 1,000 validation signals
        return 4000, 1000, d, c
    n_train, n_val, _ = split_sizes(n, cfg["data"]["val_fraction"], cfg["data"]["test_fraction"], test)
    return n_train, n_val, d, c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "config" / "cluster.yaml"))
    ap.add_argument("--rates", default=None, help="JSON of benchmarks/device_throughput.py --save (a GPU's measured rate)")
    ap.add_argument("--gpu-tflops", type=float, default=None,
                    help="an assumed end-to-end float32 rate of one GPU (TFLOP/s), where none was measured")
    ap.add_argument("--stack", type=int, default=128, help="runs per measured batched step")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = validate_config(yaml.safe_load(Path(args.config).read_text()))
    # every stage: the reference and tune stages' initial grids (the rates their searches add are not
    # known in advance, so this is a lower bound) and the evaluate stage
    groups = {f"{phase}/{name}": g for phase in ("reference", "tune", "eval")
              for name, g in groups_from_config(cfg, phase).items()}

    total_flop, total_runs, measured = 0.0, 0, {}
    cpu_seconds = 0.0
    per_group = []
    for name, g in groups.items():
        n_train, n_val, d, c = shape(g.dataset, cfg)
        n = min(n_train, g.train_metric_examples or n_train) + n_val     # examples at each logged step
        flop = 0.0
        secs = 0.0
        for stack in g.stacks:
            sizes = [d, *stack.hidden, c]
            fwd, step = flops_per_example(sizes)
            k = len(stack.runs)
            flop += k * (step * g.batch_size * g.steps + fwd * n * (g.log_points + 1))
            key = (tuple(sizes), g.batch_size)
            if key not in measured:
                s, _ = engine_step(sizes, g.batch_size, args.stack)
                measured[key] = (s / args.stack, step * g.batch_size / (s / args.stack))
                print(f"measured: sizes {sizes}, batch {g.batch_size}: {1e3 * measured[key][0]:.3f} ms per "
                      f"run-step (stack of {args.stack}, one thread), {measured[key][1] / 1e9:.1f} GFLOP/s")
            per_run_step, rate = measured[key]
            # evaluation at the training step's measured FLOP rate
            secs += k * (g.steps * per_run_step + fwd * n * (g.log_points + 1) / rate)
        per_group.append((name, g.num_runs, flop, secs))
        total_flop += flop
        total_runs += g.num_runs
        cpu_seconds += secs

    longest = max(per_group, key=lambda r: r[2])
    if args.rates:
        measured_rate = json.loads(Path(args.rates).read_text())
        tflops, how = measured_rate["tflops"], "measured"
        source = (f"measured end to end on {measured_rate['device_name']} for one cluster shape "
                  f"({measured_rate['mfu']:.0%} of its {measured_rate['peak_tflops']:.1f} TFLOP/s GEMM peak) and "
                  "applied to every shape (small, launch-bound stacks run below it: an extrapolation)")
    elif args.gpu_tflops:
        tflops, how, source = args.gpu_tflops, "assumed", "assumed (--gpu-tflops), not measured"
    else:
        tflops, how, source = None, "none", "no rate: pass --rates from benchmarks/device_throughput.py on a GPU"
    print(f"{args.config}: {total_runs} runs in {len(groups)} jobs; {total_flop / 1e15:.1f} PFLOP in all")
    print(f"one CPU core at the measured rates: {cpu_seconds:.0f} s = {cpu_seconds / 3600:.1f} core-hours "
          f"(extrapolated from measured steps)")
    gpu_hours = total_flop / (tflops * 1e12) / 3600 if tflops else float("nan")
    if tflops:
        print(f"largest job {longest[0]}: {longest[1]} runs, {longest[2] / 1e15:.2f} PFLOP, "
              f"{longest[2] / (tflops * 1e12) / 60:.0f} min at {tflops:.2f} TFLOP/s")
    print(f"one GPU at {tflops or float('nan'):.2f} TFLOP/s, {source}: {gpu_hours:.1f} GPU-hours")
    print(f"runs={total_runs} jobs={len(groups)} pflop={total_flop / 1e15:.3g} "
          f"cpu_core_hours={cpu_seconds / 3600:.2f} gpu_hours={gpu_hours:.2f} gpu_rate={how}")


if __name__ == "__main__":
    main()
