"""Names the report gives the overflow probe's implementations and axes, as a table
(``results/report/names.parquet``): the report reads it and imports nothing from here."""

from __future__ import annotations

import pandas as pd

from .probe import AXES, IMPLEMENTATION_LABELS


def overflow_names() -> pd.DataFrame:
    """kind ("implementation" or "axis"), name and the label a reader sees."""
    rows = [("implementation", k, v) for k, v in IMPLEMENTATION_LABELS.items()]
    rows += [("axis", k, v) for k, v in AXES.items()]
    return pd.DataFrame(rows, columns=["kind", "name", "label"])
