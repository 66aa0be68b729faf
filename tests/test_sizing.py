"""Chunks and evaluation blocks sized from a device's total memory and the shapes (sizing), tested
against simulated device memories: deterministic, within the memory they claim, and used as planned."""
import dataclasses
import gc

import host_memory
import pytest
import torch

from experiments.config import validate_config
from experiments.convergence import engine, sizing, training
from experiments.convergence.data import load_dataset
from experiments.sweep import groups_from_config

GIB = 1 << 30
CLUSTER = [784, 512, 256, 10]       # the cluster config's MNIST shape (issue 23's measurement)


def test_cpu_sizes_are_the_measured_constants():
    assert sizing.eval_block_bytes(None) == 16 << 20
    assert sizing.stack_chunk_size("auto", CLUSTER, 128, None) == sizing.CPU_STACK == 128
    assert sizing.stack_chunk_size(5, CLUSTER, 128, 80 * GIB) == 5          # an integer is used as is


@pytest.mark.parametrize("total, block", [(4 * GIB, 256 << 20), (16 * GIB, 512 << 20), (40 * GIB, 1280 << 20),
                                          (80 * GIB, 2 * GIB), (141 * GIB, 2 * GIB)])
def test_cuda_block_is_a_32nd_of_memory_within_bounds(total, block):
    assert sizing.eval_block_bytes(total) == block


@pytest.mark.parametrize("total", [8 * GIB, 16 * GIB, 80 * GIB, 141 * GIB])
@pytest.mark.parametrize("sizes, batch", [(CLUSTER, 128), ([3072, 512, 256, 10], 128), ([64, 64, 10], 64),
                                          ([40, 64, 64, 64, 64, 64, 10], 64)])
def test_cuda_chunk_fits_its_memory_and_leaves_full_blocks(total, sizes, batch):
    """The chunk is the largest that (a) fits half the memory beside two evaluation blocks and (b) leaves
    the block at least MIN_EVAL_EXAMPLES examples, unless MAX_STACK binds; the same every call."""
    k = sizing.stack_chunk_size("auto", sizes, batch, total, 10000, 10000, 1 << 28)
    assert k == sizing.stack_chunk_size("auto", sizes, batch, total, 10000, 10000, 1 << 28)   # no free-memory input
    block = sizing.eval_block_bytes(total)

    def fits(n):
        return (n * sizing.run_bytes(sizes, batch, 10000, 10000) + 2 * block + (1 << 28) <= total // 2
                and sizing.examples_per_block(block, n, sizes) >= sizing.MIN_EVAL_EXAMPLES)
    assert 1 <= k <= sizing.MAX_STACK and fits(k)
    assert k == sizing.MAX_STACK or not fits(k + 1)


def test_cluster_shape_on_an_h200_gets_hundreds_of_examples_per_block():
    """Issue 23: 16 MiB gave 1-4 examples per block at cluster stack sizes (1,024 runs of 784-512-256-10).
    With every buffer of a block counted (8,468 bytes per run and example), the 2 GiB block binds at 990 runs."""
    assert sizing.example_bytes(CLUSTER) == 4 * ((512 + 256 + 10) + (513 + 257) + 512 + (5 * 10 + 7)) == 8468
    assert sizing.examples_per_block(16 << 20, 1024, CLUSTER) == 1
    k = sizing.stack_chunk_size("auto", CLUSTER, 128, 141 * GIB)
    assert k == 990 and sizing.examples_per_block(sizing.eval_block_bytes(141 * GIB), k, CLUSTER) >= 256


def test_run_bytes_counts_parameters_activations_and_test_outputs():
    # [2, 3, 4]: P = 3*3 + 4*4 = 25; h = 4 + 5 = 9; an input row of 2 + 1; C = 4
    assert sizing.run_bytes([2, 3, 4], 10) == 4 * (7 * 25 + 4 * 10 * 9 + 2 * 10 * 3 + 4 * 10 * 4)
    assert sizing.run_bytes([2, 3, 4], 10, n_val=7, n_test=5) == sizing.run_bytes([2, 3, 4], 10) + 4 * (3 * 7 * 4 + 6 * 5)


def test_data_on_the_device_comes_out_of_the_chunk():
    total = 16 * GIB
    plain = sizing.stack_chunk_size("auto", [3072, 512, 256, 10], 128, total, 12500, 10000)
    with_data = sizing.stack_chunk_size("auto", [3072, 512, 256, 10], 128, total, 12500, 10000, data_bytes=2 * GIB)
    assert with_data < plain
    assert with_data * sizing.run_bytes([3072, 512, 256, 10], 128, 12500, 10000) + 2 * GIB \
        + 2 * sizing.eval_block_bytes(total) <= total // 2


