"""The training step of a chunk on fixed input buffers: run eagerly, or captured once as a CUDA graph
and replayed.

A small model's step on a GPU is bound by kernel launches, not arithmetic (issue 23, H200: 1.1-1.3 ms
per step of 64-64-10 whether the stack holds 128 or 4,096 runs); replaying the step as one CUDA graph
took 0.30 ms instead of 1.20 ms there. A graph replays the kernels it recorded on the addresses it
recorded, so everything the step reads or writes must stay put between steps:

- the minibatch is copied into buffers made once (:class:`StepRunner` owns them);
- ``alive`` is one tensor, updated in place by the caller (``alive &= finite``);
- the engine's training buffers, weights, gradients and Adam state are allocated before capture
  (the warm-up steps allocate them; evaluation uses buffers of its own: ``StackedMLP.forward``'s
  ``buffers``) and never reallocated;
- the returned (loss, finite) are the graph's outputs: read them before the next call.

Modes: ``eager`` passes the minibatch straight to ``StackedMLP.step`` (the CPU default); ``static``
copies it into the fixed buffers first and runs eagerly (the graph's plumbing without a graph, and the
CUDA default without ``cuda_graphs``; the CPU tests check it against ``eager``); ``graph`` is ``static``
with the first ``WARMUP`` steps run on a side stream (as torch's CUDA graph notes ask) and the next
captured, then replayed at every later step. A graph replays the same kernels on the same data, so its
numbers are the eager step's. A step is then one replay plus the few launches around it (the
minibatch's gather and copy, the caller's ``where`` and ``&=``) instead of tens to hundreds.
"""

from __future__ import annotations

import torch

from .engine import MODEL_FLOPS, StackedMLP

MODES = ("eager", "static", "graph")
WARMUP = 3   # eager steps before capture: cuBLAS handles, workspaces and every buffer exist by then


class StepRunner:
    """``runner(x, y) -> (loss (K,), finite (K,))``: one training step of ``net`` on minibatch ``x``
    (per data group a list of [x; 1] (B, D + 1), or per run (K, B, D + 1)) and labels ``y`` (K, B),
    updating the runs in ``alive`` (a (K,) bool tensor the caller keeps and updates in place)."""

    def __init__(self, net: StackedMLP, loss_grad, alive: torch.Tensor, mode: str = "eager"):
        if mode not in MODES:
            raise ValueError(f"unknown step mode {mode!r}; valid: {list(MODES)}")
        self.net, self.loss_grad, self.alive, self.mode = net, loss_grad, alive, mode
        self.x = self.y = self.side = None
        self.graph, self.out, self.calls = None, None, 0

    def __call__(self, x, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "eager":
            return self.net.step(x, y, self.loss_grad, self.alive)
        self._load(x, y)
        if self.graph is not None:
            self.graph.replay()
            MODEL_FLOPS["train"] += self.net.K * self.y.shape[1] * self.net.step_flops
            return self.out
        if self.mode == "graph" and self.calls >= WARMUP:
            self.graph, self.out = self._capture()           # records, runs nothing (counts its FLOPs once)
            self.net.frozen = True                           # the step's buffers may no longer move
            self.graph.replay()
            return self.out
        self.calls += 1
        if self.mode == "graph":
            return self._warm_up()
        return self.net.step(self.x, self.y, self.loss_grad, self.alive)

    def _step(self):
        return self.net.step(self.x, self.y, self.loss_grad, self.alive)

    def _warm_up(self):
        """An eager step on a side stream (made once), the current stream waiting for it."""
        if self.side is None:
            self.side = torch.cuda.Stream()
        self.side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.side):
            out = self._step()
        torch.cuda.current_stream().wait_stream(self.side)
        return out

    def _capture(self):
        """(graph, its outputs): one step recorded into a CUDA graph."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self._step()
        return graph, out

    def _load(self, x, y: torch.Tensor) -> None:
        """Copy the minibatch into the fixed buffers (made on the first call)."""
        if self.y is None:
            self.x = [t.clone() for t in x] if isinstance(x, list) else x.clone()
            self.y = y.clone()
            return
        if isinstance(x, list):
            torch._foreach_copy_(self.x, x)
        else:
            self.x.copy_(x)
        self.y.copy_(y)
