"""Convergence: does the loss change how fast, how well and how calibrated a classifier learns?

Holds the training side of the sweep: ``data`` (datasets and their three splits),
``activations``, ``losses`` (the loss registry, closed-form gradients, predictive distributions),
``models`` (``init_params`` and the autograd reference), ``engine`` (the stacked MLP that trains the
sweep), ``calibration`` (test-split metrics), ``training`` (groups of runs, checkpoints), ``tuning``
(the learning-rate search; its score and choice read ``experiments.analysis.summary``) and
``gradients`` (analytic gradient scales). The tables and claims built from its results live in
``experiments.analysis``.

May import: the shared plumbing (``experiments.config``, ``columns``, ``storage``, ``provenance``,
``sweep``), ``analysis`` and itself; never ``overflow`` or ``report``.
"""
