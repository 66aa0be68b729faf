"""What a loss without a closed-form gradient costs: the engine's training step with autograd on the
logits (a user's loss, experiments.convergence.losses.get_loss_grad) beside the same loss's closed form.

The autograd loss is cross-entropy written as a user would (``F.cross_entropy(..., reduction="none")``,
registered here without ``grad=``), so both sides compute the same numbers; the figure is the ratio of
step times, measured in one process, alternating the two, at the default sweep's shapes (digits:
64-64-10, batch 64) and a wider one, for stacks of 1 and 128 runs.

Usage: python benchmarks/autograd_step.py [--repeats 50] [--rounds 5]
Ends with one line:  autograd_over_closed_form=<median ratio over shapes and stacks>
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F

from experiments import loss
from measure import engine_step


@loss("cross_entropy_autograd", label="cross-entropy (autograd)")
def cross_entropy_autograd(logits, target):
    return F.cross_entropy(logits, target, reduction="none")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50, help="steps per timing")
    ap.add_argument("--rounds", type=int, default=5, help="alternating timings per side (the median is kept)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ratios = []
    print(f"{'sizes':<18}{'runs':>6}{'closed form ms':>16}{'autograd ms':>13}{'ratio':>8}")
    for sizes in ([64, 64, 10], [784, 256, 10]):
        for k in (1, 128):
            t = {"cross_entropy": [], "cross_entropy_autograd": []}
            for _ in range(args.rounds):
                for name in t:
                    t[name].append(engine_step(sizes, 64, k, repeats=args.repeats, loss=name)[0])
            closed, auto = (statistics.median(t[n]) for n in t)
            ratios.append(auto / closed)
            print(f"{'-'.join(map(str, sizes)):<18}{k:>6}{1e3 * closed:>16.3f}{1e3 * auto:>13.3f}{auto / closed:>8.2f}")
    print(f"autograd_over_closed_form={statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
