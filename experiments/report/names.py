"""Names as a reader sees them: losses, implementations, probe axes, datasets and optimisers.

The labels of losses and implementations are facts of the code that ran, so they are read from the
tables the workflow wrote (``results/report/losses.parquet``, ``names.parquet``: :func:`load`), never
imported from the training code: rendering needs neither torch nor the code of a user's own loss. A
name without a label is shown as itself.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

LOSS_LABELS: dict[str, str] = {}            # filled by load(): loss -> label, in the registry's order
LOSS_DEFINITIONS: dict[str, str] = {}
IMPLEMENTATION_LABELS: dict[str, str] = {}
AXIS_LABELS: dict[str, str] = {}
DATASET_LABELS: dict[str, str] = {"all": "all (pooled)"}   # filled by load() from the registry's labels
OPTIMIZER_LABELS = {"sgd": "SGD", "adam": "Adam"}


def use(losses: pd.DataFrame, names: pd.DataFrame | None = None) -> None:
    """Take the labels from ``losses`` (columns loss, label, definition) and ``names`` (kind, name, label)."""
    LOSS_LABELS.clear()
    LOSS_LABELS.update(zip(losses["loss"], losses["label"]))
    LOSS_DEFINITIONS.clear()
    LOSS_DEFINITIONS.update(zip(losses["loss"], losses["definition"]))
    if names is not None:
        for kind, target in (("implementation", IMPLEMENTATION_LABELS), ("axis", AXIS_LABELS),
                             ("dataset", DATASET_LABELS)):
            target.clear()
            sub = names[names["kind"] == kind]
            target.update(zip(sub["name"], sub["label"]))
        DATASET_LABELS.setdefault("all", "all (pooled)")


def load(report_tables: Path | str) -> None:
    """:func:`use` the tables in ``report_tables`` (``results/report``)."""
    d = Path(report_tables)
    use(pd.read_parquet(d / "losses.parquet"), pd.read_parquet(d / "names.parquet"))


def loss(name: str) -> str:
    return LOSS_LABELS.get(name, name)


def dataset(name: str) -> str:
    return DATASET_LABELS.get(name, name)


def optimizer(name: str) -> str:
    return OPTIMIZER_LABELS.get(name, name)


def implementation(name: str) -> str:
    return IMPLEMENTATION_LABELS.get(name, name)
