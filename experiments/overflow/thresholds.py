"""Predict, from ``torch.finfo`` alone, where each implementation must break.

For a format with largest finite value X, machine epsilon eps, smallest
subnormal s = smallest_normal * eps, and round-to-nearest, these rules predict
the first axis value v with a non-finite loss or gradient. Exact quantities of
the intended logits z(v) are computed in float64: lse = logsumexp(z) and the
log-probabilities log p_j = z_j - lse. ``L`` is the format the logits are held
in, ``F`` the format the breaking arithmetic runs in (they differ under autocast).

- ``logit_overflow`` (all): a logit that matters rounds to +-inf in L once it
  reaches X_L (1 + eps_L/4) = X_L + ulp/2: the largest logit (then inf - inf =
  NaN), or the target's from below (loss inf); for the binary losses any logit
  (torch's softplus form then computes inf - inf).
- ``loss_overflow`` (all): the loss value itself exceeds X_F (1 + eps_F/4).
- ``sum_overflow`` (``softmax_naive``): sum_j exp(z_j) overflows once lse > ln(X_F (1 + eps_F/4)).
- ``grad_overflow`` (``softmax_naive``, ``log_softmax_naive``): d(-log p)/dp = -1/p
  is infinite once p_y < 1/X_F, i.e. log p_y < -ln X_F.
- ``p_underflow`` (same two): p_y rounds to 0 once p_y < s_F/2: log(0) = -inf.
- ``grad_nan`` (same two): any p_j rounds to 0 once min_j log p_j < ln(s_F/2);
  the backward of log gives 0/0 = NaN there even though p_j is not the target.
- ``bce_clamp`` (``bce_naive`` when eps = 1e-12 of ``binary_cross_entropy``'s
  backward rounds to 0 in F, i.e. float16): the gradient
  (1/C)(p - t) / max(p (1 - p), 1e-12) is infinite once a sigmoid output rounds
  to 0 (sigma < s_F/2) or 1 (1 - sigma < eps_F/4), or (1/C)|p - t| / (p (1 - p)) > X_F.

The predicted threshold is the smallest v at which any rule fires. Nothing
fires for the fused and max-subtracted implementations (``log_softmax_nll``,
``cross_entropy``, ``logsumexp_manual``, ``bce_logits``, ``mse_softmax``) short
of the logits themselves overflowing, nor for ``bce_naive`` outside float16
(``binary_cross_entropy`` clamps log at -100: finite but wrong). Each prediction
carries a tolerance in units of v: the rounding of the logits to L
(eps_L * max|z|) and, for the rules on probabilities near s/2, ln 2 in log p (a
subnormal that small can be off by up to a factor 2); near 1/X, p still has
about 1/(s X) units of precision: ln(1 + s X) + 4 eps. Each is divided by the
rule's slope in v.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .probe import DTYPES, FAMILY, exact_loss, probe_logits

NAIVE_P = {"softmax_naive", "log_softmax_naive"}   # compute p, then log
LO, HI = 1e-3, 1e6                                 # bracket searched for a crossing
BCE_EPS = 1e-12                                    # clamp in binary_cross_entropy's backward


@dataclass(frozen=True)
class Prediction:
    threshold: float
    rule: str
    tolerance: float


def smallest_subnormal(dtype: torch.dtype) -> float:
    fi = torch.finfo(dtype)
    return fi.smallest_normal * fi.eps


def _log_half_subnormal(fi) -> float:
    """ln(s/2), in logs because s/2 underflows in float64 itself."""
    return math.log(fi.smallest_normal) + math.log(fi.eps) - math.log(2)


class _Exact:
    """Exact float64 quantities of the probe logits at axis value v."""

    def __init__(self, axis: str, c: int, seed: int):
        self.axis, self.c, self.seed = axis, c, seed

    def z(self, v: float) -> tuple[torch.Tensor, int]:
        z, y = probe_logits(self.axis, np.array([v]), self.c, self.seed)
        return z[0], int(y[0])

    def loss(self, v: float, family: str) -> float:
        z, y = probe_logits(self.axis, np.array([v]), self.c, self.seed)
        return float(exact_loss(z, y, family)[0])

    def logp(self, v: float) -> torch.Tensor:
        z, _ = self.z(v)
        return z - torch.logsumexp(z, -1)

    def logp_y(self, v: float) -> float:
        _, y = self.z(v)
        return float(self.logp(v)[y])

    def max_abs(self, v: float) -> float:
        return float(self.z(v)[0].abs().max())


def _crossing(f, level: float) -> float | None:
    """Smallest v in [LO, HI] with f(v) >= level, for f increasing in v (bisection in log v)."""
    if f(HI) < level:
        return None
    if f(LO) >= level:
        return LO
    a, b = math.log(LO), math.log(HI)
    for _ in range(100):
        m = (a + b) / 2
        if m in (a, b):                 # a and b adjacent doubles: converged
            break
        a, b = (a, m) if f(math.exp(m)) >= level else (m, b)
    return math.exp(b)


def _slope(f, v: float) -> float:
    h = 1e-6 * v
    return abs(f(v + h) - f(v - h)) / (2 * h)


def _logit_at_risk(ex: _Exact, family: str, v: float) -> float:
    """The largest logit whose overflow to +-inf breaks this family's loss."""
    z, y = ex.z(v)
    if family == "mse_softmax":
        return float(z.max())
    if family == "bce":  # torch's softplus form gives inf - inf = NaN for an infinite logit of either sign
        return float(z.abs().max())
    return max(float(z.max()), float(-z[y]))


