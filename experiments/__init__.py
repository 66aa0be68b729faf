"""xent-bench: why not train a classifier with MSE?

The package by concern (``tests/test_architecture.py`` keeps the import directions):

- shared plumbing, torch-free so the Snakefile imports it cheaply: ``config`` (validation against
  ``config.schema.yaml``), ``registry`` (losses and datasets by name, the built-ins' and a user's:
  ``from experiments import loss, dataset``), ``sweep`` (config -> runs, stacks, groups, their
  schedules), ``columns`` (every table's column names), ``storage`` (atomic writes), ``provenance``;
  imports nothing outside itself;
- ``lecture``: the lecture's worked numbers (plumbing only);
- ``analysis/``: the numbers the report prints, from the results tables, torch-free: summaries,
  targets, the performance profile, the seed bootstrap and Holm, the claims (numbers only) and the
  literature (plumbing only);
- ``convergence/``: datasets, losses, activations, the training engine, tuning and test metrics
  (plumbing and ``analysis``);
- ``overflow/``: the probe of loss implementations, IEEE-754 thresholds, reduced-precision
  training (plumbing, ``lecture``, ``analysis`` and ``convergence``);
- ``report/``: figures, findings, the wording of claims, tables on the page and rendering (plumbing and
  ``analysis`` only: it formats the tables the workflow wrote, and imports no torch).
"""

__version__ = "0.1.0"

from .registry import dataset, loss  # noqa: E402,F401  (a user's extension file: ``from experiments import loss``)
