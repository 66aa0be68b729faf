"""The hand-written engine against autograd and torch's own optimisers, kernel by kernel."""
import math

import pytest
import torch

from experiments.convergence import engine, sizing
from experiments.convergence.activations import ACTIVATION_GRADS, ACTIVATIONS, Saturation, saturated_fraction
from experiments.convergence.engine import StackedMLP, augment, correct, engine_weights, ranges
from experiments.convergence.losses import LOSSES, get_loss, get_loss_grad
from experiments.convergence.models import forward, init_params


def _net(sizes, seeds, activations, optimizers, lr=0.0, scale=2.0, learn=True, dtype=torch.float64,
         data_groups=None, shared=False):
    K = len(seeds)
    params = init_params(sizes, seeds, dtype=dtype)
    net = StackedMLP(engine_weights(params), log_scale=torch.full((K,), scale, dtype=dtype).log(),
                     learn=torch.full((K,), learn), lr=torch.full((K,), lr, dtype=dtype),
                     activations=activations, optimizers=optimizers,
                     data_groups=data_groups or [0] * K, shared=shared)
    return net, params


def test_ranges():
    assert ranges(["a", "a", "b", "a"]) == [(0, 2, "a"), (2, 3, "b"), (3, 4, "a")]
    assert ranges([]) == []


