"""Convergence: does the loss change how fast, how well and how calibrated a classifier learns?

Holds the training side of the sweep: ``data`` (datasets and their three splits; ``vision`` names the
torchvision ones), ``activations``, ``losses`` (the loss registry, closed-form gradients, predictive
distributions), ``models`` (``init_params``, ``init_engine_weights`` and the autograd reference),
``engine`` (the stacked MLP that trains the sweep), ``sizing`` (runs per chunk and examples per
evaluation block, from the device's total memory), ``steps`` (the training step eager, on fixed
buffers, or as a CUDA graph), ``calibration`` (test-split metrics), ``training`` (groups of runs,
checkpoints), ``job`` (a workflow job's device, plan and training), ``init_control`` (the log-prior
output bias control), ``tuning`` (the learning-rate search; its score and choice read
``experiments.analysis.summary``) and ``gradients`` (analytic gradient scales). The tables and claims
built from its results live in ``experiments.analysis``.

May import: the shared plumbing (``experiments.config``, ``columns``, ``storage``, ``provenance``,
``sweep``), ``analysis`` and itself; never ``overflow`` or ``report``.
"""
