"""What the benchmarks measure alike: a device's float32 GEMM peak and the time of one engine step
(forward, backward and SGD update of a stack of runs), each measured in the calling process.
Imported by the scripts beside it (``python benchmarks/<script>.py`` puts this folder on the path)."""

from __future__ import annotations

import time

import torch

from experiments.convergence.engine import SHARED_MIN_FEATURES, StackedMLP, augment
from experiments.convergence.losses import get_loss_grad
from experiments.convergence.models import init_engine_weights


def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def gemm_peak_flops(device: torch.device | str = "cpu", seconds: float = 1.0) -> float:
    """Best float32 FLOP/s of square matrix products on ``device`` at the current thread count and matmul
    precision: 8192^3 on CUDA, the best of 512^3..2048^3 on a CPU."""
    device = torch.device(device)
    sizes = (8192,) if device.type == "cuda" else (512, 1024, 2048)
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        torch.mm(a, b)
        sync(device)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            for _ in range(4):
                torch.mm(a, b)
            sync(device)
            best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t))
    return best


def engine_step(sizes: list[int], batch: int, k: int, device: torch.device | str = "cpu", repeats: int = 20,
                x: torch.Tensor | None = None, y: torch.Tensor | None = None,
                loss: str = "cross_entropy") -> tuple[float, float]:
    """(seconds, model FLOPs) of one engine step of a stack of ``k`` runs of layer ``sizes`` (ReLU, SGD,
    ``loss``: a registered loss, by its closed form or autograd) on a batch of ``batch``: the examples
    ``x`` (batch, sizes[0]) and labels ``y`` (batch,) given, or random ones; the first layer shared where
    the engine shares it."""
    device = torch.device(device)
    shared = sizes[0] + 1 >= SHARED_MIN_FEATURES
    net = StackedMLP(init_engine_weights(sizes, list(range(k)), device), log_scale=torch.zeros(k, device=device),
                     learn=torch.zeros(k, dtype=torch.bool, device=device), lr=torch.full((k,), 0.01, device=device),
                     activations=["relu"] * k, optimizers=["sgd"] * k, data_groups=[0] * k, shared=shared)
    x = augment(torch.randn(batch, sizes[0], device=device) if x is None else x.to(device))
    x = [x] if shared else x.expand(k, -1, -1).contiguous()
    y = (torch.randint(0, sizes[-1], (batch,), device=device) if y is None else y.to(device)).expand(k, -1)
    loss_grad, alive = get_loss_grad(loss), torch.ones(k, dtype=torch.bool, device=device)
    torch.set_flush_denormal(True)
    net.step(x, y, loss_grad, alive)  # warm-up
    sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        net.step(x, y, loss_grad, alive)
    sync(device)
    return (time.perf_counter() - t) / repeats, k * batch * net.step_flops
