"""Where does each way of computing a classification loss stop giving finite numbers?

Implementations (a registry like the losses), each ``f(z (N, C), y (N,)) -> (N,)``:

- ``softmax_naive``:     p = exp(z) / sum exp(z) by hand, then -log p_y
- ``log_softmax_naive``: ``torch.softmax`` then ``torch.log`` (the lecture's ``nll_loss(log(pred))``)
- ``log_softmax_nll``:   ``F.log_softmax`` + ``F.nll_loss``
- ``cross_entropy``:     ``F.cross_entropy`` (fused)
- ``logsumexp_manual``:  m + log sum exp(z - m) - z_y, m = max z, by hand
- ``bce_naive``:         sigmoid then ``F.binary_cross_entropy``, one-vs-rest
- ``bce_logits``:        ``F.binary_cross_entropy_with_logits``, one-vs-rest
- ``mse_softmax``:       mean_j (softmax(z)_j - t_j)^2: always finite, its gradient vanishes

Axes (probe logits in float64, then cast or produced under autocast):

- ``gap``:       z = 0 except z_y = -v (the target v below the largest logit, 0)
- ``max_logit``: z = v except z_y = v - 1 (the largest logit's absolute size)
- ``lecture``:   z = v * (x @ w.T), the lecture's x (1, 784), w (10, 784), target 3

Every probe is compared with the exact loss of the intended logits, computed
stably in float64 (log-sum-exp with the max subtracted; softplus for the binary
losses), so a finite answer also carries its relative error.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import columns
from ..lecture import lecture_logits
from ..convergence.losses import LOSSES, get_loss, onehot_like

DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}
# The probe axes: what the value v on each means (the schema's overflow.axes enum is this list).
AXES = {"gap": "logit gap v (z = 0, z_y = -v)", "max_logit": "max logit v (z = v, z_y = v - 1)",
        "lecture": "scale v of the lecture's x @ w.T"}


def softmax_naive(z, y):
    """-log(exp(z_y) / sum_j exp(z_j)) with no max subtracted: exp overflows first."""
    e = torch.exp(z)
    return -torch.log(e / e.sum(-1, keepdim=True)).gather(-1, y[:, None]).squeeze(-1)


def log_softmax_naive(z, y):
    """``F.nll_loss(torch.log(torch.softmax(z)), y)``: log(0) once p_y underflows."""
    return F.nll_loss(torch.log(torch.softmax(z, dim=-1)), y, reduction="none")


def log_softmax_nll(z, y):
    """``F.nll_loss(F.log_softmax(z), y)``: z - max - log sum exp(z - max)."""
    return F.nll_loss(F.log_softmax(z, dim=-1), y, reduction="none")


def fused_cross_entropy(z, y):
    """``F.cross_entropy(z, y)``: torch's fused built-in, the unit under test here (CPU autocast runs it in
    float32). Deliberately not ``losses.cross_entropy``, the training loss, which is log-softmax then a
    gather: the path of ``log_softmax_nll``."""
    return F.cross_entropy(z, y, reduction="none")


def logsumexp_manual(z, y):
    """m + log sum_j exp(z_j - m) - z_y with m = max_j z_j, by hand."""
    m = z.max(-1, keepdim=True).values
    return (m + torch.log(torch.exp(z - m).sum(-1, keepdim=True))).squeeze(-1) - z.gather(-1, y[:, None]).squeeze(-1)


def bce_naive(z, y):
    """(1/C) sum_j BCE(sigmoid(z_j), t_j) via ``F.binary_cross_entropy``, which clamps log at -100."""
    return F.binary_cross_entropy(torch.sigmoid(z), onehot_like(z, y), reduction="none").mean(-1)


# name -> (function, which exact reference it approximates)
# The naive paths and torch's fused built-ins are written here (they are what is probed); where an
# implementation is the training loss itself, it is the loss registry's function, not a copy.
IMPLEMENTATIONS = {
    "softmax_naive": softmax_naive,
    "log_softmax_naive": log_softmax_naive,
    "log_softmax_nll": log_softmax_nll,
    "cross_entropy": fused_cross_entropy,
    "logsumexp_manual": logsumexp_manual,
    "bce_naive": bce_naive,
    "bce_logits": LOSSES["bce_ovr"],        # F.binary_cross_entropy_with_logits, one-vs-rest, mean over classes
    "mse_softmax": LOSSES["mse_softmax"],   # (1/C) sum_j (softmax(z)_j - t_j)^2: finite; its gradient vanishes
}
# How the report names each implementation (the code it runs, short)
IMPLEMENTATION_LABELS = {
    "softmax_naive": "exp(z)/Σexp(z), then log", "log_softmax_naive": "log(softmax(z))",
    "log_softmax_nll": "log_softmax + nll_loss", "cross_entropy": "F.cross_entropy",
    "logsumexp_manual": "logsumexp by hand", "bce_naive": "sigmoid, then BCE",
    "bce_logits": "BCE with logits", "mse_softmax": "MSE on softmax",
}
FAMILY = {name: "ce" for name in IMPLEMENTATIONS} | {"bce_naive": "bce", "bce_logits": "bce",
                                                   "mse_softmax": "mse_softmax"}


def implementation_fn(name: str):
    """The function an implementation name runs: one of :data:`IMPLEMENTATIONS`, else a registered loss
    (a user's: probed as it is, measured against its own float64 value, with no IEEE-754 prediction)."""
    return IMPLEMENTATIONS[name] if name in IMPLEMENTATIONS else get_loss(name)


def reference_loss(name: str, z64: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss of float64 logits to measure ``name`` against: the exact value of its family, or a registered
    loss's own value in float64 (N,)."""
    if name in FAMILY:
        return exact_loss(z64, y, FAMILY[name])
    with torch.no_grad():
        return get_loss(name)(z64, y).to(torch.float64)


def exact_loss(z64: torch.Tensor, y: torch.Tensor, family: str) -> torch.Tensor:
    """The loss of float64 logits, computed stably: (N,) float64."""
    if family == "ce":
        return torch.logsumexp(z64, -1) - z64.gather(-1, y[:, None]).squeeze(-1)
    t = onehot_like(z64, y)
    if family == "bce":  # t softplus(-z) + (1 - t) softplus(z); softplus(x) = logaddexp(0, x) exactly
        zero = torch.zeros_like(z64)                 # (F.softplus turns linear past x = 20: not exact)
        return (t * torch.logaddexp(zero, -z64) + (1 - t) * torch.logaddexp(zero, z64)).mean(-1)
    return ((torch.softmax(z64, -1) - t) ** 2).mean(-1)


def probe_logits(axis: str, values: np.ndarray, num_classes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 logits (N, C) and targets (N,) for each axis value."""
    v = torch.as_tensor(values, dtype=torch.float64)[:, None]              # (N, 1)
    n = len(values)
    if axis == "lecture":
        base, t = lecture_logits(seed)                                       # (1, 10), target 3
        return v * base.to(torch.float64), t.expand(n).clone()
    y = torch.ones(n, dtype=torch.long)                                      # target class 1
    rows = torch.arange(n)
    if axis == "gap":
        z = torch.zeros(n, num_classes, dtype=torch.float64)
        z[rows, y] = -v[:, 0]
    elif axis == "max_logit":
        z = v.expand(n, num_classes).clone()
        z[rows, y] = v[:, 0] - 1
    else:
        raise ValueError(f"unknown axis {axis!r}; valid: {list(AXES)}")
    return z, y


def compute_dtype(implementation: str, z: torch.Tensor, loss: torch.Tensor) -> str:
    """The dtype of the arithmetic that can break: the probabilities p for the naive
    softmax paths, the sigmoid outputs for ``bce_naive``, log p for ``log_softmax_nll``,
    else the loss itself (CPU autocast leaves softmax and log_softmax in the half
    format but runs the losses in float32)."""
    if implementation in ("softmax_naive", "log_softmax_naive"):
        dt = torch.softmax(z.detach(), dim=-1).dtype
    elif implementation == "bce_naive":
        dt = torch.sigmoid(z.detach()).dtype
    elif implementation == "log_softmax_nll":
        dt = torch.log_softmax(z.detach(), dim=-1).dtype
    else:
        dt = loss.dtype
    return str(dt).removeprefix("torch.")


def _probe_rows(fn, implementation, dtype, z64, y, autocast, device):
    leaf = z64.to(device=device, dtype=DTYPES[dtype], copy=True).requires_grad_()
    if autocast:
        with torch.autocast(device, dtype=DTYPES[dtype]):
            loss = fn(leaf, y.to(device))
            compute = compute_dtype(implementation, leaf, loss)
    else:
        loss = fn(leaf, y.to(device))
        compute = compute_dtype(implementation, leaf, loss)
    (grad,) = torch.autograd.grad(loss.sum(), leaf)
    g = grad.detach().to(torch.float64)
    return (loss.detach().to(torch.float64).cpu().numpy(), g.norm(dim=-1).cpu().numpy(),
            torch.isfinite(g).all(-1).cpu().numpy(), compute)


def probe_batch(implementation: str, dtype: str, z64: torch.Tensor, y: torch.Tensor,
                autocast: bool = False, device: str = "cpu") -> dict[str, np.ndarray | str]:
    """Loss and d loss / d z for every row of ``z64``, the logits held in ``dtype``.

    ``autocast=False``: the loss runs on the cast logits as is. ``autocast=True``:
    it runs inside ``torch.autocast(device, dtype)``, as it would on a model's
    output in mixed precision, and autocast may upcast some ops (see
    ``compute_dtype``). Never raises on inf/NaN; where an op refuses a row, that
    row gets NaN and the op's message in ``error``.
    """
    fn = implementation_fn(implementation)
    n = len(y)
    out = {"loss": np.full(n, np.nan), "grad_norm": np.full(n, np.nan), "grad_finite": np.zeros(n, bool),
           "compute_dtype": "", "error": np.full(n, "", dtype=object)}
    try:
        out["loss"], out["grad_norm"], out["grad_finite"], out["compute_dtype"] = _probe_rows(
            fn, implementation, dtype, z64, y, autocast, device)
        return out
    except (RuntimeError, NotImplementedError):
        pass
    for i in range(n):  # find the rows the op refuses
        try:
            l, g, f, c = _probe_rows(fn, implementation, dtype, z64[i:i + 1], y[i:i + 1], autocast, device)
            out["loss"][i], out["grad_norm"][i], out["grad_finite"][i], out["compute_dtype"] = l[0], g[0], f[0], c
        except (RuntimeError, NotImplementedError) as err:
            out["error"][i] = str(err).splitlines()[0]
    return out


def log_grid(lo: float, hi: float, per_decade: int) -> np.ndarray:
    """Log-spaced values from lo to hi inclusive."""
    n = int(round(math.log10(hi / lo) * per_decade)) + 1
    return np.geomspace(lo, hi, n)


def dense_grid(around: list[float], lo: float, hi: float, width: float = 0.05, points: int = 41) -> np.ndarray:
    """``points`` values spaced evenly within +-``width`` (relative) of each threshold."""
    parts = [np.linspace(t * (1 - width), t * (1 + width), points) for t in around if t is not None]
    d = np.concatenate(parts) if parts else np.array([])
    return d[(d >= lo) & (d <= hi)]


def run_probes(cfg: dict, device: str = "cpu", predict=None) -> pd.DataFrame:
    """Every implementation x dtype x class count x axis x autocast of the config, on the log grid
    plus, with ``predict`` (``fn(implementation, dtype, num_classes, axis, seed) -> [thresholds]``,
    e.g. :func:`thresholds.predicted_thresholds`), a dense grid around each predicted threshold.
    The predictor is passed in: thresholds imports this module, never the other way round.

    Runs on the calling thread alone (torch's threads set to 1, then put back): the probe measures
    IEEE-754 arithmetic, denormals included, and ``torch.set_flush_denormal`` (which training sets
    and clears) changes only the calling thread's flags, so worker threads started while it was on
    keep flushing denormals (seen: a ``train_group`` earlier in the same process moved the float64
    threshold of log_softmax_naive from 709.78 to 709.74)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_probes(cfg, device, predict)
    finally:
        torch.set_num_threads(threads)


def _run_probes(cfg: dict, device: str, predict) -> pd.DataFrame:
    ov = cfg["overflow"]
    base = log_grid(ov["gap_min"], ov["gap_max"], ov["points_per_decade"])
    frames = []
    for impl in ov["implementations"]:
        for dtype in ov["dtypes"]:
            for axis in ov["axes"]:
                for c in ([10] if axis == "lecture" else ov["num_classes"]):
                    for ac in ov["autocast"]:
                        if ac and dtype not in ("float16", "bfloat16"):
                            continue  # autocast only ever lowers to a half format
                        guesses = predict(impl, dtype, c, axis, cfg["seed"]) if predict else []
                        values = np.unique(np.concatenate([base, dense_grid(guesses, base[0], base[-1])]))
                        z64, y = probe_logits(axis, values, c, cfg["seed"])
                        out = probe_batch(impl, dtype, z64, y, autocast=ac, device=device)
                        ref = reference_loss(impl, z64, y).numpy()
                        loss = out["loss"]
                        finite = np.isfinite(loss)
                        with np.errstate(invalid="ignore", divide="ignore"):
                            rel = np.where(finite, np.abs(loss - ref) / np.abs(ref), np.inf)
                        frames.append(pd.DataFrame({
                            "implementation": impl, "dtype": dtype, "num_classes": c, "axis": axis,
                            "logit_gap": values, "autocast": bool(ac), "compute_dtype": out["compute_dtype"],
                            "loss": loss, "loss_finite": finite, "grad_finite": out["grad_finite"],
                            "grad_norm": out["grad_norm"], "reference_loss": ref, "relative_error": rel,
                            "error": out["error"],
                        }))
    return pd.concat(frames, ignore_index=True)[columns.PROBES]
