"""The workflow on a real SLURM cluster: Debian's slurmctld + slurmd + munge started
as a single-node cluster in a temporary directory (tests/slurm/start_cluster.sh),
driven by snakemake-executor-plugin-slurm through workflow/profiles/slurm.

Skipped, saying why, where SLURM or the plugin is not installed; with
``XENT_REQUIRE_SLURM=1`` (CI) that is a failure instead. Every command runs
under ``timeout -k`` (the plugin can wait forever on a cluster it lost track of),
and only the daemons this test started are stopped.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SMOKE, assert_same_tables

import pytest

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

SCRIPTS = Path(__file__).parent / "slurm"
NEEDED = ["slurmctld", "slurmd", "munged", "sbatch", "squeue", "scontrol"]
# This machine has 2 cores and fake GPUs: ask for what one node has.
LOCAL_OVERRIDES = [
    "--default-resources", "slurm_partition=debug", "runtime=10", "mem_mb=1000",
    "--set-resources", *[f"{rule}:{r}" for rule in ("reference_group", "tune_group", "evaluate_group")
                         for r in ("gpu=1", "cpus_per_gpu=1", "mem_mb=1500")],
    "amp_training:gpu=1", "amp_training:cpus_per_gpu=1", "amp_training:mem_mb=1500", "overflow_probe:mem_mb=1500",
    "--jobs", "4", "--latency-wait", "5",
    # no accounting database here: ask squeue, and start asking after 1 s (default 40 s)
    "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
]


def _plugin_missing() -> str | None:
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[cluster]')"
    return None


def _cluster_missing() -> str | None:
    absent = [b for b in NEEDED if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if absent:
        return f"SLURM is not installed ({', '.join(absent)} missing; apt-get install -y slurmctld slurmd slurm-client munge)"
    if os.geteuid() != 0:
        return "the local cluster runs its daemons as root"
    return _plugin_missing()


def _require(missing: str | None) -> None:
    """Skip, saying why, when something is missing; fail instead under XENT_REQUIRE_SLURM=1 (CI)."""
    if missing:
        if os.environ.get("XENT_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM test required but {missing}")
        pytest.skip(f"SLURM test skipped: {missing}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    _require(_cluster_missing())
    base = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "XENT_SLURM_DIR": str(base)}
    start = subprocess.run(["timeout", "-k", "5", "120", str(SCRIPTS / "start_cluster.sh")], env=env,
                           capture_output=True, text=True)
    try:
        assert start.returncode == 0, start.stdout[-3000:] + start.stderr[-3000:]
        env["SLURM_CONF"] = str(base / "etc" / "slurm.conf")
        env["PATH"] = f"{base / 'bin'}:{env['PATH']}"  # srun wrapper: the jobstep plugin drops SLURM_CONF
        yield env
    finally:
        subprocess.run(["timeout", "-k", "5", "60", str(SCRIPTS / "stop_cluster.sh")], env=env,
                       capture_output=True, text=True)


@pytest.fixture(scope="module")
def slurm_run(cluster, repo, tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm_work")
    cmd = ["timeout", "-k", "10", "900", sys.executable, "-m", "snakemake", "-s", str(repo / "workflow" / "Snakefile"),
           "-d", str(work), "--workflow-profile", str(repo / "workflow" / "profiles" / "slurm"),
           "--configfile", str(repo / "config" / "smoke.yaml"), *LOCAL_OVERRIDES]
    proc = subprocess.run(cmd, env=cluster, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return work, proc.stdout + proc.stderr


STAGES = {"reference": "reference", "tune": "tune", "evaluate": "eval"}   # provenance's stage -> sweep phase


def test_every_training_job_ran_as_a_slurm_job_with_a_gpu_request(slurm_run, cluster, repo):
    import yaml

    from experiments.config import validate_config
    from experiments.sweep import groups_from_config

    work, log = slurm_run
    jobs = json.loads((work / SMOKE / "provenance.json").read_text())["jobs"]
    cfg = validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))
    assert sorted(jobs) == sorted(f"{stage}/{g}" for stage, phase in STAGES.items()
                                  for g in groups_from_config(cfg, phase))     # the smoke config's groups, every stage
    assert len(jobs) == 10
    for name, env in jobs.items():
        stage, group = name.split("/")
        assert env["slurm_job_id"], name
        assert env["device"] == "cpu"  # fake GPUs: scheduled as GPU jobs, no CUDA inside
        info = subprocess.run(["timeout", "-k", "5", "30", "scontrol", "show", "job", env["slurm_job_id"]],
                              env=cluster, capture_output=True, text=True).stdout
        assert "JobState=COMPLETED" in info, info
        assert re.search(r"(TresPerJob|TresPerNode)=\S*gpu[:=]1", info), info
        rule = {"reference": "reference_group", "tune": "tune_group", "evaluate": "evaluate_group"}[stage]
        assert f"rule_{rule}_wildcards_{group}" in info  # the plugin's comment names the rule and group
    # the aggregation, provenance and report rules ran on the submitting machine
    assert re.search(r"localrule (aggregate_convergence|report)", log)


def test_slurm_results_equal_the_local_run(slurm_run, smoke_run):
    work, _ = slurm_run
    assert_same_tables(work / SMOKE, smoke_run / SMOKE, also=("sweep.parquet",))


def test_cluster_config_plans_a_gpu_job_per_group(repo, tmp_path):
    """`snakemake --workflow-profile workflow/profiles/slurm -n` on config/cluster.yaml: no cluster needed."""
    _require(_plugin_missing())
    import yaml

    from experiments.config import validate_config
    from experiments.sweep import groups_from_config

    cmd = ["timeout", "-k", "5", "120", sys.executable, "-m", "snakemake", "-s", str(repo / "workflow" / "Snakefile"),
           "-d", str(tmp_path), "--workflow-profile", str(repo / "workflow" / "profiles" / "slurm"),
           "--configfile", str(repo / "config" / "cluster.yaml"), "-n"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    cfg = validate_config(yaml.safe_load((repo / "config" / "cluster.yaml").read_text()))
    for rule, phase in (("reference_group", "reference"), ("tune_group", "tune"), ("evaluate_group", "eval")):
        groups = groups_from_config(cfg, phase)
        assert re.search(rf"^{rule}\s+{len(groups)}$", out, re.M), rule
        jobs = re.findall(rf"rule {rule}:.*?resources: ([^\n]*)", out, re.S)
        assert len(jobs) == len(groups) == (6 if phase == "reference" else 54)   # 5 datasets, MNIST-1D depth
        for resources in jobs:
            assert "gpu=1" in resources and "cpus_per_gpu=4" in resources and "runtime=120" in resources
    assert not (tmp_path / "results").exists()


def test_device_cuda_on_a_node_without_cuda_fails_the_job_in_one_line(cluster, repo, tmp_path):
    """On a cluster the login node is not checked (it need not have a GPU); the job is."""
    target = f"{SMOKE}/convergence/reference/digits.cross_entropy.parquet"   # the first training job
    cmd = ["timeout", "-k", "10", "300", sys.executable, "-m", "snakemake", "-s", str(repo / "workflow" / "Snakefile"),
           "-d", str(tmp_path), "--workflow-profile", str(repo / "workflow" / "profiles" / "slurm"),
           "--configfile", str(repo / "config" / "smoke.yaml"), "--config", "device=cuda", *LOCAL_OVERRIDES,
           "--retries", "0", target]
    proc = subprocess.run(cmd, env=cluster, capture_output=True, text=True)
    assert proc.returncode != 0
    log = (tmp_path / SMOKE / "logs" / "reference" / "digits.cross_entropy.log").read_text()
    assert log.strip().splitlines() == [log.strip()]
    assert log.startswith("config error: device: 'cuda' was requested but torch sees no CUDA device on ")
    assert not (tmp_path / target).exists()
