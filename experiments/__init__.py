"""xent-bench: why not train a classifier with MSE?

Modules (torch-free ones first, so the Snakefile can import them cheaply):
``config`` (validation), ``sweep`` (cells and groups), ``columns`` (table
column names); then ``data``, ``activations``, ``losses``, ``models`` (the
autograd MLP: the reference the engine is tested against, and AMP training),
``engine`` (the hand-written stacked MLP that trains the sweep), ``training``,
``overflow``, ``lecture``, ``tables``, ``figures``, ``provenance`` and
``render``.
"""

__version__ = "0.1.0"
