import math

import pytest

from experiments.gradients import gradient_at, logit_gradients


def test_sigmoid_mse_gradient_matches_closed_form_and_vanishes():
    t = logit_gradients(num_classes=10)
    for z in [-10.0, -2.0, 0.0, 3.0]:
        s = 1 / (1 + math.exp(-z))
        assert gradient_at(t, "mse_sigmoid", z) == pytest.approx(2 / 10 * (s - 1) * s * (1 - s), rel=1e-9)
    # confidently wrong (z_y = -10): sigmoid+MSE has almost no gradient, cross-entropy nearly -1
    assert abs(gradient_at(t, "mse_sigmoid", -10.0)) < 1e-5
    p = math.exp(-10) / (math.exp(-10) + 9)
    assert gradient_at(t, "cross_entropy", -10.0) == pytest.approx(p - 1, rel=1e-9)
