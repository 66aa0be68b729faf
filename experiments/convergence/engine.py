"""The training engine: K stacked MLPs, forward and backward written out, no autograd.

One *chunk* of K runs trains as one model. Runs may differ in activation,
optimiser, learned or fixed logit scale, rate, logit scale and seed; the engine
sorts them so that each of those is a few contiguous ranges of the run axis and
applies per-range kernels there (an activation, an optimiser) and whole-chunk
kernels everywhere else. Run k only ever reads and writes slice k.

Layout (feature-major, as ``nn.Linear`` stores weights). Run k's layer l is
W_l[k], (n_l, n_{l-1} + 1), the bias its last column; activations are kept
transposed, one column per example, with a row of ones under them::

    a_l  = W_l [h_{l-1}; 1]                   (K, n_l, B)    one bmm; the bias rides in the GEMM
    z    = s * a_L                            (K, C, B)      s = exp(log_scale)
    g    = dl/dz / B                          (K, C, B)      losses.get_loss_grad
    dW_l = da_l [h_{l-1}; 1]^T                (K, n_l, n_{l-1} + 1)   bias gradient = the last column
    dh   = W_l[:, :, :-1]^T da_l              (K, n_{l-1}, B)
    da   = dh * a'(a_{l-1})                   one fused kernel (activations.ACTIVATION_GRADS)
    dlog_s = sum(g * z)                       (K,)

Where the input is wide, runs that see the same minibatch share the
first layer's GEMMs instead of gathering K copies of it:
[a_1 of runs i..j] = [W_1[i]; ...; W_1[j]] (stacked rows) @ [x_b; 1]^T, and
dW_1 likewise. Full-set evaluation always shares its input that way, in blocks
of examples sized to a memory budget.

The optimiser update is one kernel per parameter tensor: SGD takes u = g;
Adam's u comes from torch's fused Adam kernel (``torch._fused_adam_``, the one
``torch.optim.Adam(fused=True)`` runs) on the Adam ranges; then
theta <- theta - lr_k * u for the live runs.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import torch

from .activations import ACTIVATION_GRADS, ACTIVATIONS_INTO, Saturation, get_activation
from . import sizing
from .calibration import CalibrationSums
from .losses import STUCK_FRACTIONS, stuck_below

SHARED_MIN_FEATURES = 256   # CPU: share first-layer GEMMs from this input width. Measured (one thread, 128
                            # runs, 10 data orders): a step 1.9x faster at 784 inputs; at 64 a whole digits
                            # group is 4% faster (2 data orders) to 21% slower (10: more per-range kernels)
# Model FLOPs done so far in this process, by kind ("train", "eval"): the matrix products a run
# needs, counted by formula (benchmarks/throughput.py reads it for the MFU). Per example,
# forward: sum_l 2 (n_{l-1} + 1) n_l; a training step adds the weight gradients (the same again)
# and the input gradients of layers 2..L (sum 2 n_{l-1} n_l; none into the data).
MODEL_FLOPS: Counter = Counter()

# The optimisers, per run (the schema's convergence.optimizers enum is this list): the update u in
# theta <- theta - lr_k u (see StackedMLP._update).
OPTIMIZERS = {"sgd": "u = g", "adam": "u = m^/(sqrt(v^) + 1e-8), beta = (0.9, 0.999): torch's fused Adam kernel"}

EVAL_BLOCK_BYTES = sizing.CPU_EVAL_BLOCK_BYTES   # the evaluation block's budget where none is given (a CPU's;
                                                # training.train_chunk passes the device's: sizing.eval_block_bytes)


def ranges(values: list) -> list[tuple[int, int, object]]:
    """Maximal runs of equal consecutive values: [(start, end, value)]."""
    out, i = [], 0
    for v, grp in itertools.groupby(values):
        n = len(list(grp))
        out.append((i, i + n, v))
        i += n
    return out


def flops_per_example(sizes: list[int]) -> tuple[int, int]:
    """(forward, training step) model FLOPs of one run on one example, layer sizes ``sizes`` (input
    first): forward sum_l 2 (n_{l-1} + 1) n_l; a step adds the weight gradients (the same again) and
    the input gradients of layers 2..L (sum 2 n_{l-1} n_l; none into the data)."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * (a + 1) * b for a, b in layers)
    return forward, 2 * forward + sum(2 * a * b for a, b in layers[1:])