@pytest.fixture(scope="module")
def digits():
    cfg = validate_config({"convergence": {"datasets": ["digits"], "losses": ["cross_entropy"], "steps": 12,
                                           "activations": ["relu"], "optimizers": ["sgd"], "log_points": 3,
                                           "logit_scales": [1.0], "learn_logit_scale": [False],
                                           "learning_rates": {"sgd": [0.1]}, "tuning_seeds": [0, 1, 2],
                                           "eval_seeds": [9]}})
    (group,) = groups_from_config(cfg, "tune").values()
    return cfg, group


def test_group_plan_on_a_simulated_gpu_is_what_train_group_uses(digits, monkeypatch):
    """On a (simulated) 80 GiB CUDA device the plan comes from total memory alone; train_group asks
    the same function, so the job.json record is what trained (the simulated memory's sizes, run on the CPU)."""
    cfg, group = digits
    ds = load_dataset("digits", cfg)
    monkeypatch.setattr(sizing, "device_memory", lambda device: 80 * GIB)
    plan = training.group_plan(group, ds, torch.device("cuda"), "auto")
    assert plan["device_memory_bytes"] == 80 * GIB and plan["eval_block_bytes"] == 2 * GIB
    data = 4 * 65 * (2 * len(ds.y_train) + len(ds.y_train) + len(ds.y_val) + len(ds.y_test))
    assert plan["runs_per_chunk"] == {"64": sizing.stack_chunk_size("auto", [64, 64, 10], 64, 80 * GIB, len(ds.y_val),
                                                                     len(ds.y_test), data)}
    assert plan["train_metric_examples"] == len(ds.y_train)
    # per run: 4 logged steps x (train + val) forward passes, and the 9 other target checks (steps 0-12, every
    # one a check; 0, 1, 3, 12 logged) x val, over 12 steps x 64 examples x a training step
    fwd = 2 * (65 * 64 + 65 * 10)
    step = 2 * fwd + 2 * 64 * 10
    assert training.log_schedule(12, 3).tolist() == [0, 1, 3, 12] and training.target_schedule(12).tolist() == list(range(13))
    checks = 9 * len(ds.y_val) * fwd / (12 * 64 * step)
    want = 4 * (len(ds.y_train) + len(ds.y_val)) * fwd / (12 * 64 * step) + checks
    assert plan["eval_to_train_flops"]["64"] == pytest.approx(want, abs=1e-3)
    assert plan["check_to_train_flops"]["64"] == pytest.approx(checks, abs=1e-3)
    k, n_val = plan["runs_per_chunk"]["64"], len(ds.y_val)          # all runs in one evaluation: 1.1 ms < 2 syncs
    assert k * n_val * fwd / training.EVAL_FLOP_RATE < 2 * training.SYNC_SECONDS["cuda"] and plan["target_checks"] == {"64": "all"}
    assert training.group_plan(group, ds, torch.device("cuda"), "auto", checks=False)["check_to_train_flops"] == {"64": 0}

    seen = []
    real = training.train_chunk
    monkeypatch.setattr(training, "train_chunk", lambda g, members, *a, **k: seen.append(
        (len(members), k["eval_block_bytes"])) or real(g, members, *a, **k))
    monkeypatch.setattr(sizing, "stack_chunk_size", lambda *a: 2)            # small chunks, to see them
    training.train_group(group, cfg, "cpu")
    assert seen == [(2, 2 * GIB), (1, 2 * GIB)]        # 3 runs in chunks of 2, blocks of the simulated memory


def test_evaluation_streams_blocks_of_the_given_budget(monkeypatch):
    """StackedMLP.evaluate runs ceil(N / examples_per_block) forward passes of the budget it was given."""
    from experiments.convergence.models import init_engine_weights

    sizes, K = [6, 5, 4], 3
    net = engine.StackedMLP(init_engine_weights(sizes, [0, 1, 2]), torch.zeros(K), torch.zeros(K, dtype=torch.bool),
                            torch.ones(K), ["relu"] * K, ["sgd"] * K, [0, 1, 2], shared=False,
                            eval_block_bytes=K * sizing.example_bytes(sizes) * 9)     # 9 examples
    calls = []
    real = net.forward
    monkeypatch.setattr(net, "forward", lambda x, **kw: calls.append(x.shape[0]) or real(x, **kw))
    x = engine.augment(torch.randn(40, 6))
    net.evaluate(x, torch.randint(0, 4, (40,)))
    assert calls == [9, 9, 9, 9, 4]


