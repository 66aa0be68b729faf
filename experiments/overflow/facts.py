"""Names the report gives the overflow probe's implementations and axes, as a table
(``results/report/names.parquet``): the report reads it and imports nothing from here."""

from __future__ import annotations

import pandas as pd

from ..convergence.losses import registered
from .probe import AXES, IMPLEMENTATION_LABELS


def overflow_names() -> pd.DataFrame:
    """kind ("implementation" or "axis"), name and the label a reader sees (a registered loss probed by
    name is labelled as the loss)."""
    rows = [("implementation", k, v) for k, v in IMPLEMENTATION_LABELS.items()]
    rows += [("implementation", k, s.label) for k, s in registered().items() if k not in IMPLEMENTATION_LABELS]
    rows += [("axis", k, v) for k, v in AXES.items()]
    return pd.DataFrame(rows, columns=["kind", "name", "label"])