def range_kernels(activations: list, optimizers: list, data_groups: list, shared: bool, layers: int) -> int:
    """Kernels per training step that depend on how a chunk's runs are ordered: per data range (shared
    first layer) its forward and weight-gradient GEMMs; per activation range its forward and gradient
    kernels at each of the ``layers - 1`` hidden layers; per optimiser range one update per parameter
    tensor (``layers`` weights and the log scale). The order with fewer launches is the faster one
    where a step is launch-bound (small models on a GPU: issue 23 measured 1.1-1.3 ms per step
    whatever the stack's size)."""
    return (2 * len(ranges(data_groups)) * shared + 2 * (layers - 1) * len(ranges(activations))
            + (layers + 1) * len(ranges(optimizers)))


def augment(x: torch.Tensor) -> torch.Tensor:
    """[x, 1]: (N, D) -> (N, D + 1), so the first layer's bias rides in its GEMM."""
    return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)


def engine_weights(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """``models.init_params``' [W (K, n_in, n_out), b (K, 1, n_out), ...] -> [W_l (K, n_out, n_in + 1)]."""
    return [torch.cat([w.detach().transpose(1, 2), b.detach().transpose(1, 2)], dim=2).contiguous()
            for w, b in zip(params[0::2], params[1::2])]


def correct(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``z.argmax(1) == y`` for class-first logits z (K, C, N), y (N,): (K, N) bool.

    argmax over a middle axis runs 70x slower than max there (torch 2.13, CPU); so: the true class
    holds the maximum and no earlier class does (argmax's tie rule: the first maximum).
    """
    m = z.amax(1)                                                           # (K, N)
    zy = z.gather(1, y.expand(z.shape[0], 1, -1)).squeeze(1)               # (K, N)
    before = torch.arange(z.shape[1], device=z.device).view(1, -1, 1) < y.view(1, 1, -1)
    mask = torch.zeros(before.shape, dtype=z.dtype, device=z.device).masked_fill_(~before, -math.inf)
    m_before = (z + mask).amax(1)                                           # max over classes j < y
    return (zy == m) & (m_before < m)


class StackedMLP:
    """K MLPs in the engine's layout, with per-range activations and optimisers.

    ``activations`` and ``optimizers`` are per run (length K, already sorted into
    ranges); ``data_groups`` maps each run to its minibatch stream (runs with the
    same data order share first-layer GEMMs when ``shared`` is set).
    """

    def __init__(self, weights: list[torch.Tensor], log_scale: torch.Tensor, learn: torch.Tensor,
                 lr: torch.Tensor, activations: list[str], optimizers: list[str], data_groups: list[int],
                 shared: bool, trains: bool = True, eval_block_bytes: int | None = None):
        self.W = weights                                          # [(K, n_l, n_{l-1} + 1)]
        self.activations, self.optimizers, self.data_groups = activations, optimizers, data_groups
        self.K = weights[0].shape[0]
        if unknown := sorted(set(optimizers) - set(OPTIMIZERS)):
            raise ValueError(f"unknown optimizer(s) {unknown}; valid: {list(OPTIMIZERS)}")
        self.log_scale, self.learn, self.lr = log_scale, learn, lr  # (K,) each
        self.act_ranges = ranges(activations)
        self.opt_ranges = ranges(optimizers)
        self.shared = shared
        self.data_ranges = ranges(data_groups)                    # contiguous when sorted by data order
        self.data_group = torch.tensor(data_groups, device=log_scale.device)
        self.grads = [torch.empty_like(w) for w in weights] if trains else []
        # per run, per example
        self.forward_flops, self.step_flops = flops_per_example([weights[0].shape[2] - 1] + [w.shape[1] for w in weights])
        self.eval_block_bytes = eval_block_bytes
        self.frozen = False                                        # set once a CUDA graph holds the step's buffers
        self._storage: dict[str, torch.Tensor] = {}                # name -> flat storage, grown to the largest use
        self._shape: dict[str, tuple] = {}                         # name -> the shape last viewed
        params = [*self.W, self.log_scale]
        self._adam = {}
        for s, e, name in self.opt_ranges if trains else ():
            if name == "adam":
                self._adam[(s, e)] = dict(
                    m=[torch.zeros_like(p[s:e]) for p in params], v=[torch.zeros_like(p[s:e]) for p in params],
                    u=[torch.zeros_like(p[s:e]) for p in params],
                    step=[torch.zeros((), dtype=torch.float32, device=p.device) for p in params])

    def subset(self, runs: torch.Tensor) -> "StackedMLP":
        """A forward-only stacked model of some runs (indices ``runs``, ascending), weights copied."""
        keep = runs.tolist()
        pick = lambda values: [values[i] for i in keep]   # noqa: E731
        return StackedMLP([w.index_select(0, runs) for w in self.W], self.log_scale[runs], self.learn[runs],
                          self.lr[runs], pick(self.activations), pick(self.optimizers), pick(self.data_groups),
                          self.shared, trains=False, eval_block_bytes=self.eval_block_bytes)

    def _buffer(self, name: str, rows: int, cols: int, ones_row: bool = False) -> torch.Tensor:
        """A contiguous (K, rows, cols) work tensor: a view of one flat storage per name, grown to the
        largest shape asked for and then reused (evaluation blocks of any size share it: no allocation
        inside the loop, no second copy per block size, fixed addresses);
        with ``ones_row``, its last row is ones (refilled when the shape changes; nothing else writes it).

        Once ``frozen`` (a CUDA graph captured the step), a buffer may not move: asking more of any buffer
        but evaluation's (names under "eval/") raises; the step's, forward ("train/pre", "train/h") and
        backward ("train/da", "train/dh", "train/wt") alike, are fixed."""
        n = self.K * rows * cols
        flat = self._storage.get(name)
        if flat is None or flat.numel() < n:
            if self.frozen and not name.startswith("eval/"):
                raise RuntimeError(f"work buffer {name} would move under a captured CUDA graph "
                                   f"({n} > {0 if flat is None else flat.numel()} elements)")
            w = self.W[0]
            flat = self._storage[name] = torch.empty(n, device=w.device, dtype=w.dtype)
            self._shape.pop(name, None)
        buf = flat[:n].view(self.K, rows, cols)
        if self._shape.get(name) != (rows, cols):
            self._shape[name] = (rows, cols)
            if ones_row:
                buf[:, -1].fill_(1.0)
        return buf

    # ---- forward -------------------------------------------------------------------------------
    def _hidden(self, a: torch.Tensor, out: torch.Tensor) -> None:
        """out[:, :n] = act(a) per activation range, written in place; out's last row stays ones."""
        for s, e, name in self.act_ranges:
            if name in ACTIVATIONS_INTO:
                ACTIVATIONS_INTO[name](a[s:e], out[s:e, :-1])
            else:
                out[s:e, :-1].copy_(get_activation(name)(a[s:e]))

    def _first_layer_shared(self, x_rows: list[torch.Tensor], buffers: str) -> torch.Tensor:
        """a_1 (K, n_1, B) from one GEMM per data range; ``x_rows[g]`` is group g's [x; 1] (B, D + 1)."""
        W1 = self.W[0]
        a = self._buffer(f"{buffers}/pre0", W1.shape[1], x_rows[0].shape[0])
        for s, e, g in self.data_ranges:
            torch.mm(W1[s:e].reshape(-1, W1.shape[2]), x_rows[g].t(), out=a[s:e].view(-1, a.shape[2]))
        return a

    def forward(self, x: torch.Tensor | list[torch.Tensor], buffers: str = "eval") -> tuple[torch.Tensor, list, list]:
        """Logits z (K, C, N) and, per hidden layer, pre-activations (K, n, N) and [h; 1] (K, n + 1, N).

        ``x``: one input shared by all runs, [x; 1] (N, D + 1); or per data group a list of them
        (``shared``); or per run (K, N, D + 1). ``buffers``: whose work buffers to use ("eval", the
        default, for evaluation blocks; "train" for the training step, whose buffers never change shape
        or address, which a captured CUDA graph needs).
        """
        W1 = self.W[0]
        if isinstance(x, list):
            a = self._first_layer_shared(x, buffers)
        elif x.dim() == 2:
            a = self._buffer(f"{buffers}/pre0", W1.shape[1], x.shape[0])
            torch.mm(W1.view(-1, W1.shape[2]), x.t(), out=a.view(-1, x.shape[0]))
        else:
            a = torch.bmm(W1, x.transpose(1, 2), out=self._buffer(f"{buffers}/pre0", W1.shape[1], x.shape[1]))
        pres, hs = [], []
        for i, w in enumerate(self.W[1:], start=1):
            h = self._buffer(f"{buffers}/h{i - 1}", a.shape[1] + 1, a.shape[2], ones_row=True)
            self._hidden(a, h)
            pres.append(a)
            hs.append(h)
            a = torch.bmm(w, h, out=self._buffer(f"{buffers}/pre{i}", w.shape[1], a.shape[2]))
        return a.mul_(self.log_scale.exp().view(-1, 1, 1)), pres, hs

    # ---- one training step ---------------------------------------------------------------------
    def step(self, x, y: torch.Tensor, loss_grad, alive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD/Adam step of every live run on its minibatch; returns (loss (K,), finite (K,)).

        ``x`` as in :meth:`forward` (per data group or per run), ``y`` (K, B). ``finite``: the run's loss
        and every gradient entry are finite (one sum per tensor: NaN/inf anywhere makes it non-finite; so
        does a sum that overflows). A run not ``alive`` or not ``finite`` keeps its weights and log scale
        bit for bit, whatever its gradient holds (:meth:`_update`).
        """
        z, pres, hs = self.forward(x, buffers="train")
        B = z.shape[2]
        l, g = loss_grad(z.transpose(1, 2), y)                  # (K, B), (K, B, C)
        loss = l.mean(1)
        scale = self.log_scale.exp()
        dlog_s = torch.where(self.learn, (g * z.transpose(1, 2)).sum((1, 2)) / B, 0.0)  # dL/dlog s = sum g z / B
        self.grad_log_scale = dlog_s
        da = torch.mul(g.transpose(1, 2), scale.view(-1, 1, 1) / B,             # dL/da_L (K, C, B)
                       out=self._buffer(f"train/da{len(self.W) - 1}", z.shape[1], B))
        inputs = [x, *hs]
        for l_ in range(len(self.W) - 1, -1, -1):
            if l_ == 0:
                self._first_layer_grad(x, da)
            else:
                torch.bmm(da, inputs[l_].transpose(1, 2), out=self.grads[l_])
                w = self.W[l_]
                wt = self._buffer(f"train/wt{l_}", w.shape[2] - 1, w.shape[1])
                wt.copy_(w[:, :, :-1].transpose(1, 2))                 # contiguous W^T: a narrow layer's
                dh = torch.bmm(wt, da,                                 # bmm on a strided view is 3x slower
                               out=self._buffer(f"train/dh{l_}", w.shape[2] - 1, da.shape[2]))  # (K, n, B)
                da = self._buffer(f"train/da{l_ - 1}", dh.shape[1], dh.shape[2])
                for s, e, name in self.act_ranges:
                    ACTIVATION_GRADS[name](dh[s:e], pres[l_ - 1][s:e], hs[l_ - 1][s:e, :-1], da[s:e])
        finite = torch.isfinite(loss + dlog_s + sum(gr.view(self.K, -1).sum(1) for gr in self.grads))
        MODEL_FLOPS["train"] += self.K * B * self.step_flops
        self._update(alive & finite, dlog_s)
        return loss, finite

    def _first_layer_grad(self, x, da: torch.Tensor) -> None:
        dW1 = self.grads[0]
        if isinstance(x, list):
            for s, e, g in self.data_ranges:
                torch.mm(da[s:e].reshape(-1, da.shape[2]), x[g], out=dW1[s:e].view(-1, dW1.shape[2]))
        else:
            torch.bmm(da, x, out=dW1)

    @torch.no_grad()
    def _update(self, live: torch.Tensor, dlog_s: torch.Tensor) -> None:
        """theta <- theta - lr_k [live_k] u for every parameter tensor: u = g (SGD); u = m^/(sqrt(v^) + eps)
        (Adam, from torch's fused kernel run on a zeroed buffer with rate 1, which leaves -u there).

        A run that is not ``live`` keeps every bit of its weights and log scale whatever its gradient
        holds: its update is zeroed by selection (``where(live, u, 0)``), not by a zero rate
        (0 * inf = NaN). Its Adam moments still take its gradient (they may turn NaN) and its range's
        step count advances; they are never read again, as a run that is not live never trains again
        (``alive`` only turns false). A fixed number of kernels, no host sync (a CUDA graph replays it)."""
        params, grads = [*self.W, self.log_scale], [*self.grads, dlog_s]
        shape = lambda p: (-1, *([1] * (p.dim() - 1)))            # noqa: E731  a (K,) vector against p
        for s, e, name in self.opt_ranges:
            lr_se, live_se = self.lr[s:e], live[s:e]
            if name == "sgd":                # u = g, selected into a new tensor (weight_grad_norms reads g)
                for p, g in zip(params, grads):
                    p[s:e].addcmul_(lr_se.view(shape(p)), torch.where(live_se.view(shape(p)), g[s:e], 0.0),
                                    value=-1.0)
                continue
            st = self._adam[(s, e)]
            for u in st["u"]:
                u.zero_()
            torch._foreach_add_(st["step"], 1)
            torch._fused_adam_(st["u"], [g[s:e] for g in grads], st["m"], st["v"], [], st["step"],
                               lr=1.0, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8,
                               amsgrad=False, maximize=False)
            for p, u in zip(params, st["u"]):   # -u, zeroed in place where not live (the buffer is Adam's own)
                p[s:e].addcmul_(lr_se.view(shape(p)), u.masked_fill_(~live_se.view(shape(p)), 0.0))

    # ---- full-set evaluation -------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, loss_grad=None, saturation: bool = False,
                 log_probs=None, stuck=None) -> dict:
        """Per run (K,): accuracy and, with ``loss_grad``, the loss, mean_i ||dl_i/dz_i||, mean |z|,
        mean_i ||z_i|| and (``saturation``) the saturated fraction, overall and per hidden layer
        (``saturated_frac_layers``, (L - 1, K)); with ``stuck`` (``losses.stuck_outputs``), the fraction of
        examples answered wrongly whose true-class output derivative has vanished, at each threshold of
        ``losses.STUCK_FRACTIONS`` (``stuck_wrong_frac``, ``_strict``, ``_loose``);
        with ``log_probs`` (z (K, n, C) -> log p), the test
        metrics of :class:`calibration.CalibrationSums` (``nll``, ``brier``, ``ece``) and every example's
        outputs (``per_example``). Over all of
        [x; 1] (N, D + 1), in blocks of examples within the block budget (:meth:`_eval_block`)."""
        K = self.K
        block = self._eval_block()
        below = {name: stuck_below(f) for name, f in STUCK_FRACTIONS.items()} if stuck is not None else {}
        sums = {k: torch.zeros(K, device=x.device, dtype=x.dtype)
                for k in ("acc", "loss", "grad_norm_logits", "abs", "norm", *below)}
        sats = [(s, e, Saturation(name, e - s, x.device)) for s, e, name in self.act_ranges] if saturation else []
        cal = CalibrationSums(K, x.device, keep=True) if log_probs is not None else None
        for n0 in range(0, x.shape[0], block):
            self._add_block(sums, x[n0:n0 + block], y[n0:n0 + block], loss_grad, stuck, below, cal, log_probs,
                            sats)
        n, C = x.shape[0], self.W[-1].shape[1]
        MODEL_FLOPS["eval"] += K * n * self.forward_flops
        out = {"acc": sums["acc"] / n}
        out.update({name: sums[name] / n for name in below})
        if loss_grad is not None:
            out.update(loss=sums["loss"] / n, grad_norm_logits=sums["grad_norm_logits"] / n,
                       mean_abs_logit=sums["abs"] / (n * C), logit_norm=sums["norm"] / n)
        if saturation:
            out["saturated_frac"] = torch.cat([sat.fraction() for _, _, sat in sats]) if len(self.W) > 1 \
                else torch.full((K,), math.nan, device=x.device)
            out["saturated_frac_layers"] = torch.stack(
                [torch.cat(per_range) for per_range in zip(*[sat.layer_fractions() for _, _, sat in sats])]) \
                if len(self.W) > 1 else torch.empty(0, K, device=x.device)
        if cal is not None:
            out.update({k: v for k, v in cal.result().items() if k != "acc"})
            out["per_example"] = cal.per_example()                  # (K, N) each
        return out

    def _add_block(self, sums: dict, xb: torch.Tensor, yb: torch.Tensor, loss_grad, stuck, below: dict,
                   cal, log_probs, sats: list) -> None:
        """Add one block of examples, [x; 1] (n, D + 1) and y (n,), to :meth:`evaluate`'s sums. Its
        temporaries die when it returns, so a block never holds the last one's (``sizing`` counts one)."""
        K = self.K
        z, _, hs = self.forward(xb)                                 # (K, C, n)
        right = correct(z, yb)                                      # (K, n)
        sums["acc"] += right.sum(1)
        if stuck is not None:
            q = stuck(z.transpose(1, 2), yb)                        # (K, n) true-class output
            for name, q_max in below.items():
                sums[name] += ((q < q_max) & ~right).sum(1)
        if cal is not None:
            cal.add(log_probs(z.transpose(1, 2)), yb)
        if loss_grad is None:
            return
        zt = z.transpose(1, 2)                                      # (K, n, C)
        l, g = loss_grad(zt, yb.expand(K, -1))
        sums["loss"] += l.sum(1)
        sums["grad_norm_logits"] += (g * g).sum(-1).sqrt_().sum(1)       # ||.||: sum over a short
        sums["abs"] += z.abs().sum((1, 2))                              # axis as squares, 20x
        sums["norm"] += (z * z).sum(1).sqrt_().sum(1)                   # torch.norm there
        for s, e, sat in sats:
            for layer, h in enumerate(hs):
                sat.add(layer, h[s:e, :-1])

    def _eval_block(self) -> int:
        """Examples per evaluation block: every buffer a block holds, for every run, within the block budget
        (``sizing.examples_per_block``; ``EVAL_BLOCK_BYTES`` where none was given)."""
        budget = EVAL_BLOCK_BYTES if self.eval_block_bytes is None else self.eval_block_bytes
        return sizing.examples_per_block(budget, self.K, [0] + [w.shape[1] for w in self.W])

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """z (K, N, C) of every run on [x; 1] (N, D + 1), in the evaluation's blocks of examples (the
        hidden activations of all N at once would not fit for a large split and a wide stack)."""
        block = self._eval_block()
        MODEL_FLOPS["eval"] += self.K * x.shape[0] * self.forward_flops
        return torch.cat([self.forward(x[n0:n0 + block])[0].transpose(1, 2).clone()
                          for n0 in range(0, x.shape[0], block)], dim=1)

    def weight_grad_norms(self) -> torch.Tensor:
        """(L, K): ||dL/dW_l|| (Frobenius, weights only, bias column left out) of the last :meth:`step`,
        layer 1 nearest the input."""
        return torch.stack([g[:, :, :-1].pow(2).sum((1, 2)).sqrt() for g in self.grads])
