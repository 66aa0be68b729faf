"""Report: what the Quarto report shows and how it is rendered.

Holds ``figures`` (seaborn figures from tables), ``findings`` (the sentences with numbers),
``wording`` (every claim's sentence, from its row of the claims table), ``names`` (labels read from
the tables the workflow wrote), ``display`` (interactive tables, offline), ``qmd`` (the .qmd parser)
and ``render`` (Quarto, or the pure-Python fallback). It reads and formats tables: every number it
shows was computed by the workflow (``experiments.analysis.report_tables``).

May import: the plumbing and ``analysis`` (constants, the claims' row lookup); never ``convergence``
or ``overflow``, so rendering imports no torch and no user's loss (``tests/test_architecture.py``).
Nothing imports it but the report and the workflow.
"""
