import math

import pytest

from experiments.convergence.gradients import gradient_at, logit_gradients


def test_sigmoid_mse_gradient_matches_closed_form_and_vanishes():
    t = logit_gradients(num_classes=10)
    for z in [-10.0, -2.0, 0.0, 3.0]:
        s = 1 / (1 + math.exp(-z))
        assert gradient_at(t, "mse_sigmoid", z) == pytest.approx(2 / 10 * (s - 1) * s * (1 - s), rel=1e-9)
    # confidently wrong (z_y = -10): sigmoid+MSE has almost no gradient, cross-entropy nearly -1
    assert abs(gradient_at(t, "mse_sigmoid", -10.0)) < 1e-5
    p = math.exp(-10) / (math.exp(-10) + 9)
    assert gradient_at(t, "cross_entropy", -10.0) == pytest.approx(p - 1, rel=1e-9)


@pytest.mark.parametrize("name,want", [
    # at z = 0: p = 1/C, s = 1/2; each entry of dl/dz derived by hand, then the norm
    ("cross_entropy", lambda C: math.sqrt((1 - 1 / C) ** 2 + (C - 1) / C ** 2)),       # p - t
    ("mse_sigmoid", lambda C: math.sqrt(C) * (2 / C) * 0.5 * 0.25),                   # (2/C)(s - t)s(1 - s)
    ("bce_ovr", lambda C: math.sqrt(C) * 0.5 / C),                                     # (s - t)/C
    ("mse_logits", lambda C: 2 / C),                                                   # (2/C)(z - t)
    ("hinge", lambda C: math.sqrt((C - 1) / C ** 2 + ((C - 1) / C) ** 2)),             # margins all 1 > 0
    # mse_softmax: d = p - t sums to 0, so the softmax Jacobian's correction vanishes: g = (2/C) p d
    ("mse_softmax", lambda C: math.sqrt((2 / C ** 2 * (1 / C - 1)) ** 2 + (C - 1) * (2 / C ** 3) ** 2)),
])
@pytest.mark.parametrize("C", [2, 10])
def test_gradient_scale_at_zero_by_hand(name, want, C):
    from experiments.convergence.gradients import grad_norm_at_zero

    assert grad_norm_at_zero(name, C) == pytest.approx(want(C), rel=1e-12)