@pytest.mark.parametrize("loss", ["cross_entropy", "mse_sigmoid", "hinge", "focal"])
def test_step_gradients_equal_autograd(loss):
    """One engine step's gradients (weights, biases, log scale) equal autograd's on models.forward, for
    a two-hidden-layer stack whose runs have different activations, in float64."""
    sizes, acts = [7, 6, 5, 4], ["sigmoid", "sigmoid", "tanh", "relu", "gelu", "identity"]
    K, B = len(acts), 9
    net, params = _net(sizes, list(range(K)), acts, ["sgd"] * K)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(K, B, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (K, B), generator=g)
    net.step(augment(x.reshape(-1, sizes[0])).view(K, B, -1), y, get_loss_grad(loss), torch.ones(K, dtype=torch.bool))

    log_s = torch.full((K,), 2.0, dtype=torch.float64).log().requires_grad_()
    want = []
    for k, act in enumerate(acts):        # each run by itself, through autograd
        p = [t[k:k + 1].detach().clone().requires_grad_() for t in params]
        z, _ = forward(p, x[k:k + 1], act, log_s[k:k + 1].exp())
        total = LOSSES[loss](z, y[k:k + 1]).mean()
        want.append(torch.autograd.grad(total, p + [log_s]))
    for layer, grad in enumerate(net.grads):
        for k in range(K):
            w_grad, b_grad = want[k][2 * layer], want[k][2 * layer + 1]       # (1, n_in, n_out), (1, 1, n_out)
            torch.testing.assert_close(grad[k, :, :-1], w_grad[0].T)
            torch.testing.assert_close(grad[k, :, -1], b_grad[0, 0])
    torch.testing.assert_close(net.grad_log_scale, torch.stack([w[-1][k] for k, w in enumerate(want)]))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_updates_equal_torch_optim(optimizer):
    """Ten steps of the engine's SGD / Adam (per-run rates, a mixed stack) equal torch.optim.SGD / Adam
    run on each run's parameters with the same gradients."""
    sizes, K = [5, 4, 3], 4
    opts = [optimizer, optimizer, "sgd" if optimizer == "adam" else "adam", optimizer]
    opts = sorted(opts)                                  # the engine wants ranges: sorted, as training does
    net, _ = _net(sizes, list(range(K)), ["tanh"] * K, opts, learn=True)
    lrs = torch.tensor([0.1, 0.03, 0.01, 0.3], dtype=torch.float64)
    net.lr = lrs.clone()
    refs = []
    for k in range(K):
        p = [w[k].detach().clone().requires_grad_() for w in net.W] + [net.log_scale[k:k + 1].detach().clone().requires_grad_()]
        cls = torch.optim.Adam if opts[k] == "adam" else torch.optim.SGD
        refs.append((p, cls(p, lr=float(lrs[k]))))
    g = torch.Generator().manual_seed(1)
    for _ in range(10):
        x = torch.randn(K, 6, sizes[0], generator=g, dtype=torch.float64)
        y = torch.randint(0, sizes[-1], (K, 6), generator=g)
        net.step(augment(x.reshape(-1, sizes[0])).view(K, 6, -1), y, get_loss_grad("cross_entropy"),
                 torch.ones(K, dtype=torch.bool))
        grads = [*net.grads, net.grad_log_scale]
        for k, (p, opt) in enumerate(refs):
            for t, gr in zip(p, grads):
                t.grad = gr[k:k + 1].reshape(t.shape).clone()
            opt.step()
    for k, (p, _) in enumerate(refs):
        for t, w in zip(p, [*net.W, net.log_scale]):
            torch.testing.assert_close(w[k:k + 1].reshape(t.shape), t.detach(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("broken", ["inf input", "nan input", "huge scale"])
@pytest.mark.parametrize("alive", [True, False])
def test_a_frozen_run_is_not_updated(optimizer, broken, alive):
    """A run whose gradient is not finite (an inf or NaN input; a logit scale whose logits overflow float32),
    whether still marked alive (its finite flag freezes it) or not: every bit of its weights and log scale
    stays (0 x inf would be NaN); the live run beside it takes the step it takes alone."""
    K, B, sizes = 2, 6, [5, 4, 3]
    net, _ = _net(sizes, [0, 1], ["relu"] * K, [optimizer] * K, lr=0.1, dtype=torch.float32)
    alone, _ = _net(sizes, [0], ["relu"], [optimizer], lr=0.1, dtype=torch.float32)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(K, B, sizes[0], generator=g)
    if broken == "huge scale":
        net.log_scale[1] = math.log(1e39)                      # s = exp(log s) overflows float32: inf logits
    else:
        x[1, 2, 3] = float("inf") if broken == "inf input" else float("nan")
    x = augment(x.reshape(-1, sizes[0])).view(K, B, -1)
    y = torch.randint(0, sizes[-1], (K, B), generator=g)
    before = [t.clone() for t in [*net.W, net.log_scale]]
    _, finite = net.step(x, y, get_loss_grad("cross_entropy"), torch.tensor([True, alive]))
    assert finite.tolist() == [True, False]
    assert not all(torch.isfinite(gr[1]).all() for gr in [*net.grads, net.grad_log_scale.view(K, 1)])  # the case
    for t, b in zip([*net.W, net.log_scale], before):
        assert torch.equal(t[1].view(torch.int32), b[1].view(torch.int32))              # every bit, NaN-safe
    alone.step(x[:1], y[:1], get_loss_grad("cross_entropy"), torch.tensor([True]))
    for t, a in zip([*net.W, net.log_scale], [*alone.W, alone.log_scale]):
        torch.testing.assert_close(t[:1], a)
    assert not torch.equal(net.W[0][0], before[0][0])                                   # the live run moved


def test_a_captured_step_may_move_none_of_its_buffers():
    """Once ``frozen`` (a CUDA graph replays the step on the addresses it recorded), every work buffer the
    step used, forward and backward alike (the da, dh and W^T copies too), refuses to grow; the step on the
    same shapes still runs, and evaluation's own buffers may still grow."""
    K, B, sizes = 3, 4, [5, 6, 4, 3]
    net, _ = _net(sizes, [0, 1, 2], ["tanh"] * K, ["sgd"] * K, lr=0.1)
    g = torch.Generator().manual_seed(6)
    x = augment(torch.randn(K * B, sizes[0], generator=g, dtype=torch.float64)).view(K, B, -1)
    y = torch.randint(0, sizes[-1], (K, B), generator=g)
    step = lambda: net.step(x, y, get_loss_grad("cross_entropy"), torch.ones(K, dtype=torch.bool))  # noqa: E731
    step()
    used = dict(net._storage)                                         # name -> flat storage: the step's
    assert {name.rstrip("0123456789") for name in used} == {f"train/{b}" for b in ("pre", "h", "da", "dh", "wt")}
    net.frozen = True
    step()
    for name, flat in used.items():
        with pytest.raises(RuntimeError, match=f"work buffer {name} would move"):
            net._buffer(name, flat.numel() // K + 1, 1)
        assert net._storage[name] is flat
    x_eval = augment(torch.randn(50, sizes[0], generator=g, dtype=torch.float64))
    net.evaluate(x_eval, torch.zeros(50, dtype=torch.long))
    assert {name for name in net._storage if name not in used} == {f"eval/{b}" for b in ("pre0", "h0", "pre1", "h1", "pre2")}


def test_evaluations_between_steps_change_nothing(monkeypatch):
    """The work buffers are views of one storage per name, shared by minibatches and evaluation blocks
    of every size: steps interleaved with evaluations (blocks larger and smaller than the minibatch, a
    ragged last block) give the same weights as the steps alone, and the [h; 1] ones rows survive."""
    K, B, sizes = 4, 6, [5, 7, 4, 3]
    acts = ["relu", "sigmoid", "tanh", "tanh"]
    a, _ = _net(sizes, list(range(K)), acts, ["sgd"] * 2 + ["adam"] * 2, lr=0.05)
    b, _ = _net(sizes, list(range(K)), acts, ["sgd"] * 2 + ["adam"] * 2, lr=0.05)
    per_example = K * sizing.example_bytes(sizes)                           # a block's bytes per example
    g = torch.Generator().manual_seed(4)
    x_eval = augment(torch.randn(23, 5, generator=g, dtype=torch.float64))
    y_eval = torch.randint(0, 3, (23,), generator=g)
    for i in range(4):
        x = augment(torch.randn(K * B, 5, generator=g, dtype=torch.float64)).view(K, B, -1)
        y = torch.randint(0, 3, (K, B), generator=g)
        a.step(x, y, get_loss_grad("cross_entropy"), torch.ones(K, dtype=torch.bool))
        b.eval_block_bytes = per_example * (10 if i % 2 else 3)             # blocks of 10 or 3 examples
        whole = b.evaluate(x_eval, y_eval, get_loss_grad("cross_entropy"), saturation=True)
        b.step(x, y, get_loss_grad("cross_entropy"), torch.ones(K, dtype=torch.bool))
        assert all(bool((h[:, -1] == 1).all()) for h in b.forward(x, buffers="train")[2])
    for wa, wb in zip(a.W, b.W):
        assert torch.equal(wa, wb)
    b.eval_block_bytes = None                                               # one block of all 23
    torch.testing.assert_close(b.evaluate(x_eval, y_eval)["acc"], a.evaluate(x_eval, y_eval)["acc"])
    assert whole["acc"].shape == (K,)


def test_shared_first_layer_equals_per_run_inputs():
    """Runs of one data order sharing first-layer GEMMs give what per-run inputs give."""
    K, B = 6, 8
    groups = [0, 0, 0, 1, 1, 1]
    a, _ = _net([9, 5, 3], list(range(K)), ["sigmoid"] * K, ["adam"] * K, lr=0.05, data_groups=groups)
    b, _ = _net([9, 5, 3], list(range(K)), ["sigmoid"] * K, ["adam"] * K, lr=0.05, data_groups=groups, shared=True)
    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        xs = [augment(torch.randn(B, 9, generator=g, dtype=torch.float64)) for _ in range(2)]
        ys = torch.randint(0, 3, (2, B), generator=g)
        y = ys[groups]
        a.step(torch.stack([xs[i] for i in groups]), y, get_loss_grad("cross_entropy"), torch.ones(K, dtype=torch.bool))
        b.step(xs, y, get_loss_grad("cross_entropy"), torch.ones(K, dtype=torch.bool))
    for wa, wb in zip(a.W, b.W):
        torch.testing.assert_close(wa, wb)


def test_evaluate_in_blocks_equals_one_block(monkeypatch):
    """Metrics over a full set are the same whether it is evaluated in blocks of 7 examples or at once."""
    acts = ["sigmoid", "tanh", "relu", "relu"]
    net, params = _net([6, 5, 4], [0, 1, 2, 3], acts, ["sgd"] * 4)
    g = torch.Generator().manual_seed(3)
    x = augment(torch.randn(50, 6, generator=g, dtype=torch.float64) * 3)
    y = torch.randint(0, 4, (50,), generator=g)
    whole = net.evaluate(x, y, get_loss_grad("mse_softmax"), saturation=True)
    monkeypatch.setattr(engine, "EVAL_BLOCK_BYTES", 7 * 4 * sizing.example_bytes([6, 5, 4]))   # 7 examples per block
    blocks = net.evaluate(x, y, get_loss_grad("mse_softmax"), saturation=True)
    for key in whole:
        torch.testing.assert_close(blocks[key], whole[key].to(blocks[key].dtype))
    # and against the definitions: autograd for the logit gradient, saturated_fraction on the hidden outputs
    z, hidden = forward(params, x[:, :-1].expand(4, -1, -1), "relu", torch.full((4,), 2.0, dtype=torch.float64))
    for k, act in enumerate(acts):
        zk, hk = forward([p[k:k + 1] for p in params], x[None, :, :-1], act, torch.tensor([2.0], dtype=torch.float64))
        zk = zk.detach().requires_grad_()
        per_ex = get_loss("mse_softmax")(zk, y[None])
        (gz,) = torch.autograd.grad(per_ex.sum(), zk)
        torch.testing.assert_close(whole["loss"][k], per_ex.mean())
        torch.testing.assert_close(whole["grad_norm_logits"][k], gz.norm(dim=-1).mean())
        torch.testing.assert_close(whole["acc"][k], (zk.argmax(-1) == y).double().mean())
        torch.testing.assert_close(whole["saturated_frac"][k], saturated_fraction(act, [h.detach() for h in hk])[0].to(whole["saturated_frac"].dtype))


def test_correct_is_argmax_with_its_tie_rule():
    g = torch.Generator().manual_seed(4)
    z = torch.randint(0, 3, (5, 4, 200), generator=g).float()      # many ties
    y = torch.randint(0, 4, (200,), generator=g)
    assert torch.equal(correct(z, y), z.argmax(1) == y)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients_equal_autograd(name):
    from experiments.convergence.activations import get_activation

    pre = (torch.randn(3, 4, 5, dtype=torch.float64) * 3).requires_grad_()
    h = get_activation(name)(pre)
    dh = torch.randn_like(h)
    (want,) = torch.autograd.grad(h, pre, dh)
    out = torch.empty_like(want)
    ACTIVATION_GRADS[name](dh, pre.detach(), h.detach(), out)
    torch.testing.assert_close(out, want)


def test_saturation_accumulates_like_saturated_fraction():
    h = torch.rand(3, 40, 6) * 1.002 - 0.001          # (K, N, H): some outside [1e-3, 1 - 1e-3]
    for act in ["sigmoid", "relu"]:
        sat = Saturation(act, 3)
        for block in h.split(9, dim=1):
            sat.add(0, block.transpose(1, 2))
        torch.testing.assert_close(sat.fraction(), saturated_fraction(act, [h]))


def test_model_flops_are_counted_by_formula():
    net, _ = _net([7, 6, 4], [0, 1], ["relu"] * 2, ["sgd"] * 2)
    engine.MODEL_FLOPS.clear()
    net.step(augment(torch.randn(10, 7, dtype=torch.float64)).view(2, 5, -1), torch.zeros(2, 5, dtype=torch.long),
             get_loss_grad("cross_entropy"), torch.ones(2, dtype=torch.bool))
    net.evaluate(augment(torch.randn(3, 7, dtype=torch.float64)), torch.zeros(3, dtype=torch.long))
    fwd = 2 * (8 * 6 + 7 * 4)                                  # per example, biases as a ones column
    assert engine.MODEL_FLOPS == {"train": 2 * 5 * (2 * fwd + 2 * 6 * 4), "eval": 2 * 3 * fwd}


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu"])
def test_in_place_activations_equal_the_registry(name):
    from experiments.convergence.activations import ACTIVATIONS_INTO

    pre = torch.tensor([[-3.0, -0.0, 0.0, 2.5, float("nan")]])
    out = torch.empty_like(pre)
    ACTIVATIONS_INTO[name](pre, out)
    torch.testing.assert_close(out, ACTIVATIONS[name](pre), equal_nan=True)


def test_a_subset_of_runs_evaluates_as_in_the_whole_stack():
    acts = ["sigmoid", "sigmoid", "relu", "tanh"]
    net, _ = _net([6, 5, 4], [0, 1, 2, 3], acts, ["sgd", "sgd", "adam", "adam"])
    x = augment(torch.randn(30, 6, dtype=torch.float64))
    y = torch.randint(0, 4, (30,))
    whole = net.evaluate(x, y)["acc"]
    runs = torch.tensor([1, 3])
    part = net.subset(runs)
    assert part.activations == ["sigmoid", "tanh"] and not part.grads
    torch.testing.assert_close(part.evaluate(x, y)["acc"], whole[runs])


def test_weight_grad_norms_equal_autograd():
    """weight_grad_norms: per layer, ||dL/dW|| of the last step (bias left out), as autograd computes it."""
    sizes, acts = [6, 5, 5, 5, 3], ["sigmoid", "relu"]
    K, B = len(acts), 8
    net, params = _net(sizes, [3, 4], acts, ["sgd"] * K)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(K, B, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (K, B), generator=g)
    net.step(augment(x.reshape(-1, sizes[0])).view(K, B, -1), y, get_loss_grad("mse_softmax"),
             torch.ones(K, dtype=torch.bool))
    norms = net.weight_grad_norms()                                   # (L, K)
    assert norms.shape == (len(sizes) - 1, K)
    for k, act in enumerate(acts):
        p = [t[k:k + 1].detach().clone().requires_grad_() for t in params]
        z, _ = forward(p, x[k:k + 1], act, torch.tensor([2.0], dtype=torch.float64))
        grads = torch.autograd.grad(LOSSES["mse_softmax"](z, y[k:k + 1]).mean(), p)
        torch.testing.assert_close(norms[:, k], torch.stack([gw.norm() for gw in grads[0::2]]))


@pytest.mark.parametrize("loss", ["cross_entropy", "bce_ovr"])
def test_evaluate_test_metrics_equal_calibration_of_the_forward_pass(loss, monkeypatch):
    """evaluate(log_probs=...) in small blocks gives each run's calibration_metrics of its own predictive
    distribution (softmax, or normalised sigmoids for one-vs-rest losses) over the whole set."""
    from experiments.convergence.calibration import calibration_metrics
    from experiments.convergence.losses import predictive_log_probs

    monkeypatch.setattr(engine, "EVAL_BLOCK_BYTES", 3 * sizing.example_bytes([6, 5, 4]) * 7)   # blocks of 7 examples
    sizes, acts = [6, 5, 4], ["tanh", "relu", "sigmoid"]
    net, params = _net(sizes, [0, 1, 2], acts, ["sgd"] * 3, scale=3.0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(50, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (50,), generator=g)
    got = net.evaluate(augment(x), y, log_probs=predictive_log_probs(loss))
    for k, act in enumerate(acts):
        z, _ = forward([p[k:k + 1] for p in params], x, act, torch.tensor([3.0], dtype=torch.float64))
        want = calibration_metrics(predictive_log_probs(loss)(z[0].detach()).exp(), y)
        for name in ("nll", "brier", "ece"):
            assert float(got[name][k]) == pytest.approx(want[name])
        assert float(got["acc"][k]) == pytest.approx(want["acc"])


def test_optimizer_registry_equals_schema_enum_and_refuses_others(schema):
    enum = schema["properties"]["convergence"]["properties"]["optimizers"]["items"]["enum"]
    assert list(enum) == list(engine.OPTIMIZERS)
    with pytest.raises(ValueError, match="unknown optimizer"):
        _net([3, 2], [0], ["relu"], ["rmsprop"])


@pytest.mark.parametrize("loss,output", [("mse_sigmoid", "sigmoid"), ("bce_ovr", "sigmoid"),
                                         ("cross_entropy", "softmax"), ("focal", "softmax")])
def test_stuck_wrong_fraction_counts_wrong_answers_whose_output_derivative_vanished(loss, output):
    """The engine's stuck_wrong_frac, per run, equals a count made by hand from models.forward's logits:
    argmax wrong, q_y < 1/2 and q_y (1 - q_y) < 0.1 x 1/4, with q the sigmoid of z_y or softmax(z)_y. Logit scale 8
    spreads the logits so that both kinds of wrong answer (stuck and not) occur."""
    from experiments.convergence.losses import stuck_outputs

    sizes, K, N = [6, 5, 4], 3, 400
    net, params = _net(sizes, [0, 1, 2], ["tanh"] * K, ["sgd"] * K, scale=8.0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (N,), generator=g)
    got = net.evaluate(augment(x), y, get_loss_grad(loss), stuck=stuck_outputs(loss))["stuck_wrong_frac"]
    z, _ = forward(params, x, "tanh", torch.full((K,), 8.0, dtype=torch.float64))      # (K, N, C)
    zy = z.gather(-1, y.expand(K, -1).unsqueeze(-1)).squeeze(-1)
    q = torch.sigmoid(zy) if output == "sigmoid" else torch.softmax(z, -1).gather(-1, y.expand(K, -1).unsqueeze(-1)).squeeze(-1)
    want = ((z.argmax(-1) != y) & (q < 0.5) & (q * (1 - q) < 0.025)).double().mean(1)
    torch.testing.assert_close(got, want)
    assert (want > 0.02).all() and (want < (z.argmax(-1) != y).double().mean(1)).all()   # both kinds present


def test_losses_without_an_output_nonlinearity_have_no_stuck_fraction():
    from experiments.convergence.losses import LOSSES, stuck_outputs

    assert [n for n in LOSSES if stuck_outputs(n) is None] == ["mse_logits", "hinge", "squared_hinge"]


def test_range_kernels_counts_by_hand():
    """2 data ranges x 2 GEMMs (shared) + 3 activation ranges x 2 kernels x 2 hidden layers + 2 optimiser
    ranges x 4 parameter tensors (3 layers and the log scale)."""
    from experiments.convergence.engine import range_kernels

    acts, opts, data = ["relu", "relu", "tanh", "relu"], ["sgd", "sgd", "adam", "adam"], [0, 0, 1, 1]
    assert range_kernels(acts, opts, data, shared=True, layers=3) == 2 * 2 + 3 * 2 * 2 + 2 * 4
    assert range_kernels(acts, opts, data, shared=False, layers=3) == 3 * 2 * 2 + 2 * 4


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("hidden", [(64,), (64, 64, 64, 64, 64)])
def test_run_order_makes_the_fewest_range_kernels(shared, hidden):
    """A chunk of 2 optimisers x 5 activations x 10 data orders: the order is a permutation, never
    launches more than either grouping, and (not shared) makes one range per optimiser and activation."""
    import itertools

    from experiments.convergence.engine import range_kernels
    from experiments.convergence.training import run_order
    from experiments.sweep import Run, Stack

    combos = list(itertools.product(["sgd", "adam"], ["relu", "tanh", "sigmoid", "gelu", "identity"], range(10)))
    members = [(Stack("d", "l", act, hidden, opt, False, ()), Run(1.0, 0.1, seed, 1000 + seed))
               for opt, act, seed in combos[::-1]]                      # given in no helpful order
    order = run_order(members, shared)
    assert sorted(order) == list(range(len(members)))

    def launches(o):
        picked = [members[i] for i in o]
        return range_kernels([s.activation for s, _ in picked], [s.optimizer for s, _ in picked],
                             [r.torch_seed for _, r in picked], shared, len(hidden) + 1)
    data_first = sorted(range(len(members)), key=lambda i: (members[i][1].torch_seed, members[i][0].optimizer,
                                                             members[i][0].activation))
    kernel_first = sorted(range(len(members)), key=lambda i: (members[i][0].optimizer, members[i][0].activation,
                                                               members[i][1].torch_seed))
    assert launches(order) <= min(launches(kernel_first), launches(data_first) if shared else launches(kernel_first))
    if not shared:
        assert len(ranges([members[i][0].activation for i in order])) == 10
    else:   # 100 data ranges against 100 activation ranges x 2 hidden-layer kernels: kernel-first wins
        assert launches(order) == launches(kernel_first) < launches(data_first)
