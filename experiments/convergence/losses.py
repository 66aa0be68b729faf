"""Classification losses: the built-ins, registered in ``experiments.registry`` as a user's are.

Every loss takes logits ``z`` of shape ``(..., C)`` and integer targets ``y`` of
shape ``(...)`` with values in ``[0, C)``, and returns the per-example loss of
shape ``(...)``; a leading run axis ``K`` passes straight through. Averaging
over the batch gives the ``reduction="mean"`` value of the matching torch
built-in where there is one (the tests check value and gradient). Keyword
parameters are named as in the config's ``convergence.loss_params``. Each built-in
has a closed-form gradient for the engine; a user's loss without one trains on autograd's
(:func:`get_loss_grad`). Notation: p = softmax(z), s = sigmoid(z), t = one_hot(y).
"""

from __future__ import annotations

import functools
import inspect

import torch
import torch.nn.functional as F

from .. import registry


def onehot_like(z: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """t = one_hot(y), with z's shape and memory layout."""
    one = True if dtype == torch.bool else 1.0
    return torch.zeros_like(z, dtype=dtype or z.dtype).scatter_(-1, y.unsqueeze(-1), one)


def _along_classes(fn, z: torch.Tensor) -> torch.Tensor:
    """``fn(t, dim)`` over the class axis (the last of ``z``), run along the axis that torch's CPU
    kernels vectorise over: a short last axis is looped row by row (for 10 classes, 3.3x slower
    forward+backward at (24, 64, 10), torch 2.13, one thread), so the classes are moved to a leading
    axis; logits stored class-first (the engine's (K, C, B) seen as (K, B, C)) are used in place."""
    if z.dim() >= 2 and z.stride(-1) != 1 and z.transpose(-1, -2).is_contiguous():
        return fn(z.transpose(-1, -2), -2).transpose(-1, -2)
    return fn(z.movedim(-1, 0), 0).movedim(0, -1)


def log_softmax(z: torch.Tensor) -> torch.Tensor:
    """log softmax over the class axis (the last), stable (max subtracted)."""
    return _along_classes(torch.log_softmax, z)


def softmax(z: torch.Tensor) -> torch.Tensor:
    """softmax over the class axis (the last), laid out as :func:`log_softmax`."""
    return _along_classes(torch.softmax, z)


def log_softmax_and_softmax(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p, p) over the class axis, sharing the work: with r = z - max_j z_j and
    S = sum_j e^(r_j), log p = r - log S and p = e^r / S. Reductions run along the class axis in
    place (vectorised over the other axes, as in :func:`log_softmax`); 2x faster than the two
    torch kernels for the engine's (K, 10, B) logits."""
    r = z - z.amax(-1, keepdim=True)
    e = r.exp()
    total = e.sum(-1, keepdim=True)
    return r.sub_(total.log()), e.div_(total)


def _nll(logp: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)


def cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """l = -log p_y = logsumexp(z) - z_y   (``F.cross_entropy``)."""
    return _nll(log_softmax(z), y)


def cross_entropy_ls(z: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """l = (1 - eps) (-log p_y) + eps * (1/C) sum_j (-log p_j)   (``F.cross_entropy(label_smoothing=eps)``)."""
    logp = log_softmax(z)
    return (1 - label_smoothing) * _nll(logp, y) - label_smoothing * logp.mean(-1)


def bce_ovr(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One-vs-rest binary cross-entropy on logits:
    l = (1/C) sum_j -[t_j log s_j + (1 - t_j) log(1 - s_j)]   (``F.binary_cross_entropy_with_logits``)."""
    t = onehot_like(z, y)
    return F.binary_cross_entropy_with_logits(z, t, reduction="none").mean(-1)


def mse_softmax(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """l = (1/C) sum_j (p_j - t_j)^2   (``F.mse_loss`` on probabilities)."""
    p = softmax(z)
    return ((p - onehot_like(p, y)) ** 2).mean(-1)


def mse_sigmoid(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """l = (1/C) sum_j (s_j - t_j)^2: the lecture's "sigmoid + MSE".

    dl/dz_j = (2/C) (s_j - t_j) s_j (1 - s_j) vanishes when s_j saturates.
    """
    s = torch.sigmoid(z)
    return ((s - onehot_like(s, y)) ** 2).mean(-1)


def mse_logits(z: torch.Tensor, y: torch.Tensor, square_k: float = 1.0, square_M: float = 1.0) -> torch.Tensor:
    """Rescaled square loss on raw logits (Hui & Belkin 2021):
    l = (1/C) [k (z_y - M)^2 + sum_{j != y} z_j^2]. With k = M = 1 it is ``F.mse_loss(z, t)``."""
    t = onehot_like(z, y)
    weight = 1 + (square_k - 1) * t
    return (weight * (z - square_M * t) ** 2).mean(-1)


def _margins(z: torch.Tensor, y: torch.Tensor, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(m, max(0, m) with 0 at j = y) for m_j = margin - z_y + z_j: (..., C) each, in z's layout."""
    m = margin - z.gather(-1, y.unsqueeze(-1)) + z
    return m, torch.clamp(m, min=0).masked_fill_(onehot_like(z, y, torch.bool), 0)


def hinge(z: torch.Tensor, y: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """l = (1/C) sum_{j != y} max(0, margin - z_y + z_j)   (``nn.MultiMarginLoss``, p=1): the
    Weston-Watkins form (a sum over the wrong classes), not Crammer-Singer (their maximum)."""
    return _margins(z, y, margin)[1].sum(-1) / z.shape[-1]


def squared_hinge(z: torch.Tensor, y: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """l = (1/C) sum_{j != y} max(0, margin - z_y + z_j)^2   (``nn.MultiMarginLoss``, p=2)."""
    return (_margins(z, y, margin)[1] ** 2).sum(-1) / z.shape[-1]


def focal(z: torch.Tensor, y: torch.Tensor, focal_gamma: float = 2.0) -> torch.Tensor:
    """Focal loss, softmax form without alpha: l = -(1 - p_y)^gamma log p_y; gamma = 0 gives
    cross-entropy. (Lin et al. 2017 apply it per class to sigmoids, with alpha = 0.25.)"""
    nll = _nll(log_softmax(z), y)  # -log p_y
    return (1 - (-nll).exp()) ** focal_gamma * nll


# Closed-form gradients, for the training engine: each returns (l, dl/dz) for the same (z, y) and
# keyword parameters as the loss of the same name, without autograd (a test checks both against
# autograd of the losses). Fewer passes over the (K, B, C) logits than autograd's chain. Notation as
# above; g = dl/dz has z's shape *and memory layout*: the engine's logits are class-first (a
# (K, C, B) tensor seen as (K, B, C)), and an element-wise op between tensors of two layouts
# cannot vectorise (3-10x slower), so one-hot targets are built like z, and scatters write in place.

def _minus_onehot_(p: torch.Tensor, y: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """p <- p - weight * t in place (p is a fresh tensor of the caller's), by one scatter."""
    return p.scatter_add_(-1, y.unsqueeze(-1), torch.full_like(p[..., :1], -weight))


def _cross_entropy_grad(z, y):
    """g = p - t."""
    logp, p = log_softmax_and_softmax(z)
    return _nll(logp, y), _minus_onehot_(p, y)


def _cross_entropy_ls_grad(z, y, label_smoothing=0.1):
    """g = p - (1 - eps) t - eps / C."""
    logp, p = log_softmax_and_softmax(z)
    loss = (1 - label_smoothing) * _nll(logp, y) - label_smoothing * logp.mean(-1)
    return loss, _minus_onehot_(p.sub_(label_smoothing / z.shape[-1]), y, 1 - label_smoothing)


def _bce_ovr_grad(z, y):
    """g = (s - t) / C."""
    t = onehot_like(z, y)
    loss = F.binary_cross_entropy_with_logits(z, t, reduction="none").mean(-1)
    return loss, (torch.sigmoid(z) - t) / z.shape[-1]


def _mse_softmax_grad(z, y):
    """With d = p - t: g = p * (2d/C - sum_j p_j 2d_j/C)   (the softmax Jacobian applied to 2d/C)."""
    p = softmax(z)
    d = _minus_onehot_(p.clone(), y)
    gp = d * (2 / z.shape[-1])
    return (d * d).mean(-1), p * (gp - (gp * p).sum(-1, keepdim=True))


def _mse_sigmoid_grad(z, y):
    """g = (2/C) (s - t) s (1 - s)."""
    s = torch.sigmoid(z)
    d = _minus_onehot_(s.clone(), y)
    return (d * d).mean(-1), torch.ops.aten.sigmoid_backward(d * (2 / z.shape[-1]), s)


def _mse_logits_grad(z, y, square_k=1.0, square_M=1.0):
    """g = (2/C) w (z - M t), w = 1 + (k - 1) t."""
    t = onehot_like(z, y)
    r = z - square_M * t
    wr = (1 + (square_k - 1) * t) * r
    return (wr * r).mean(-1), wr * (2 / z.shape[-1])


def _hinge_grad(z, y, margin=1.0):
    """g_j = [m_j >= 0] / C for j != y (torch's clamp passes the gradient at 0), g_y = -sum_{j != y} g_j."""
    m, terms = _margins(z, y, margin)
    g = (m >= 0).to(z.dtype).masked_fill_(onehot_like(z, y, torch.bool), 0).div_(z.shape[-1])
    return terms.sum(-1) / z.shape[-1], g.scatter_add_(-1, y.unsqueeze(-1), -g.sum(-1, keepdim=True))


def _squared_hinge_grad(z, y, margin=1.0):
    """g_j = (2/C) m_j^+ for j != y, g_y = -sum_{j != y} g_j."""
    _, terms = _margins(z, y, margin)
    g = terms * (2 / z.shape[-1])
    return (terms * terms).sum(-1) / z.shape[-1], g.scatter_add_(-1, y.unsqueeze(-1), -g.sum(-1, keepdim=True))


def _focal_grad(z, y, focal_gamma=2.0):
    """With q = p_y, n = -log q, l = (1 - q)^gamma n:
    dl/dlog q = -gamma (1 - q)^(gamma - 1) q n - (1 - q)^gamma and dlog q/dz = t - p, so
    g = -dl/dlog q * (p - t)."""
    logp, p = log_softmax_and_softmax(z)
    n = _nll(logp, y)
    q = (-n).exp()
    if focal_gamma == 0:
        dlogq = -torch.ones_like(n)
    else:
        dlogq = -focal_gamma * (1 - q) ** (focal_gamma - 1) * q * n - (1 - q) ** focal_gamma
    return (1 - q) ** focal_gamma * n, _minus_onehot_(p, y).mul_(-dlogq.unsqueeze(-1))


# ---- the registry: every built-in loss with its label, definition, gradient and output ---------------
# (experiments.registry: a user's loss registers the same way, without ``grad``: autograd gives it)
for _name, _fn, _grad, _label, _output, _predictive, _definition in [
    ("cross_entropy", cross_entropy, _cross_entropy_grad, "cross-entropy", "softmax", "softmax",
     "-log p_y, p = softmax(z) (F.cross_entropy)"),
    ("cross_entropy_ls", cross_entropy_ls, _cross_entropy_ls_grad, "cross-entropy, label smoothing", "softmax",
     "softmax", "(1 - eps) (-log p_y) + eps mean_j (-log p_j), eps = label_smoothing (Müller et al. 2019)"),
    ("bce_ovr", bce_ovr, _bce_ovr_grad, "binary CE, one-vs-rest", "sigmoid", "normalised sigmoid",
     "mean_j of binary cross-entropy of sigmoid(z_j) against one_hot(y)_j: one-vs-rest"),
    ("mse_softmax", mse_softmax, _mse_softmax_grad, "MSE on softmax", "softmax", "softmax",
     "mean_j (p_j - t_j)^2 on softmax probabilities"),
    ("mse_sigmoid", mse_sigmoid, _mse_sigmoid_grad, "MSE on sigmoid", "sigmoid", "normalised sigmoid",
     "mean_j (sigmoid(z_j) - t_j)^2: the lecture's sigmoid + MSE"),
    ("mse_logits", mse_logits, _mse_logits_grad, "square loss on logits", "none", "softmax",
     "(1/C) [k (z_y - M)^2 + sum_{j != y} z_j^2] on raw logits (Hui & Belkin 2021; k = M = 1: MSE)"),
    ("hinge", hinge, _hinge_grad, "multi-class hinge", "none", "softmax",
     "(1/C) sum_{j != y} max(0, margin - z_y + z_j): Weston-Watkins (a sum over wrong classes, "
     "nn.MultiMarginLoss p=1), not Crammer-Singer (their maximum)"),
    ("squared_hinge", squared_hinge, _squared_hinge_grad, "squared hinge", "none", "softmax",
     "(1/C) sum_{j != y} max(0, margin - z_y + z_j)^2: Weston-Watkins, squared (p=2)"),
    ("focal", focal, _focal_grad, "focal", "softmax", "softmax",
     "-(1 - p_y)^gamma log p_y on the softmax, without alpha (Lin et al. 2017 use per-class "
     "sigmoids with alpha = 0.25)"),
]:
    registry.loss(_name, _label, grad=_grad, output=_output, predictive=_predictive, definition=_definition)(_fn)

LOSSES = registry.LOSSES     # name -> registry.Loss (callable as its function), built-ins first


def registered() -> dict[str, registry.Loss]:
    """Every registered loss, the built-ins first (the extensions this process was started with loaded)."""
    registry.ensure_loaded()
    return dict(LOSSES)


def spec(name: str) -> registry.Loss:
    """The registered loss ``name`` (a user's file loaded first where this process was started with one)."""
    registry.ensure_loaded()
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {registry.loss_names()}")
    return LOSSES[name]


def _bind(fn, params: dict | None):
    takes = inspect.signature(fn).parameters
    bound = {k: v for k, v in (params or {}).items() if k in takes}
    return functools.partial(fn, **bound) if bound else fn


def _autograd_grad(name: str, fn):
    """``(z (..., C), y (...)) -> (l (...), dl/dz (..., C))`` by autograd on the logits, for a loss without
    a closed form: a copy of z as (N, C) that requires grad, the per-example losses summed (each reads its
    own row only, so the gradient of the sum is each row's own), under ``enable_grad`` (the engine runs
    without grad)."""
    def loss_grad(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = z.shape[-1]
        with torch.enable_grad():
            leaf = z.detach().reshape(-1, c).clone().requires_grad_(True)          # (N, C)
            l = fn(leaf, y.expand(z.shape[:-1]).reshape(-1))
            if l.shape != leaf.shape[:1]:
                raise ValueError(f"loss {name!r} must return one value per example, shape ({len(leaf)},); "
                                 f"it returned {tuple(l.shape)}")
            (g,) = torch.autograd.grad(l.sum(), leaf)
        return l.detach().view(z.shape[:-1]), g.view(z.shape)
    return loss_grad


def get_loss_grad(name: str, params: dict | None = None):
    """``(z, y) -> (l, dl/dz)`` for the loss ``name``, per example: its closed form where it has one,
    else autograd on the logits (:func:`_autograd_grad`)."""
    s = spec(name)
    if s.grad is not None:
        return _bind(s.grad, params)
    return _autograd_grad(name, _bind(s.fn, params))


def has_closed_form(name: str) -> bool:
    return spec(name).grad is not None


def get_loss(name: str, params: dict | None = None):
    """The loss ``name`` with those of ``params`` that it takes bound as keywords."""
    return _bind(spec(name).fn, params)


# ---- output saturation: the lecture's mechanism, where it acts ------------------------------------
# The non-linearity between each loss and the logits, whose derivative at the true class scales the
# loss's gradient there: softmax (dp_y/dz_y = p_y (1 - p_y)), one sigmoid per class (s_y (1 - s_y)),
# or none (the loss reads the logits; its output derivative is 1 and never vanishes): each registered
# loss's ``output``. Both maxima are 1/4.
# A wrong answer is *stuck* when its true-class output q is below one half and its derivative q (1 - q) below a
# fraction f of its maximum 1/4, i.e. q < (1 - sqrt(1 - f)) / 2: the lecture's confidently wrong output. The
# main threshold f = 0.1 (q_y < 0.026, a sigmoid's z_y < -3.6); the curves hold two more, to show how much the
# share depends on it (the column of each: columns.STUCK_COLUMNS).
STUCK_FRACTION = 0.1
STUCK_FRACTIONS = {"stuck_wrong_frac": STUCK_FRACTION, "stuck_wrong_frac_strict": 0.01, "stuck_wrong_frac_loose": 0.5}


def stuck_below(fraction: float) -> float:
    """The true-class output below which an example is stuck at threshold ``fraction``: q (1 - q) < f / 4
    with q < 1/2 holds exactly when q < (1 - sqrt(1 - f)) / 2."""
    return (1 - (1 - fraction) ** 0.5) / 2


def _true_class_probability(output: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """q_y (...,): softmax(z)_y = exp(z_y - logsumexp(z)), or sigmoid(z_y); y broadcasts over z's leading axes."""
    zy = z.gather(-1, y.expand(z.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    if output == "sigmoid":
        return torch.sigmoid(zy)
    return (zy - _along_classes(lambda t, dim: t.logsumexp(dim, keepdim=True), z).squeeze(-1)).exp()


def stuck_outputs(loss: str):
    """``fn(z (..., C), y (...)) -> q_y (...)``: the true-class output, whose comparison with
    :func:`stuck_below` of each of :data:`STUCK_FRACTIONS` (with ``engine.correct`` false) says whether an
    example is stuck: a confidently wrong answer the output no longer passes gradient to; None for a loss
    with no output non-linearity."""
    output = spec(loss).output
    if output == "none":
        return None
    return lambda z, y: _true_class_probability(output, z, y)


# ---- the predictive distribution each loss trains -------------------------------------------------
def _log_normalised_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """log p for p_c = s_c / sum_j s_j, s = sigmoid(z): the one-vs-rest estimates made a distribution."""
    ls = F.logsigmoid(z)
    return ls - _along_classes(lambda t, dim: t.logsumexp(dim, keepdim=True), ls)


# How probabilities are read from the logits for test NLL, Brier score and calibration: softmax where
# the loss is a function of softmax(z) or has no probabilistic reading (hinge, the square loss on
# logits: their softmax is what a user would take); normalised sigmoids where the loss fits one
# sigmoid per class (each registered loss's ``predictive``). Argmax, hence accuracy, is the same either way.
PREDICTIVE_LOG_PROBS = {"softmax": log_softmax, "normalised sigmoid": _log_normalised_sigmoid}


def predictive_log_probs(loss: str):
    """``fn(z (..., C)) -> log p (..., C)``: the log of the distribution ``loss`` trains."""
    return PREDICTIVE_LOG_PROBS[spec(loss).predictive]
