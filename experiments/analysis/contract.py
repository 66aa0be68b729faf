"""The results contract: every table's columns by name, and reading per-group parquet files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import columns


def concat_parquet(paths: list[Path | str]) -> pd.DataFrame:
    """Row-concatenate parquet files in the given (stable) order."""
    frames = [pd.read_parquet(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def check_columns(df: pd.DataFrame, expected: list[str], name: str) -> None:
    """Raise if ``df`` lacks any contract column of table ``name``."""
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")


def empty(name: str) -> pd.DataFrame:
    """Table ``name`` of the contract with no rows (a stage turned off, e.g. ``overflow: null``)."""
    return pd.DataFrame(columns=CONTRACT[name])


def read_table(path: Path | str, name: str) -> pd.DataFrame:
    """Table ``name`` from ``path``, or :func:`empty` where the stage that writes it is off."""
    return pd.read_parquet(path) if Path(path).exists() else empty(name)


CONTRACT = {
    "runs": columns.RUNS,
    "accuracy_runs": columns.RUNS,
    "summary": columns.SUMMARY,
    "profile": columns.PROFILE,
    "tuning": columns.TUNING,
    "tuning_runs": columns.TUNING_RUNS,
    "claims": columns.CLAIMS,
    "targets": columns.TARGETS,
    "reference": columns.REFERENCE,
    "reference_runs": columns.REFERENCE_RUNS,
    "levels": columns.LEVELS,
    "predictions": columns.PREDICTIONS,
    "curves": columns.CURVES,
    "layers": columns.LAYERS,
    "init_control": columns.INIT_CONTROL,
    "literature": columns.LITERATURE,
    "probes": columns.PROBES,
    "thresholds": columns.THRESHOLDS,
    "amp_training": columns.AMP_TRAINING,
    "examples": columns.EXAMPLES,
    "datasets": columns.DATASETS,
}
