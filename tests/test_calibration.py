"""Test-split metrics against values computed by hand and against a plain loop."""
import math

import numpy as np
import pytest
import torch

from experiments.convergence.calibration import BINS, CalibrationSums, calibration_metrics
from experiments.convergence.losses import LOSSES, predictive_log_probs

# four examples, two classes; confidences 0.92, 0.62, 0.65, 0.78 fall in bins 14, 10, 10 and 12 of 15
# (1-based; bin b holds ((b-1)/15, b/15]), none on a bin edge
PROBS = torch.tensor([[0.92, 0.08], [0.62, 0.38], [0.35, 0.65], [0.22, 0.78]], dtype=torch.float64)
Y = torch.tensor([0, 1, 1, 1])


def test_metrics_equal_hand_computed_values():
    m = calibration_metrics(PROBS, Y)
    assert m["acc"] == pytest.approx(3 / 4)                       # only the second is wrong
    assert m["nll"] == pytest.approx(-(math.log(0.92) + math.log(0.38) + math.log(0.65) + math.log(0.78)) / 4)
    # Brier: (0.08^2 + 0.08^2) + (0.62^2 + 0.62^2) + (0.35^2 + 0.35^2) + (0.22^2 + 0.22^2), over 4
    assert m["brier"] == pytest.approx((0.0128 + 0.7688 + 0.245 + 0.0968) / 4)
    # ECE: bin 14 holds one right at 0.92 -> |1 - 0.92| x 1/4; bin 10 one wrong at 0.62 and one right at
    # 0.65 -> |0.5 - 0.635| x 2/4; bin 12 one right at 0.78 -> |1 - 0.78| x 1/4
    assert m["ece"] == pytest.approx(0.08 / 4 + 0.135 / 2 + 0.22 / 4)


def test_brier_sums_over_every_class():
    m = calibration_metrics(torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64), torch.tensor([2]))
    assert m["brier"] == pytest.approx(0.5 ** 2 + 0.3 ** 2 + 0.8 ** 2)
    assert m["ece"] == pytest.approx(0.5)                          # one wrong prediction at confidence 0.5


def test_a_perfectly_calibrated_and_a_perfect_model():
    # confidence 0.7 on each of 10 examples, 7 of them right: calibrated, ECE 0
    p = torch.tensor([[0.7, 0.3]] * 10, dtype=torch.float64)
    y = torch.tensor([0] * 7 + [1] * 3)
    assert calibration_metrics(p, y)["ece"] == pytest.approx(0.0, abs=1e-12)
    onehot = torch.eye(3, dtype=torch.float64)
    perfect = calibration_metrics(onehot, torch.arange(3))
    assert (perfect["acc"], perfect["nll"], perfect["brier"], perfect["ece"]) == (1.0, 0.0, 0.0, 0.0)


def _loop_ece(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """ECE written as the definition reads: bin by confidence, weigh |accuracy - confidence| by size."""
    conf, pred = p.max(1), p.argmax(1)
    total = 0.0
    for b in range(bins):
        inside = (conf > b / bins) & (conf <= (b + 1) / bins)
        if inside.any():
            total += inside.sum() / len(y) * abs((pred[inside] == y[inside]).mean() - conf[inside].mean())
    return total


def test_runs_and_blocks_add_up_to_the_loop():
    """K runs at once, the examples fed in three blocks, equal each run's metrics computed alone."""
    g = torch.Generator().manual_seed(0)
    K, N, C = 3, 200, 10
    logp = torch.log_softmax(3 * torch.randn(K, N, C, generator=g, dtype=torch.float64), -1)
    y = torch.randint(0, C, (N,), generator=g)
    sums = CalibrationSums(K)
    for s in range(0, N, 70):
        sums.add(logp[:, s:s + 70], y[s:s + 70])
    got = sums.result()
    for k in range(K):
        alone = calibration_metrics(logp[k].exp(), y)
        for name, value in alone.items():
            assert float(got[name][k]) == pytest.approx(value)
        assert alone["ece"] == pytest.approx(_loop_ece(logp[k].exp().numpy(), y.numpy()))


@pytest.mark.parametrize("loss", list(LOSSES))
def test_predictive_distribution_of_each_loss(loss):
    """softmax(z), or sigmoids normalised to sum 1 for the one-vs-rest losses; finite for huge logits."""
    z = torch.tensor([[2.0, -1.0, 0.5], [-300.0, 300.0, 0.0]], dtype=torch.float64)
    logp = predictive_log_probs(loss)(z)
    assert torch.isfinite(logp).all()
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(2, dtype=torch.float64))
    if LOSSES[loss].predictive == "softmax":
        torch.testing.assert_close(logp, torch.log_softmax(z, -1))
    else:
        s = torch.sigmoid(z[0])
        torch.testing.assert_close(logp[0].exp(), s / s.sum())
    assert LOSSES["bce_ovr"].predictive == LOSSES["mse_sigmoid"].predictive == "normalised sigmoid"


@pytest.mark.slow
def test_temperature_scaling_recovers_a_planted_temperature():
    """Labels drawn from softmax(u); the model shows a_k u (over-confident by 3, under-confident by 2, or
    right): the fitted T of run k comes back as a_k (within 3%, 20,000 examples), and a run whose logits
    are not finite gets NaN, not a number."""
    from experiments.convergence.calibration import fit_temperature
    from experiments.convergence.losses import log_softmax

    g = torch.Generator().manual_seed(0)
    K, N, C = 4, 20000, 10
    u = torch.randn(K, N, C, generator=g, dtype=torch.float64) * 1.5
    y = torch.multinomial(torch.softmax(u[0], -1), 1, generator=g).squeeze(-1)
    a = torch.tensor([3.0, 0.5, 1.0, 1.0], dtype=torch.float64)
    z = u[0].expand(K, -1, -1) * a.view(-1, 1, 1)
    z = z.clone()
    z[3, 0, 0] = float("nan")
    t = fit_temperature(z, y, log_softmax)
    torch.testing.assert_close(t[:3], a[:3], rtol=0.03, atol=0.0)
    assert torch.isnan(t[3])
