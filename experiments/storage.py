"""Writing result files atomically: a killed job never leaves a file that
Snakemake or the report would accept."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path | str, write) -> None:
    """Write through ``write(tmp_name)`` to a temporary file beside ``path``, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(df: pd.DataFrame, path: Path | str) -> None:
    _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_bytes(data: bytes, path: Path | str) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json(obj: dict, path: Path | str) -> None:
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
    _atomic(path, w)
