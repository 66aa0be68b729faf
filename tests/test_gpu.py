"""The CUDA path against the CPU path (``pytest -m gpu`` on a machine with a GPU; skipped without one,
CI is CPU-only): every loss and optimiser trains to the same statuses, steps to target within one check
and losses within float tolerance; the initial weights are bit for bit the CPU's; chunks and evaluation
blocks follow the device's total memory and fit in it; AMP training runs without host syncs.

``device_disagreements`` is the comparison; the CPU tests at the end prove it catches what it should."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from experiments.analysis.targets import Targets
from experiments.config import validate_config
from experiments.convergence import engine, sizing
from experiments.convergence.data import load_dataset
from experiments.convergence.losses import LOSSES
from experiments.convergence.training import group_plan, target_schedule, train_group
from experiments.sweep import groups_from_config

no_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (the gpu tests need one)")
TARGET = Targets.constant(0.8)
RTOL = 1e-3      # float32 on two devices: the same products summed in other orders, over tens of steps


def device_disagreements(a: pd.DataFrame, b: pd.DataFrame, steps: int) -> list[str]:
    """What differs between two runs tables of the same group trained on two devices: a status, a
    steps-to-target more than one check apart (``target_schedule``), a final training loss or validation
    accuracy beyond float tolerance. Empty when they agree."""
    keys = ["activation", "optimizer", "learn_scale", "logit_scale", "lr", "seed"]
    m = a.merge(b, on=keys, suffixes=("_a", "_b"), validate="one_to_one")
    out = [] if len(m) == len(a) == len(b) else [f"{len(a)} and {len(b)} runs, {len(m)} matched"]
    checks = target_schedule(steps)
    position = lambda s: int(np.searchsorted(checks, s))                        # noqa: E731
    for _, r in m.iterrows():
        name = "/".join(str(r[k]) for k in keys)
        if r["status_a"] != r["status_b"]:
            out.append(f"{name}: status {r['status_a']} vs {r['status_b']}")
        sa, sb = r["steps_to_target_a"], r["steps_to_target_b"]
        if pd.isna(sa) != pd.isna(sb) or (not pd.isna(sa) and abs(position(sa) - position(sb)) > 1):
            out.append(f"{name}: steps to target {sa} vs {sb}")
        if r["status_a"] == r["status_b"] == "ok" or r["status_a"] == r["status_b"] == "not_reached":
            if not np.isclose(r["final_train_loss_a"], r["final_train_loss_b"], rtol=RTOL, atol=1e-5):
                out.append(f"{name}: final train loss {r['final_train_loss_a']:.6g} vs {r['final_train_loss_b']:.6g}")
            if abs(r["final_val_acc_a"] - r["final_val_acc_b"]) > 0.02:
                out.append(f"{name}: final val acc {r['final_val_acc_a']:.4f} vs {r['final_val_acc_b']:.4f}")
    return out


def small_group(loss: str, optimizer: str):
    rates = {"sgd": [0.1], "adam": [0.003]}
    cfg = validate_config({"convergence": {
        "datasets": ["digits"], "losses": [loss], "activations": ["sigmoid", "relu"], "optimizers": [optimizer],
        "logit_scales": [1.0, 10.0], "learn_logit_scale": [False, True], "learning_rates": rates,
        "tuning_seeds": [0, 1], "eval_seeds": [5], "steps": {"digits": 60}, "log_points": 6,
        "hidden_layers": [[32]]}})
    (group,) = groups_from_config(cfg, "tune").values()
    return cfg, group


@pytest.mark.gpu
@no_cuda
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_cuda_trains_as_the_cpu_does(loss, optimizer):
    cfg, group = small_group(loss, optimizer)
    cpu = train_group(group, cfg, "cpu", targets=TARGET, test=True).runs
    gpu = train_group(group, cfg, "cuda", targets=TARGET, test=True).runs
    assert set(gpu["device"]) == {"cuda"}
    assert device_disagreements(cpu, gpu, group.steps) == []


@pytest.mark.gpu
@no_cuda
@pytest.mark.parametrize("loss, optimizer", [("cross_entropy", "adam"), ("mse_sigmoid", "sgd"), ("hinge", "adam")])
def test_cuda_graph_steps_give_the_eager_tables(loss, optimizer, monkeypatch):
    """The training step captured once per chunk and replayed (cuda_graphs) gives the tables of the eager
    step on the same device (step_mode eager: no fixed buffers, no graph; CUDA's default is 'static'),
    and a capture really happened, once per chunk."""
    from experiments.convergence import steps

    cfg, group = small_group(loss, optimizer)
    eager = train_group(group, cfg, "cuda", targets=TARGET, test=True, step_mode="eager")
    captures = []
    real = steps.StepRunner._capture
    monkeypatch.setattr(steps.StepRunner, "_capture", lambda self: captures.append(self.net) or real(self))
    graph = train_group(group, cfg, "cuda", targets=TARGET, test=True, cuda_graphs=True)
    assert len(captures) == 1 and captures[0].frozen                  # one chunk: every run of the group
    for a, b in zip(eager, graph):
        pd.testing.assert_frame_equal(a.drop(columns=["wall_time_s", "started_at"], errors="ignore"),
                                      b.drop(columns=["wall_time_s", "started_at"], errors="ignore"),
                                      rtol=1e-6, atol=1e-7)


def init_disagreements(got: list[torch.Tensor], sizes: list[int], seeds: list[int]) -> list[str]:
    """Where initial weights ``got`` [W_l (K, n_l, n_{l-1} + 1)], on any device, differ in any bit from the
    host's reference draw (``models.init_params``: each run from its own generator, float64, stacked,
    cast): one line per layer and run. Empty when they agree."""
    from experiments.convergence.engine import engine_weights
    from experiments.convergence.models import init_params

    want = engine_weights(init_params(sizes, seeds))
    out = [] if len(got) == len(want) else [f"{len(got)} layers, want {len(want)}"]
    for layer, (g, w) in enumerate(zip(got, want), start=1):
        if g.shape != w.shape or g.dtype != w.dtype:
            out.append(f"layer {layer}: {g.dtype} {tuple(g.shape)}, want {w.dtype} {tuple(w.shape)}")
            continue
        differs = (g.cpu().view(torch.int32) != w.view(torch.int32)).flatten(1).any(1)     # (K,)
        out += [f"layer {layer}, run {k} (seed {seeds[k]})" for k in differs.nonzero().flatten().tolist()]
    return out


@pytest.mark.gpu
@no_cuda
def test_cuda_init_is_bitwise_the_host_draw():
    """``init_engine_weights`` on CUDA, the tensors made on the device and each seed's draw written into
    its runs there (32 runs of 5 seeds, interleaved), holds every bit of the host's reference draw."""
    from experiments.convergence.models import init_engine_weights

    sizes, seeds = [784, 512, 256, 10], [(7 * k) % 5 + 40 for k in range(32)]
    got = init_engine_weights(sizes, seeds, "cuda")
    assert all(w.device.type == "cuda" for w in got)
    assert init_disagreements(got, sizes, seeds) == []