def _bce_breaks(ex: _Exact, fi, v: float) -> bool:
    """bce_naive's float16 gradient: a sigmoid output rounding to 0 or 1, or (1/C)|p - t|/(p(1-p)) > X."""
    z, y = ex.z(v)
    p = torch.sigmoid(z)
    t = torch.zeros_like(z)
    t[y] = 1
    log_p, log_q = F.logsigmoid(z), F.logsigmoid(-z)                   # log p, log(1 - p)
    if bool((log_p < _log_half_subnormal(fi)).any()) or bool((log_q < math.log(fi.eps / 4)).any()):
        return True
    log_grad = torch.log((p - t).abs() / ex.c) - log_p - log_q
    return bool((log_grad > math.log(fi.max)).any())


def predictions(implementation: str, dtype: str, c: int, axis: str, seed: int = 0,
                compute_dtype: str | None = None) -> list[Prediction]:
    """Every rule that fires, sorted by threshold. ``dtype`` holds the logits;
    ``compute_dtype`` (default: the same) runs the breaking arithmetic. Computed once per setting
    (the probe samples densely around them, the thresholds table reads them again)."""
    return list(_predictions(implementation, dtype, c, axis, seed, compute_dtype or dtype))


@functools.lru_cache(maxsize=None)
def _predictions(implementation: str, dtype: str, c: int, axis: str, seed: int, compute_dtype: str
                 ) -> tuple[Prediction, ...]:
    if implementation not in FAMILY:          # a registered loss of a user's: no rule predicts it
        return ()
    fl, fc = torch.finfo(DTYPES[dtype]), torch.finfo(DTYPES[compute_dtype])
    s_c = fc.smallest_normal * fc.eps  # smallest subnormal of the compute format
    ex = _Exact(axis, c, seed)
    family = FAMILY[implementation]
    out = []

    def add(rule, f, level, log_tol):
        t = _crossing(f, level)
        if t is None:
            return
        slope = _slope(f, t) or float("inf")
        out.append(Prediction(t, rule, (log_tol + fl.eps * ex.max_abs(t)) / slope))

    add("logit_overflow", lambda v: _logit_at_risk(ex, family, v), fl.max * (1 + fl.eps / 4), 0.0)
    add("loss_overflow", lambda v: ex.loss(v, family), fc.max * (1 + fc.eps / 4), 0.0)
    if implementation == "softmax_naive":
        add("sum_overflow", lambda v: float(torch.logsumexp(ex.z(v)[0], -1)),
            math.log(fc.max) + math.log1p(fc.eps / 4), fc.eps)
    if implementation in NAIVE_P:
        # p_y = 1/X is subnormal in every format, but with ~1/(s X) units of precision
        add("grad_overflow", lambda v: -ex.logp_y(v), math.log(fc.max),
            math.log1p(s_c * fc.max) + 4 * fc.eps)
        add("p_underflow", lambda v: -ex.logp_y(v), -_log_half_subnormal(fc), math.log(2))
        add("grad_nan", lambda v: -float(ex.logp(v).min()), -_log_half_subnormal(fc), math.log(2))
    if implementation == "bce_naive" and BCE_EPS < s_c / 2:
        t = _crossing(lambda v: float(_bce_breaks(ex, fc, v)), 0.5)
        if t is not None:
            slope = _slope(ex.max_abs, t) or float("inf")
            out.append(Prediction(t, "bce_clamp", (math.log(2) + fl.eps * ex.max_abs(t)) / slope))
    return tuple(sorted(out, key=lambda p: p.threshold))


