"""Test-split metrics of a predictive distribution: accuracy, NLL, Brier score and ECE.

For N examples with probabilities p_i (C classes), true class y_i, confidence
c_i = max_k p_ik and prediction k_i = argmax_k p_ik:

    accuracy = (1/N) sum_i [k_i = y_i]
    NLL      = -(1/N) sum_i log p_{i y_i}
    Brier    = (1/N) sum_i sum_k (p_ik - [k = y_i])^2          (the multi-class form, in [0, 2])
    ECE      = sum_b (n_b / N) |acc_b - conf_b|                (Guo et al. 2017)

where bin b of ``BINS`` = 15 equal-width bins holds the examples with c_i in
((b - 1)/15, b/15], and acc_b, conf_b are the mean correctness and confidence
there. Every metric is a sum over examples, so :class:`CalibrationSums` adds
blocks of examples for K runs at once and divides at the end.
"""

from __future__ import annotations

import math

import torch

BINS = 15


class CalibrationSums:
    """Running sums for K runs; :meth:`add` a block of log-probabilities, :meth:`result` the metrics."""

    def __init__(self, K: int, device: torch.device | str = "cpu", bins: int = BINS, keep: bool = False):
        self.bins = bins
        # with ``keep``, every example's outputs too (:meth:`per_example`), block by block
        self.kept: list[dict[str, torch.Tensor]] | None = [] if keep else None
        f64 = dict(dtype=torch.float64, device=device)
        self.n = 0
        self.correct, self.nll, self.brier = (torch.zeros(K, **f64) for _ in range(3))
        self.bin_conf, self.bin_correct = torch.zeros(K, bins, **f64), torch.zeros(K, bins, **f64)

    def add(self, logp: torch.Tensor, y: torch.Tensor) -> None:
        """``logp`` (K, n, C) log-probabilities, ``y`` (n,) true classes."""
        K, n, _ = logp.shape
        p = logp.exp()
        conf, pred = p.max(-1)                                                   # (K, n)
        hit = (pred == y).to(torch.float64)
        yk = y.expand(K, n).unsqueeze(-1)
        self.correct += hit.sum(1)
        self.nll -= logp.gather(-1, yk).squeeze(-1).to(torch.float64).sum(1)
        sq = (p * p).sum(-1) - 2 * p.gather(-1, yk).squeeze(-1) + 1              # sum_k (p_k - t_k)^2
        self.brier += sq.to(torch.float64).sum(1)
        b = (conf.to(torch.float64) * self.bins).ceil().long().clamp_(1, self.bins) - 1   # right-closed bins
        self.bin_conf.scatter_add_(1, b, conf.to(torch.float64))
        self.bin_correct.scatter_add_(1, b, hit)
        self.n += n
        if self.kept is not None:
            self.kept.append({"correct": hit.to(torch.int8), "confidence": conf.float(),
                              "nll": -logp.gather(-1, yk).squeeze(-1).float(), "brier": sq.float()})

    def per_example(self) -> dict[str, torch.Tensor]:
        """Per run and example (K, N), in the order added: correct (0/1), confidence (max_k p_k), nll
        (-log p_y) and brier (sum_k (p_k - t_k)^2); the metrics above are their means (ECE from the bins)."""
        return {k: torch.cat([b[k] for b in self.kept], dim=1) for k in self.kept[0]}

    def result(self) -> dict[str, torch.Tensor]:
        """Per run (K,): acc, nll, brier, ece."""
        n = self.n
        return {"acc": self.correct / n, "nll": self.nll / n, "brier": self.brier / n,
                "ece": (self.bin_correct - self.bin_conf).abs().sum(1) / n}


# Temperature scaling (Guo et al. 2017): one T > 0 per model, fitted on the validation split to minimise
# its NLL of p = predictive(z / T), then applied to the test logits. A grid in log10 T: ``TEMPERATURE_GRID``
# points over [-2, 2] (T from 0.01 to 100, steps of 10^0.05), then as many within one step either side
# of the best point (steps of 1/800 of a decade). The NLL is convex in 1/T for a softmax; the grid also serves normalised sigmoids.
TEMPERATURE_GRID = 81


@torch.no_grad()
def fit_temperature(z: torch.Tensor, y: torch.Tensor, log_probs) -> torch.Tensor:
    """T (K,) minimising each run's mean NLL -log p_y of ``log_probs(z / T)`` on logits ``z`` (K, N, C) for
    classes ``y`` (N,); NaN where a run's logits are not finite."""
    K = z.shape[0]
    yk = y.expand(K, -1).unsqueeze(-1)

    def nll(log_t: torch.Tensor) -> torch.Tensor:                                    # (G,) -> (G, K)
        return torch.stack([-log_probs(z / 10 ** lt).gather(-1, yk).squeeze(-1).mean(1) for lt in log_t])

    grid = torch.linspace(-2.0, 2.0, TEMPERATURE_GRID, dtype=torch.float64, device=z.device)
    step = float(grid[1] - grid[0])
    best = grid[nll(grid).nan_to_num(nan=math.inf).argmin(0)]                         # (K,)
    fine = torch.linspace(-step, step, TEMPERATURE_GRID, dtype=torch.float64, device=z.device)
    cand = best.view(1, -1) + fine.view(-1, 1)                                         # (G, K)
    losses = torch.stack([-log_probs(z / 10 ** c.to(z.dtype).view(-1, 1, 1)).gather(-1, yk).squeeze(-1).mean(1)
                          for c in cand])                                              # (G, K)
    t = 10 ** cand.gather(0, losses.nan_to_num(nan=math.inf).argmin(0, keepdim=True)).squeeze(0)
    return torch.where(torch.isfinite(z).flatten(1).all(1), t, math.nan)


def calibration_metrics(probs: torch.Tensor, y: torch.Tensor, bins: int = BINS) -> dict[str, float]:
    """The four metrics of one model's probabilities ``probs`` (N, C) for true classes ``y`` (N,)."""
    sums = CalibrationSums(1, probs.device, bins)
    sums.add(probs.log().unsqueeze(0), y)
    return {k: float(v[0]) for k, v in sums.result().items()}