@pytest.mark.gpu
@no_cuda
def test_cuda_chunk_and_block_follow_total_memory_and_fit():
    """The plan on this GPU comes from its total memory; a chunk of that size of the cluster's MNIST
    shape (a 20,000-point mixture of 784 features) trains, is evaluated and tested within three quarters
    of the memory (the estimate aims at half)."""
    total = torch.cuda.get_device_properties(0).total_memory
    assert sizing.device_memory("cuda") == total
    cfg = validate_config({
        "data": {"gaussian_mixture": {"n_samples": 20000, "n_features": 784, "n_classes": 10}},
        "convergence": {"datasets": ["gaussian_mixture"], "losses": ["cross_entropy"], "activations": ["relu"],
                        "optimizers": ["adam"], "logit_scales": [1.0], "learn_logit_scale": [False],
                        "hidden_layers": [[512, 256]], "steps": {"gaussian_mixture": 2}, "batch_size": 128,
                        "log_points": 2, "learning_rates": {"adam": [1e-3]}, "tuning_seeds": [0],
                        "eval_seeds": [1]}})
    (group,) = groups_from_config(cfg, "tune").values()
    plan = group_plan(group, load_dataset(group.dataset, cfg), torch.device("cuda"), "auto")
    k = plan["runs_per_chunk"]["512-256"]
    assert plan["device_memory_bytes"] == total and plan["eval_block_bytes"] == sizing.eval_block_bytes(total)
    assert k == sizing.stack_chunk_size("auto", [784, 512, 256, 10], 128, total)
    stack = group.stacks[0]
    runs = tuple(dataclasses.replace(stack.runs[0], seed=i, torch_seed=i) for i in range(k))
    big = dataclasses.replace(group, stacks=(dataclasses.replace(stack, runs=runs),))
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    out = train_group(big, cfg, "cuda", targets=TARGET, test=True)
    assert len(out.runs) == k and set(out.runs["device"]) == {"cuda"}
    assert torch.cuda.max_memory_allocated() <= 0.75 * total, (torch.cuda.max_memory_allocated(), total)


