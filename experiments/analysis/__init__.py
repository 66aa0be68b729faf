"""Analysis: the numbers the report prints, computed from the results tables (torch-free).

Holds ``contract`` (each table's columns, reading per-group files), ``stats`` (the hierarchical
bootstrap whose interval and test agree by construction; Holm's adjustment), ``summary``
(per-configuration summaries, the one selection rule), ``targets`` (each dataset's targets from the
reference stage), ``profile`` (the performance profile), ``paired`` (per-problem tables of a metric,
test-split metrics), ``rates`` (gradient scale, effective rate), ``depth`` (per-layer gradients),
``claims`` (every headline number with its interval and test, as rows: no sentences) and
``literature`` (published results beside ours).

Used by the workflow, the report and the tests; nothing here trains a model, so the planted-truth
tests exercise it alone.

May import: the shared plumbing (``experiments.columns``, ``config``, ``sweep``) and itself; never
``convergence``, ``overflow`` or ``report``.
"""
