"""What a rerun needs to know: code version, library versions, device, config."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .config import config_hash

PACKAGES = ["torch", "snakemake", "pandas", "numpy", "pyarrow", "scikit-learn", "matplotlib",
            "seaborn", "nbclient", "nbconvert", "papermill", "itables"]


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
        info.update(gpu_info("cuda"))
    return info


def _number(value) -> float:
    """A benchmark field as a float; 'NA' or absent (platforms without psutil data) as 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return 0.0
    return x if x == x else 0.0


def stage_times(benchmark_files: list[str]) -> dict:
    """Per stage (a rule; ``train_group/<group>.tsv`` files count as stage ``train_group``):
    jobs, summed wall and CPU seconds, and the largest peak RSS, from Snakemake's ``benchmark:`` files; and
    ``total``, every stage together."""
    import pandas as pd

    out: dict = {}
    for f in benchmark_files:
        p = Path(f)
        stage = p.parent.name if p.parent.name != "benchmarks" else p.stem
        row = pd.read_csv(p, sep="\t").iloc[-1]  # the last repeat, should a rule be benchmarked several times
        s = out.setdefault(stage, {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0})
        s["jobs"] += 1
        s["wall_s"] += float(row["s"])
        s["cpu_s"] += _number(row.get("cpu_time"))
        s["max_rss_mb"] = max(s["max_rss_mb"], _number(row.get("max_rss")))
    if out:                               # every stage together (parallel jobs add up)
        out["total"] = {"jobs": sum(s["jobs"] for s in out.values()), "wall_s": sum(s["wall_s"] for s in out.values()),
                        "cpu_s": sum(s["cpu_s"] for s in out.values()),
                        "max_rss_mb": max(s["max_rss_mb"] for s in out.values())}
    return out


def gpu_info(device) -> dict:
    """Name, CUDA runtime and driver version of a CUDA ``device`` (empty on a CPU)."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return {}
    props = torch.cuda.get_device_properties(device)
    smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader",
                          "-i", str(device.index or 0)], capture_output=True, text=True) \
        if shutil.which("nvidia-smi") else None
    return {"gpu": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "compute_capability": f"{props.major}.{props.minor}", "cuda_runtime": torch.version.cuda,
            "driver": smi.stdout.strip() if smi is not None and smi.returncode == 0 else None}


def job_environment(device) -> dict:
    """Where a job ran: host, scheduler job id (SLURM), device and its GPU; written next to
    each group's tables and collected into provenance."""
    return {"host": platform.node(), "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_partition": os.environ.get("SLURM_JOB_PARTITION"), "device": str(device),
            **gpu_info(device)}


def provenance(config: dict, repo: Path | str, devices_used: list[str], started_at: str | None,
               stages: dict, jobs: dict, renderer: str | None = None) -> dict:
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
        "stages": stages,   # per rule: jobs, wall and CPU seconds, peak RSS (stage_times)
        "jobs": jobs,       # per training group: host, SLURM job id, device, GPU (job_environment)
        "renderer": renderer,  # what renders the report, with its version (experiments.report.render)
    }
