"""Report: what the Quarto report shows and how it is rendered.

Holds ``figures`` (seaborn figures from tables), ``findings`` (the sentences with numbers),
``wording`` (every claim's sentence, from its row of the claims table),
``display`` (interactive tables, offline), ``qmd`` (the .qmd parser) and ``render`` (Quarto, or the
pure-Python fallback).

May import: everything else in ``experiments``; nothing imports it but the report and the workflow.
"""
