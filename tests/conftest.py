import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from experiments.config import load_schema, validate_config

REPO = Path(__file__).resolve().parent.parent

# The test layers (docs/development.md): `pytest -m "not slow"` after every change (under 2 minutes on 2
# cores), `pytest` before you stop. A test that trains a workflow, renders, starts SLURM or a browser is
# slow by its marker; one that takes more than a few seconds on its own is marked slow where it stands.
SLOW_BY_MARKER = ("workflow", "slurm", "gpu")
FAST_LIMIT_S = 5.0        # a fast-layer test slower than this is named at the end of the run


def pytest_configure(config):
    """One torch thread in the test process: its tensors are tiny, and on a loaded machine (CI beside other
    jobs) a second spinning thread made single tests 10 to 50 times slower (measured: 0.2 s idle, 24 s
    beside a sweep). The workflow's jobs, run as subprocesses, set their own threads."""
    import torch

    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(m) for m in SLOW_BY_MARKER) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


_too_slow: list[tuple[str, float]] = []


def pytest_runtest_logreport(report):
    """Keeps the fast layer fast: a test not marked slow whose setup or call took over FAST_LIMIT_S."""
    if report.when in ("setup", "call") and report.duration > FAST_LIMIT_S and "slow" not in report.keywords:
        _too_slow.append((report.nodeid, report.duration))


def pytest_terminal_summary(terminalreporter):
    if _too_slow:
        terminalreporter.write_sep("-", f"fast-layer tests over {FAST_LIMIT_S:g} s: mark them slow or make them faster")
        for nodeid, seconds in sorted(_too_slow, key=lambda x: -x[1]):
            terminalreporter.write_line(f"{seconds:6.1f} s  {nodeid}")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def schema() -> dict:
    return load_schema()


@pytest.fixture()
def default_config() -> dict:
    return validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


# Every results table of the contract (experiments.analysis.contract.CONTRACT), by name, under results/.
TABLE_PATHS = {
    "runs": "convergence/runs.parquet",
    "accuracy_runs": "convergence/accuracy_runs.parquet",
    "curves": "convergence/curves.parquet",
    "layers": "convergence/layers.parquet",
    "init_control": "convergence/init_control.parquet",
    "literature": "literature.parquet",
    "summary": "convergence/summary.parquet",
    "profile": "convergence/profile.parquet",
    "tuning": "convergence/tuning.parquet",
    "tuning_runs": "convergence/tuning_runs.parquet",
    "claims": "convergence/claims.parquet",
    "targets": "convergence/targets.parquet",
    "reference": "convergence/reference.parquet",
    "reference_runs": "convergence/reference_runs.parquet",
    "levels": "convergence/levels.parquet",
    "predictions": "convergence/predictions.parquet",
    "probes": "overflow/probes.parquet",
    "thresholds": "overflow/thresholds.parquet",
    "amp_training": "overflow/amp_training.parquet",
    "examples": "lecture/examples.parquet",
    "datasets": "data/datasets.parquet",
}


# What would make a browser load something from elsewhere (a plain <a href> link is not a load).
REMOTE_LOADS = re.compile(r"""\bsrc=["']?(https?:)?//|<link\b[^>]*\bhref=["']?(https?:)?//|url\(["']?(https?:)?//""")


def table_rows(page: str, table_id: str) -> tuple[list[str], list[list]]:
    """(column names, rows) of interactive table ``table_id`` in a rendered report (the data itables embeds)."""
    import json

    start = page.index(f'id="{table_id}"')
    args = json.loads(re.search(r"let dt_args = (\{.*?\});\n", page[start:], re.S).group(1))
    names = re.findall(r"<th>(.*?)</th>", args["table_html"])
    return names, json.loads(args["data_json"])


# Where a run of config/smoke.yaml writes, inside its working directory: results/<config name>/, so that
# it never overwrites the default run's results/ (experiments.config.results_folder).
SMOKE = Path("results") / "smoke"


def assert_same_tables(a: Path, b: Path, also: tuple[str, ...] = ()) -> None:
    """The tables in results folders ``a`` and ``b`` are equal, apart from the columns
    that are timings or timestamps (experiments.columns.TIMING_COLUMNS)."""
    import pandas as pd

    from experiments.columns import TIMING_COLUMNS

    for rel in [*TABLE_PATHS.values(), *also]:
        x, y = pd.read_parquet(a / rel), pd.read_parquet(b / rel)
        drop = [c for c in TIMING_COLUMNS if c in x.columns]
        pd.testing.assert_frame_equal(x.drop(columns=drop), y.drop(columns=drop), obj=rel)


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


@pytest.fixture(scope="session", autouse=True)
def report_names():
    """The labels the report reads from results/report/ (losses.parquet, names.parquet), as the workflow
    writes them: so that a test of a sentence or figure sees "MSE on sigmoid", not "mse_sigmoid"."""
    import pandas as pd

    from experiments.convergence.facts import dataset_names, loss_facts
    from experiments.overflow.facts import overflow_names
    from experiments.report import names

    names.use(loss_facts([], 10, {}), pd.concat([overflow_names(), dataset_names()], ignore_index=True))


@pytest.fixture()
def clean_registry():
    """The loss and dataset registries (experiments.registry) as they were before the test, whatever
    extensions it loads: the built-ins only, and no extension path left in the environment."""
    import os

    from experiments import registry

    saved = [dict(t) for t in (registry.LOSSES, registry.DATASETS, registry._loaded)]
    env = os.environ.pop(registry.ENV, None)
    yield registry
    for table, old in zip((registry.LOSSES, registry.DATASETS, registry._loaded), saved):
        table.clear()
        table.update(old)
    os.environ.pop(registry.ENV, None)
    if env is not None:
        os.environ[registry.ENV] = env