def test_train_metrics_on_a_subsample(digits):
    """train_metric_examples: the training metrics come from a fixed, seeded subsample (the same on every
    call, ascending, inside the split); training and the validation metrics are untouched."""
    cfg, group = digits
    n = len(load_dataset("digits", cfg).y_train)
    rows = training.train_metric_rows(n, 300, cfg["seed"], "digits")
    assert torch.equal(rows, training.train_metric_rows(n, 300, cfg["seed"], "digits"))
    assert len(rows) == 300 == len(set(rows.tolist())) and bool((rows.diff() > 0).all()) and rows.max() < n
    assert not torch.equal(rows, training.train_metric_rows(n, 300, cfg["seed"] + 1, "digits"))
    assert training.train_metric_rows(n, n, 0, "digits") is None and training.train_metric_rows(n, None, 0, "d") is None

    full = training.train_group(group, cfg).curves
    sub_group = dataclasses.replace(group, train_metric_examples=300)
    sub = training.train_group(sub_group, cfg).curves
    assert (sub["val_acc"].to_numpy() == full["val_acc"].to_numpy()).all()   # the same training
    assert not (sub["train_loss"].to_numpy() == full["train_loss"].to_numpy()).all()
    # step 0 on the subsample, by hand: each run's initial model on those 300 rows
    from experiments.convergence.losses import LOSSES
    from experiments.convergence.models import forward, init_params
    ds = load_dataset("digits", cfg)
    x, y = torch.as_tensor(ds.x_train)[rows], torch.as_tensor(ds.y_train)[rows]
    for run in group.stacks[0].runs:
        with torch.no_grad():
            z, _ = forward(init_params([64, 64, 10], [run.torch_seed]), x, "relu", torch.tensor([1.0]))
        got = sub[(sub["seed"] == run.seed) & (sub["step"] == 0)]
        assert float(got["train_loss"].iloc[0]) == pytest.approx(float(LOSSES["cross_entropy"](z[0], y).mean()), rel=1e-5)
        assert float(got["train_acc"].iloc[0]) == pytest.approx(float((z[0].argmax(1) == y).float().mean()))


# ---- the evaluation block's estimate against what StackedMLP.evaluate allocates (CPU) -----------------------
needs_mallinfo = pytest.mark.skipif(not host_memory.available(), reason="needs glibc's mallinfo2 (Linux, glibc >= 2.33)")
RUNS, BLOCK = 8, 2000             # runs and examples per block of the measured stacks


def block_net(sizes: list[int], activation: str = "relu") -> engine.StackedMLP:
    """A forward-only stack of RUNS runs whose evaluation blocks hold BLOCK examples by the estimate."""
    from experiments.convergence.models import init_engine_weights

    return engine.StackedMLP(init_engine_weights(sizes, list(range(RUNS))), torch.zeros(RUNS),
                             torch.zeros(RUNS, dtype=torch.bool), torch.ones(RUNS), [activation] * RUNS,
                             ["sgd"] * RUNS, [0] * RUNS, shared=False, trains=False,
                             eval_block_bytes=RUNS * sizing.example_bytes(sizes) * BLOCK)


def measured(sizes: list[int], activation: str = "relu", blocks: int = 2, call: str = "evaluate", **kwargs) -> float:
    """Bytes per run and example of a block: the peak rise of host memory during one ``evaluate`` (or
    ``forward`` of one block) of a fresh stack over ``blocks`` blocks, its work buffers included, over
    RUNS x BLOCK. Least of two calls after a warm-up: the first large GEMM of a process makes MKL's own
    buffers once."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = engine.augment(torch.randn(blocks * BLOCK, sizes[0], generator=g))
    y = torch.randint(0, sizes[-1], (blocks * BLOCK,), generator=g)
    try:
        def once():
            net = block_net(sizes, activation)
            return host_memory.peak_bytes(net.forward, x[:BLOCK]) if call == "forward" else \
                host_memory.peak_bytes(net.evaluate, x, y, **kwargs)
        once()
        gc.collect()
        return min(once()[0] for _ in range(3)) / (RUNS * BLOCK)
    finally:
        torch.set_num_threads(threads)


def logit_phases(classes: int) -> dict[str, dict]:
    """Every way evaluate works on the logits: argmax alone, each loss with its stuck test, each test-stage
    predictive distribution (the calibration sums)."""
    from experiments.convergence.losses import LOSSES, PREDICTIVE_LOG_PROBS, get_loss_grad, stuck_outputs

    return {"argmax": {}, **{loss: dict(loss_grad=get_loss_grad(loss), stuck=stuck_outputs(loss)) for loss in LOSSES},
            **{f"calibration, {name}": dict(log_probs=fn) for name, fn in PREDICTIVE_LOG_PROBS.items()}}


@needs_mallinfo
@pytest.mark.parametrize("sizes", [[20, 64, 32, 10], [20, 10], [20, 48, 48, 48, 7]])
def test_activation_term_is_the_forward_buffers(sizes):
    """A block's forward pass allocates its pre-activations and [h; 1] buffers, no more and no less."""
    want = 4 * sizing.block_floats(sizes)["activations"]
    assert measured(sizes, call="forward") == pytest.approx(want, rel=0.01)


