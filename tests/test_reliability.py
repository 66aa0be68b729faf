"""Reliability: a killed sweep resumes to the same tables without recomputing finished
groups; bad input is refused in one line before any job; numerical failure is a row;
reruns give the same tables."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import SMOKE, assert_same_tables, snakemake, table_rows

import pandas as pd
import pytest
import yaml

from experiments.columns import TIMING_COLUMNS

pytestmark = pytest.mark.workflow

# --- interruption ----------------------------------------------------------------

def _start(repo, work, cfg, cores=2):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(repo / "workflow" / "Snakefile"), "-d", str(work),
           "--configfile", str(cfg), "--cores", str(cores)]
    # own process group: SIGKILL takes the jobs down too, as when a node dies
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_when(proc, ready, timeout=300):
    end = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the run finished before the kill point"
        assert time.monotonic() < end, "kill point never reached"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _planned_groups(repo, work, cfg) -> set[str]:
    """Groups Snakemake would (re)train now: its own view of what is unfinished."""
    proc = snakemake(repo, work, "--configfile", str(cfg), "--cores", "2", "-n")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return set(re.findall(r"wildcards: group=(\S+)", proc.stdout + proc.stderr))


def _every_table_reads(work: Path) -> None:
    """Whatever a killed run left under results/ with a table's or checkpoint's name is whole."""
    import pickle

    for path in (work / "results").rglob("*.parquet"):
        pd.read_parquet(path)
    for path in (work / "results").rglob("*.pkl"):
        pickle.loads(path.read_bytes())


def test_killed_sweep_resumes_to_the_same_tables(repo, smoke_run, tmp_path):
    """The smoke config killed twice and resumed gives the shared smoke run's tables bit for bit, although
    it trains two runs at a time (groups checkpoint chunk by chunk) and, after the first kill, on one core
    where the shared run had two: neither resuming, nor the stack size, nor the cores change a number."""
    cfg = tmp_path / "smoke_chunked.yaml"
    raw = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    raw["convergence"]["max_stack"] = 2
    cfg.write_text(yaml.safe_dump(raw))
    res = tmp_path / "results" / "smoke_chunked"     # results/<config name>
    groups_dir = res / "convergence" / "groups"
    checkpoints = res / "convergence" / "checkpoints"
    all_groups = {p.name.removesuffix(".runs.parquet") for p in (smoke_run / SMOKE / "convergence" / "groups")
                  .glob("*.runs.parquet")}

    # kill 1: as soon as a group has checkpointed its first chunk (mid-group)
    proc = _start(repo, tmp_path, cfg)
    _kill_when(proc, lambda: any(checkpoints.glob("*/*/*.pkl")))   # checkpoints/{reference,tune,eval}/<group>/
    _every_table_reads(tmp_path)
    assert snakemake(repo, tmp_path, "--unlock", "--configfile", str(cfg)).returncode == 0
    todo = _planned_groups(repo, tmp_path, cfg)
    assert todo, "the kill came after training: nothing was interrupted"
    finished = all_groups - todo
    stamps = {g: (groups_dir / f"{g}.runs.parquet").stat().st_mtime_ns for g in finished}

    # kill 2: while the report renders (every table written, the report not yet); on one core
    proc = _start(repo, tmp_path, cfg, cores=1)
    _kill_when(proc, lambda: (res / "logs" / "report.log").exists())
    _every_table_reads(tmp_path)
    assert not (res / "report.html").exists()
    assert snakemake(repo, tmp_path, "--unlock", "--configfile", str(cfg)).returncode == 0
    finished_2 = all_groups - _planned_groups(repo, tmp_path, cfg)
    assert finished_2 == all_groups
    stamps.update({g: (groups_dir / f"{g}.runs.parquet").stat().st_mtime_ns for g in finished_2 - finished})

    # resume to the end
    proc = snakemake(repo, tmp_path, "--configfile", str(cfg), "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (res / "report.html").exists()
    assert_same_tables(res, smoke_run / SMOKE, also=("sweep.parquet",))
    # groups Snakemake had recorded as finished were not trained again ...
    assert {g: (groups_dir / f"{g}.runs.parquet").stat().st_mtime_ns for g in stamps} == stamps
    # ... and a group killed mid-way resumed from its checkpointed chunks, which are gone now
    logs = [p.read_text() for stage in ("reference", "tune", "train")
            for p in (res / "logs" / stage).glob("*.log")]
    assert any("from checkpoint" in text for text in logs)
    assert not list(checkpoints.glob("*/*/*.pkl"))
    again = snakemake(repo, tmp_path, "--configfile", str(cfg), "--cores", "2", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


# --- bad input -------------------------------------------------------------------

BAD_INPUT = [
    # (id, config text, what the one line must contain)
    ("unknown-loss", "convergence: {losses: [cross_entropy, mse]}", "convergence.losses[1]: unknown loss 'mse'; known: cross_entropy,"),
    ("unknown-activation", "convergence: {activations: [swish]}", "convergence.activations[0]: 'swish' is not one of"),
    ("unknown-dataset", "convergence: {datasets: [imagenet]}", "convergence.datasets[0]: unknown dataset 'imagenet'; known: digits,"),
    ("unknown-implementation", "overflow: {implementations: [naive]}", "overflow.implementations[0]: unknown implementation 'naive'; known:"),
    ("unknown-dtype", "overflow: {dtypes: [float8]}", "overflow.dtypes[0]: 'float8' is not one of"),
    ("negative-lr", "convergence: {learning_rates: {sgd: [0.1, -0.5]}}", "convergence.learning_rates.sgd[1]: -0.5"),
    ("zero-scale", "convergence: {logit_scales: [0]}", "convergence.logit_scales[0]: 0 is not allowed, must be > 0"),
    ("zero-steps", "convergence: {steps: 0}", "convergence.steps: 0 is not allowed, must be an integer >= 1"),
    ("zero-stack-size", "convergence: {max_stack: 0}", "convergence.max_stack: 0 is not allowed, must be an integer"),
    ("zero-group-size", "convergence: {max_group_runs: 0}", "convergence.max_group_runs: 0 is not allowed"),
    ("empty-axis", "convergence: {eval_seeds: []}", "convergence.eval_seeds: must not be empty"),
    ("seeds-overlap", "convergence: {tuning_seeds: [3], eval_seeds: [1, 2, 3]}",
     "convergence.tuning_seeds: [3] also in convergence.eval_seeds"),
    ("wrong-type", "convergence: {steps: many}", "convergence.steps: 'many' is not allowed, must be an integer"),
    ("unknown-key", "convergence: {lossses: [hinge]}", "unknown key 'lossses'"),
    ("target-above-1", "convergence: {targets: {main: 1.5}}", "convergence.targets.main: 1.5"),
    ("old-target-key", "convergence: {target_acc: {digits: 0.9}}", "convergence.target_acc: no longer a setting"),
]


@pytest.mark.parametrize("text,says", [b[1:] for b in BAD_INPUT], ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_one_line_and_nothing_runs(repo, tmp_path, text, says):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "earlier.txt").write_text("finished work")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\n")
    proc = snakemake(repo, tmp_path, "--configfile", str(bad), "--cores", "1")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [ln for ln in out.splitlines() if "config error" in ln]
    assert len(lines) == 1 and lines[0].startswith("config error: ") and says in lines[0], out[-2000:]
    assert "Traceback" not in out
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["earlier.txt"]
    assert (tmp_path / "results" / "earlier.txt").read_text() == "finished work"


def test_yaml_that_does_not_parse_is_refused_before_any_job(repo, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("convergence:\n  losses: [cross_entropy\n  steps: 5\n")
    proc = snakemake(repo, tmp_path, "--configfile", str(bad), "--cores", "1")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # Snakemake reads --configfile itself, before the workflow: its own line says what is wrong ...
    assert "Config file is not valid JSON or YAML" in out
    assert not (tmp_path / "results").exists()
    # ... and `python3 -m experiments.config FILE` says where
    check = subprocess.run([sys.executable, "-m", "experiments.config", str(bad)], capture_output=True, text=True)
    assert check.returncode != 0
    assert check.stderr.strip().splitlines() == [check.stderr.strip()]
    assert re.fullmatch(r"config error: .*bad\.yaml: YAML does not parse at line 3, column \d+: .+", check.stderr.strip())


def test_device_cuda_without_cuda_is_refused_before_any_job(repo, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = snakemake(repo, tmp_path, "--configfile", str(repo / "config" / "smoke.yaml"), "--config", "device=cuda",
                     "--cores", "1")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [ln for ln in out.splitlines() if "config error" in ln]
    assert len(lines) == 1 and "device: 'cuda' was requested but torch sees no CUDA device" in lines[0]
    assert not (tmp_path / "results").exists()


def test_config_values_never_reach_a_shell(repo):
    """Rules hand values to Python through params:, never through shell: strings."""
    rules = "\n".join(p.read_text() for p in (repo / "workflow").rglob("*.smk")) + (repo / "workflow" / "Snakefile").read_text()
    assert not re.search(r"^\s*(shell|run):", rules, re.M)


# --- numerical failure and reproducibility ---------------------------------------------

def test_numerical_failure_is_a_row_and_the_run_carries_on(smoke_run, repo):
    """The smoke config's reference and tune stages also try learning rates 1000 (losses explode) and 1e30
    (weights overflow to inf and NaN): those runs break (NaN/inf; a run whose loss ends above 10x its start
    without one would be diverged: tests/test_training.py plants both), the rest of their batch and the
    workflow go on, and the report's failures table lists every one of any stage."""
    cfg = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    assert {1000.0, 1e30} <= set(cfg["convergence"]["learning_rates"]["sgd"])
    res = smoke_run / SMOKE / "convergence"
    runs = pd.concat([pd.read_parquet(res / "reference_runs.parquet").assign(stage="reference"),
                      pd.read_parquet(res / "tuning_runs.parquet").assign(stage="tune"),
                      pd.read_parquet(res / "runs.parquet").assign(stage="evaluate")], ignore_index=True)
    broke = runs[runs["status"].isin(["nonfinite", "diverged"])]
    assert "nonfinite" in set(broke["status"]) and set(broke["status"]) <= {"nonfinite", "diverged"}
    assert set(broke["lr"]) == {1000.0, 1e30}                 # both rates break, at least on some runs
    assert set(broke["lr"]) <= {1000.0, 1e30}
    assert (broke.loc[broke["status"] == "nonfinite", "nonfinite_step"] >= 0).all()
    assert (broke.loc[broke["status"] == "diverged", "diverged_step"] >= 0).all()
    assert (runs.loc[runs["lr"] < 1000, "status"].isin(["ok", "not_reached"])).all()
    names, rows = table_rows((smoke_run / SMOKE / "report.html").read_text(), "failures-table")
    status = [r[names.index("status")] for r in rows]
    assert len(rows) == len(broke)                # the report's failures table lists every run that broke
    assert sorted(x for x in status if x in ("nonfinite", "diverged")) == sorted(broke["status"])