@pytest.mark.gpu
@no_cuda
@pytest.mark.parametrize("loss", ["cross_entropy", "mse_softmax"])
def test_cuda_evaluation_block_peaks_within_its_estimate(loss):
    """Where the block binds (256 runs of the cluster's 784-512-256-10 in a 256 MiB block: 123 examples
    per block, three blocks and a ragged one), the heaviest evaluation (the training metrics of sigmoid
    runs: loss, stuck test, saturation) peaks on the device within ``sizing``'s estimate of the block and
    fills at least 70% of it (``torch.cuda.max_memory_allocated`` over what the stack held before; cuBLAS's
    workspace made by a warm-up first)."""
    from experiments.convergence.engine import StackedMLP, augment
    from experiments.convergence.losses import get_loss_grad, stuck_outputs
    from experiments.convergence.models import init_engine_weights

    sizes, K, budget = [784, 512, 256, 10], 256, 256 << 20
    block = sizing.examples_per_block(budget, K, sizes)
    assert block * K * sizing.example_bytes(sizes) <= budget < (block + 1) * K * sizing.example_bytes(sizes)

    def stack():
        return StackedMLP(init_engine_weights(sizes, list(range(K)), "cuda"), torch.zeros(K, device="cuda"),
                          torch.zeros(K, dtype=torch.bool, device="cuda"), torch.ones(K, device="cuda"),
                          ["sigmoid"] * K, ["sgd"] * K, [0] * K, shared=False, trains=False, eval_block_bytes=budget)
    g = torch.Generator(device="cuda").manual_seed(0)
    n = 3 * block + block // 3
    x = augment(torch.randn(n, sizes[0], generator=g, device="cuda"))
    y = torch.randint(0, sizes[-1], (n,), generator=g, device="cuda")
    kw = dict(loss_grad=get_loss_grad(loss), stuck=stuck_outputs(loss), saturation=True)
    stack().evaluate(x[:block], y[:block], **kw)                          # cuBLAS handles and workspace
    net = stack()
    torch.cuda.synchronize()
    held = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    net.evaluate(x, y, **kw)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - held
    assert 0.7 * budget <= peak <= budget, (peak, budget)


