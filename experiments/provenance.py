"""What a rerun needs to know: code version, library versions, device, config."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .config import config_hash

PACKAGES = ["torch", "snakemake", "pandas", "numpy", "pyarrow", "scikit-learn", "matplotlib",
            "seaborn", "nbclient", "nbconvert"]


def git_state(repo: Path | str) -> dict:
    """Commit hash and whether the work tree differs from it ('unknown' outside git)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": "unknown", "dirty": None}
    dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
    return {"commit": head.stdout.strip(), "dirty": dirty}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def device_info(devices_used: list[str]) -> dict:
    import torch

    info = {"used": sorted(set(devices_used)), "cuda_available": torch.cuda.is_available(),
            "torch_cuda": torch.version.cuda, "cpu": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def provenance(config: dict, repo: Path | str, devices_used: list[str], started_at: str | None,
               stage_wall_s: dict) -> dict:
    """The provenance record written to ``results/provenance.json``."""
    return {
        "git": git_state(repo),
        "versions": versions(),
        "platform": platform.platform(),
        "argv": sys.argv,
        "device": device_info(devices_used),
        "config": config,
        "config_hash": config_hash(config),
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "stage_wall_s": stage_wall_s,
    }