def test_a_runs_numbers_do_not_depend_on_its_stack_or_group_mates(repo):
    """The smoke group digits x cross-entropy trained alone and inside a bigger sweep (more
    activations, seeds and scales: other stacks, and stacks of another size): its runs are
    identical, bit for bit."""
    import copy

    import torch

    from experiments.columns import CURVES, RUN_KEYS
    from experiments.config import validate_config
    from experiments.sweep import groups_from_config
    from experiments.analysis.targets import Targets
    from experiments.convergence.training import train_group

    small = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    big = copy.deepcopy(small)
    big["convergence"].update(activations=["relu", "tanh"], tuning_seeds=[100, 5, 7], logit_scales=[0.5, 1.0, 10.0])
    tables = []
    for raw in (small, big):
        cfg = validate_config(raw)
        group = groups_from_config(cfg, "tune")["digits.cross_entropy"]
        tables.append(train_group(group, {"seed": cfg["seed"], "data": cfg["data"]}, torch.device("cpu"), "auto",
                                  targets=Targets.constant(0.8))[:2])
    (runs_a, curves_a), (runs_b, curves_b) = tables
    assert len(runs_b) > 2 * len(runs_a)
    keep = [c for c in runs_a.columns if c not in TIMING_COLUMNS]
    shared = runs_b[keep].merge(runs_a[RUN_KEYS], on=RUN_KEYS)
    pd.testing.assert_frame_equal(shared.sort_values(RUN_KEYS, ignore_index=True),
                                  runs_a[keep].sort_values(RUN_KEYS, ignore_index=True))
    shared_curves = curves_b.merge(runs_a[RUN_KEYS], on=RUN_KEYS)[CURVES]
    pd.testing.assert_frame_equal(shared_curves.sort_values(RUN_KEYS + ["step"], ignore_index=True),
                                  curves_a[CURVES].sort_values(RUN_KEYS + ["step"], ignore_index=True))