@pytest.mark.gpu
@no_cuda
def test_amp_training_on_cuda_is_a_table_and_syncs_no_more_for_more_steps():
    """Without a scaler, AMP training reads the device only every CHECK_EVERY steps and at the end:
    as many syncs at 20 steps as at 5 (torch's sync debug mode counts them)."""
    import warnings

    from experiments.overflow.amp import CHECK_EVERY, run_amp_training, train_amp

    def syncs(steps):
        cfg = validate_config({"overflow": {"amp_training": {"steps": steps}}})
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                train_amp(cfg, "bfloat16", "cross_entropy", False, 1.0, "cuda", "adam")
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)
    assert 20 < CHECK_EVERY and syncs(5) == syncs(20)

    cfg = validate_config({"overflow": {"amp_training": {"dtypes": ["float32", "float16", "bfloat16"],
                                                         "logit_scales": [1.0, 1000.0], "steps": 30, "seeds": [0]}}})
    t = run_amp_training(cfg, "cuda")
    assert set(t["device"]) == {"cuda"} and t["status"].notna().all()
    assert (t.loc[t["dtype"] == "float32", "status"] == "ok").any()


@pytest.mark.gpu
@no_cuda
def test_cuda_model_flops_are_counted_on_the_device():
    engine.MODEL_FLOPS.clear()
    cfg, group = small_group("cross_entropy", "sgd")
    train_group(group, cfg, "cuda", targets=TARGET)
    assert engine.MODEL_FLOPS["train"] > 0 and engine.MODEL_FLOPS["eval"] > 0


# ---- the comparison itself, on the CPU ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def cpu_runs():
    cfg, group = small_group("cross_entropy", "sgd")
    return group, train_group(group, cfg, "cpu", targets=TARGET).runs


def test_the_comparison_passes_the_same_table_and_a_rounding_difference(cpu_runs):
    group, runs = cpu_runs
    assert device_disagreements(runs, runs.copy(), group.steps) == []
    nudged = runs.assign(final_train_loss=runs["final_train_loss"] * (1 + RTOL / 10))
    assert device_disagreements(runs, nudged, group.steps) == []


def test_the_init_comparison_catches_a_device_draw_a_bit_and_a_swap():
    """``init_disagreements``, which the CUDA init test asks, passes the host's own draw and catches what a
    device could get wrong: a draw from the device's generator (another stream), one bit of one run, two
    runs swapped."""
    from experiments.convergence.models import init_engine_weights

    sizes, seeds = [12, 9, 4], [3, 8, 3, 5, 8, 3]
    assert init_disagreements(init_engine_weights(sizes, seeds), sizes, seeds) == []
    g = torch.Generator().manual_seed(3)            # what drawing on the device would give: another stream
    other = [(torch.rand(w.shape, generator=g) * 2 - 1) / w.shape[2] ** 0.5 for w in init_engine_weights(sizes, seeds)]
    assert len(init_disagreements(other, sizes, seeds)) == 2 * len(seeds)
    bit = init_engine_weights(sizes, seeds)
    bit[1].view(torch.int32)[4, 2, 1] ^= 1
    assert init_disagreements(bit, sizes, seeds) == ["layer 2, run 4 (seed 8)"]
    swapped = [w[[0, 1, 2, 4, 3, 5]] for w in init_engine_weights(sizes, seeds)]
    want = [f"layer {n}, run {k} (seed {seeds[k]})" for n in (1, 2) for k in (3, 4)]
    assert init_disagreements(swapped, sizes, seeds) == want


def test_the_comparison_catches_a_status_a_step_and_a_loss(cpu_runs):
    group, runs = cpu_runs
    reached = runs.index[runs["steps_to_target"].notna()]
    assert len(reached) and len(runs) >= 3
    other = runs.copy()
    other.loc[runs.index[0], "status"] = "nonfinite"
    checks = target_schedule(group.steps).tolist()
    i = reached[-1]
    other.loc[i, "steps_to_target"] = checks[min(len(checks) - 1, checks.index(runs.loc[i, "steps_to_target"]) + 2)]
    j = runs.index[1]
    other.loc[j, "final_train_loss"] = runs.loc[j, "final_train_loss"] * (1 + 10 * RTOL)
    found = device_disagreements(runs, other, group.steps)
    assert any("status" in f for f in found) and any("steps to target" in f for f in found)
    assert any("final train loss" in f for f in found)
    assert device_disagreements(runs, runs.iloc[1:], group.steps)          # a run missing
