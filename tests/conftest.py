import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from experiments.config import load_schema, validate_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def schema() -> dict:
    return load_schema()


@pytest.fixture()
def default_config() -> dict:
    return validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def snakemake(repo, workdir, *args, timeout=900):
    """Run the workflow with this Python, in ``workdir``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(repo / "workflow" / "Snakefile"),
           "-d", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def smoke_run(repo, tmp_path_factory):
    """The whole workflow on config/smoke.yaml in a temporary directory (once per session)."""
    work = tmp_path_factory.mktemp("smoke")
    proc = snakemake(repo, work, "--configfile", str(repo / "config" / "smoke.yaml"), "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work
