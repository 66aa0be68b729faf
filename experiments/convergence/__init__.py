"""Convergence: does the loss change how fast, how well and how calibrated a classifier learns?

Holds the science of the sweep, from data to claims: ``data`` (datasets and their three splits),
``activations``, ``losses`` (the loss registry, closed-form gradients, predictive distributions),
``models`` (``init_params`` and the autograd reference), ``engine`` (the stacked MLP that trains the
sweep), ``calibration`` (test-split metrics), ``training`` (groups of runs, checkpoints), ``tuning``
(the learning-rate search), ``gradients`` (analytic gradient scales), ``tables``, ``claims`` and
``literature`` (the report's numbers as tables).

May import: the shared plumbing (``experiments.config``, ``columns``, ``storage``, ``provenance``,
``sweep``, ``stats``) and itself; never ``overflow`` or ``report``.
"""
