"""Overflow: where does each way of computing a loss stop giving finite numbers, and why?

Holds ``probe`` (the implementations, naive and fused, probed along three axes in four dtypes),
``thresholds`` (the break points IEEE-754 predicts from ``torch.finfo``, and the agreement check) and
``amp`` (training in reduced precision under autocast).

May import: the shared plumbing, ``experiments.lecture`` (the lecture's logits) and
``experiments.convergence`` (the loss registry, data and model for AMP training); never ``report``.
``probe`` never imports ``thresholds``: the predictor is passed in.
"""
