"""xent-bench: why not train a classifier with MSE?

The package by concern (``tests/test_architecture.py`` keeps the import directions):

- shared plumbing, torch-free so the Snakefile imports it cheaply: ``config`` (validation against
  ``config.schema.yaml``), ``sweep`` (config -> runs, stacks, groups), ``columns`` (every table's
  column names), ``storage`` (atomic writes), ``provenance``, ``stats`` (bootstrap intervals, sign
  tests); imports nothing outside itself;
- ``lecture``: the lecture's worked numbers (plumbing only);
- ``convergence/``: datasets, losses, activations, the training engine, tuning, test metrics and the
  tables and claims built from them (plumbing only);
- ``overflow/``: the probe of loss implementations, IEEE-754 thresholds, reduced-precision
  training (plumbing, ``lecture`` and ``convergence``);
- ``report/``: figures, findings, tables on the page and rendering (anything).
"""

__version__ = "0.1.0"
