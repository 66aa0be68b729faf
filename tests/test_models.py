"""The one initialisation: shapes, per-run seeds, nn.Linear's fan-in scaling."""
import math

import pytest
import torch

from experiments.convergence.models import forward, init_params


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