def predicted_thresholds(implementation: str, dtype: str, c: int, axis: str, seed: int = 0) -> list[float]:
    """Where :func:`predictions` says the probe breaks: the axis values the probe samples densely."""
    return [p.threshold for p in predictions(implementation, dtype, c, axis, seed)]


RULE_TEXT = {
    "logit_overflow": "a logit reaches the largest finite value X and rounds to inf",
    "loss_overflow": "the loss value itself exceeds the largest finite value X",
    "sum_overflow": "sum exp(z) > X (no max subtracted): inf / inf = NaN",
    "grad_overflow": "p_y < 1/X: the gradient -1/p of log overflows",
    "p_underflow": "p_y < s/2 (s = smallest subnormal) rounds to 0: log(0) = -inf",
    "grad_nan": "some p_j < s/2 rounds to 0: the backward of log gives 0/0 = NaN",
    "bce_clamp": "a sigmoid output rounds to 0 or 1 and the 1e-12 clamp of BCE's backward is 0 in float16",
    None: "never on this grid: max-subtracted or fused arithmetic, or a clamped log",
    "not_predicted": "a registered loss probed by name: measured, no IEEE-754 rule predicts where it breaks",
}


def thresholds_table(probes: pd.DataFrame, seed: int = 0, predict=None) -> pd.DataFrame:
    """One row per (implementation, dtype, num_classes, axis, autocast): the first grid value
    with a non-finite loss or gradient beside the predicted one, and whether they agree:
    the measured break lies in (previous grid value, measured] and must meet the
    predicted interval [t - tol, t + tol]. A prediction past the grid's end agrees with
    no measured break. ``predict``: the predictor (default :func:`predictions`; a test passes
    a wrong one to show the check can fail)."""
    predict = predictions if predict is None else predict
    rows = []
    keys = ["implementation", "dtype", "num_classes", "axis", "autocast"]
    for key, sub in probes.groupby(keys, sort=False):
        impl, dtype, c, axis, ac = key
        sub = sub.sort_values("logit_gap")
        grid = sub["logit_gap"].to_numpy()
        # a row an op refuses is a break too (it would stop training): say so in `refused`
        refused = sub["error"].astype(bool).to_numpy()
        broken = ~(sub["loss_finite"].to_numpy() & sub["grad_finite"].to_numpy()) | refused
        supported = not refused.all()
        compute = next((d for d in sub["compute_dtype"] if d in DTYPES), dtype)
        preds = predict(impl, dtype, c, axis, seed, compute_dtype=compute)
        first = preds[0] if preds else None
        predicted = impl in FAMILY
        measured = float(grid[broken.argmax()]) if broken.any() else None
        if measured is not None:
            i = int(broken.argmax())
            prev = float(grid[i - 1]) if i > 0 else -math.inf
        if first is None:
            agrees = measured is None
        elif measured is None:
            agrees = first.threshold - first.tolerance > grid[-1]
        else:
            agrees = prev < first.threshold + first.tolerance and measured >= first.threshold - first.tolerance
        rows.append(dict(
            implementation=impl, dtype=dtype, num_classes=c, axis=axis, autocast=ac, compute_dtype=compute,
            supported=supported, measured_threshold=measured,
            predicted_threshold=first.threshold if first else None,
            tolerance=first.tolerance if first else None,
            rule=first.rule if first else None if predicted else "not_predicted",
            rule_text=RULE_TEXT[first.rule if first else None if predicted else "not_predicted"],
            agrees=bool(agrees) if supported and predicted else None,
            refused_from=float(grid[refused.argmax()]) if refused.any() else None,
        ))
    return pd.DataFrame(rows)