@needs_mallinfo
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("sizes", [[20, 64, 32, 10], [20, 32, 64, 10]])
def test_saturation_term_is_one_scratch_of_the_widest_layer(sizes, activation):
    """Counting saturated units holds one scratch of the widest hidden layer, kept from block to block
    (three blocks), beside everything else: the difference saturation makes is the term."""
    from experiments.convergence.losses import get_loss_grad

    kw = dict(loss_grad=get_loss_grad("cross_entropy"), blocks=3)
    extra = measured(sizes, activation, saturation=True, **kw) - measured(sizes, activation, **kw)
    assert extra == pytest.approx(4 * sizing.block_floats(sizes)["saturation"], rel=0.05)


@pytest.mark.slow            # 5-6 s a case on a loaded 2-core machine (CI, 2026-12-05)
@needs_mallinfo
@pytest.mark.parametrize("classes", [4, 10, 40])
def test_logit_term_covers_the_worst_phase_on_the_logits(classes):
    """Beyond the activation buffers, each way of working on the logits (argmax's z + mask, every loss with
    its gradient's temporaries and the stuck test's masks, the calibration sums) stays within the logit
    term, and the worst of them fills at least 80% of it (the term is not slack)."""
    sizes = [20, 64, 32, classes]
    activations, term = (4 * sizing.block_floats(sizes)[k] for k in ("activations", "logits"))
    extra = {name: measured(sizes, **kw) - activations for name, kw in logit_phases(classes).items()}
    assert max(extra.values()) <= term, extra
    assert max(extra.values()) >= 0.8 * term, extra
    assert extra["argmax"] >= 4 * (classes + 3)                 # z + mask: C floats, beside 3 (K, n) vectors


@needs_mallinfo
@pytest.mark.parametrize("loss", ["cross_entropy", "mse_softmax"])
def test_a_block_of_the_training_metrics_fits_its_budget(loss):
    """The heaviest evaluation, the training metrics of sigmoid runs (loss, stuck test, saturation), over
    three blocks of a budget: its peak is within the budget and fills at least 75% of it."""
    from experiments.convergence.losses import get_loss_grad, stuck_outputs

    sizes = [30, 64, 48, 10]
    got = measured(sizes, "sigmoid", blocks=3, loss_grad=get_loss_grad(loss), stuck=stuck_outputs(loss),
                   saturation=True)
    assert 0.75 * sizing.example_bytes(sizes) <= got <= sizing.example_bytes(sizes)


@needs_mallinfo
def test_a_check_of_the_runs_still_waiting_holds_their_weights_and_a_block_of_their_own():
    """A target check that evaluates only the runs still waiting (``StackedMLP.subset``) copies their weights
    and streams a block of their own, beside the chunk's (``run_bytes`` counts the copy, ``stack_chunk_size``
    two blocks): its peak is at least the copy and the block's activation buffers, at most the copy and
    a budget."""
    sizes = [400, 64, 32, 10]
    net = block_net(sizes)
    g = torch.Generator().manual_seed(1)
    x = engine.augment(torch.randn(2 * BLOCK, sizes[0], generator=g))
    y = torch.randint(0, sizes[-1], (2 * BLOCK,), generator=g)
    net.evaluate(x, y)                                                  # the chunk's own block, kept
    waiting = torch.arange(0, RUNS, 2)
    check = lambda: net.subset(waiting).evaluate(x, y)                  # noqa: E731
    check()
    gc.collect()
    peak = min(host_memory.peak_bytes(check)[0] for _ in range(3))
    copy = 4 * len(waiting) * sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    block = len(waiting) * 2 * BLOCK * 4 * sizing.block_floats(sizes)["activations"]   # the subset's one block
    assert copy + block <= peak <= copy + net.eval_block_bytes
