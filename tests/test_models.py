"""The one initialisation: shapes, per-run seeds, nn.Linear's fan-in scaling."""
import math

import pytest
import torch

from experiments.convergence.engine import engine_weights
from experiments.convergence.models import forward, init_engine_weights, init_params


def test_shapes_and_dtype():
    params = init_params([5, 7, 3], seeds=[0, 1], dtype=torch.float64)
    assert [tuple(p.shape) for p in params] == [(2, 5, 7), (2, 1, 7), (2, 7, 3), (2, 1, 3)]
    assert all(p.dtype == torch.float64 and p.requires_grad for p in params)


def test_each_run_is_its_own_seed_whatever_the_stack():
    alone = init_params([4, 6, 2], seeds=[11])
    stacked = init_params([4, 6, 2], seeds=[3, 11, 5])
    for a, s in zip(alone, stacked):
        torch.testing.assert_close(a[0], s[1])                # run 11 is the same in any stack
    assert not torch.equal(stacked[0][0], stacked[0][2])      # different seeds, different weights


@pytest.mark.parametrize("sizes, seeds", [([3, 2, 2], [0, 7]), ([64, 64, 64, 10], [5, 1, 9, 123456789]),
                                          ([784, 512, 256, 10], [3]), ([20, 16, 10], list(range(40))),
                                          ([20, 16, 10], [7, 2, 7, 7, 9, 2, 0, 9, 7])])
def test_engine_init_is_bitwise_the_autograd_init(sizes, seeds):
    """``init_engine_weights`` (each seed drawn once, written into every run of it in a preallocated float32
    tensor) gives every bit of ``init_params`` (all runs drawn, stacked, then cast), in the engine's layout."""
    direct = init_engine_weights(sizes, seeds)
    via_params = engine_weights(init_params(sizes, seeds))
    assert [tuple(w.shape) for w in direct] == [(len(seeds), b, a + 1) for a, b in zip(sizes[:-1], sizes[1:])]
    for d, v in zip(direct, via_params):
        assert d.dtype == torch.float32 and d.is_contiguous()
        assert torch.equal(d.view(torch.int32), v.view(torch.int32))


def test_engine_init_draws_each_seed_once_and_equals_the_per_run_draw(monkeypatch):
    """A chunk's runs share a few seeds (~20 for ~1,000 runs on a GPU): each distinct seed is drawn once,
    and the weights are bit for bit those of the per-run draw it replaced (each run drawn from its own
    generator and cast into its slice), seeds repeated in any order."""
    from experiments.convergence import models

    sizes, seeds = [12, 9, 7, 4], [(k * 7) % 5 + 100 for k in range(23)]               # 5 seeds, interleaved
    per_run = [torch.empty(len(seeds), b, a + 1) for a, b in zip(sizes[:-1], sizes[1:])]
    for k, seed in enumerate(seeds):                                                    # the former loop
        for W, (w, b) in zip(per_run, models._draw_run(sizes, seed)):
            W[k].copy_(torch.cat([w.t(), b.t()], dim=1).to(torch.float32))
    drawn = []
    real = models._draw_run
    monkeypatch.setattr(models, "_draw_run", lambda sizes, seed: drawn.append(seed) or real(sizes, seed))
    got = init_engine_weights(sizes, seeds)
    assert sorted(drawn) == sorted(set(seeds))
    for g, want in zip(got, per_run):
        assert torch.equal(g.view(torch.int32), want.view(torch.int32))


def test_the_draw_is_the_one_shipped_before():
    """Golden bits of run 0's first layer, [3, 2, 2], as the initialisation drew them before it was
    written run by run (commit e0b6169): a change of draw order or cast would change every result."""
    golden = [1057682177, 1047902879, -1119872313, 1056489396, 1043036796, 1051468010]  # W1 (3, 2), float32 bits
    w1 = init_params([3, 2, 2], [0])[0].detach()[0]
    assert w1.flatten().view(torch.int32).tolist() == golden
    direct = init_engine_weights([3, 2, 2], [0])[0][0, :, :3]                    # (n_out, n_in): W1^T
    assert direct.t().flatten().view(torch.int32).tolist() == golden


def test_fan_in_scaling_matches_nn_linear():
    """Weights and biases are uniform in +-1/sqrt(fan_in), as nn.Linear's default: the bound is reached
    and never passed, and the variance is bound^2 / 3."""
    n_in, n_out = 400, 300
    w, b = init_params([n_in, n_out], seeds=list(range(4)), dtype=torch.float64)
    bound = 1 / math.sqrt(n_in)
    assert w.abs().max() <= bound and w.abs().max() > 0.999 * bound
    assert b.abs().max() <= bound
    assert w.var().item() == pytest.approx(bound ** 2 / 3, rel=0.02)
    ref = torch.nn.Linear(n_in, n_out)                        # the same law (a different stream)
    assert ref.weight.abs().max() <= bound and ref.weight.var().item() == pytest.approx(bound ** 2 / 3, rel=0.05)


def test_forward_applies_the_logit_scale_and_activation():
    params = init_params([3, 4, 2], seeds=[0, 1], dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    z, hidden = forward(params, x, "relu", torch.tensor([1.0, 2.0], dtype=torch.float64))
    h = torch.relu(x @ params[0][1] + params[1][1])
    torch.testing.assert_close(hidden[0][1], h)
    torch.testing.assert_close(z[1], 2.0 * (h @ params[2][1] + params[3][1]))
