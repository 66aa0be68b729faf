"""Build results tables: concatenate per-group files, summarise for the report.

Pure pandas; no plotting and no file writing besides what the caller asks.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import columns


def concat_parquet(paths: list[Path | str]) -> pd.DataFrame:
    """Row-concatenate parquet files in the given (stable) order."""
    frames = [pd.read_parquet(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def steps_to_target_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, loss, activation, logit_scale, lr): median steps-to-target over the
    seeds that reached it, the fraction of seeds that reached it, and median final accuracy.

    A missed target never enters the median: ``reached`` says how many seeds count.
    """
    keys = ["dataset", "loss", "activation", "logit_scale", "lr"]
    g = runs.groupby(keys, sort=True)
    out = pd.DataFrame({
        "median_steps_to_target": g["steps_to_target"].median(),
        "reached": g["steps_to_target"].apply(lambda s: s.notna().mean()),
        "median_final_val_acc": g["final_val_acc"].median(),
        "seeds": g.size(),
    }).reset_index()
    return out


def first_break_table(probes: pd.DataFrame) -> pd.DataFrame:
    """Smallest probed logit gap at which loss or gradient is non-finite,
    per (implementation, dtype, num_classes); NaN where all probes stayed finite."""
    broken = probes[~(probes["loss_finite"] & probes["grad_finite"])]
    first = broken.groupby(["implementation", "dtype", "num_classes"])["logit_gap"].min()
    first_loss = probes[~probes["loss_finite"]].groupby(
        ["implementation", "dtype", "num_classes"])["logit_gap"].min()
    all_keys = probes[["implementation", "dtype", "num_classes"]].drop_duplicates()
    out = all_keys.merge(first.rename("first_nonfinite_gap").reset_index(), how="left")
    out = out.merge(first_loss.rename("first_nonfinite_loss_gap").reset_index(), how="left")
    return out.sort_values(["implementation", "num_classes", "dtype"]).reset_index(drop=True)


def check_columns(df: pd.DataFrame, expected: list[str], name: str) -> None:
    """Raise if ``df`` lacks any contract column of table ``name``."""
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")


CONTRACT = {
    "runs": columns.RUNS,
    "curves": columns.CURVES,
    "probes": columns.PROBES,
    "examples": columns.EXAMPLES,
}
