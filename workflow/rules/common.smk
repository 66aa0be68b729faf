# Validate the config (one line naming the key on failure, before any job) and
# expand the sweep into groups (one job per dataset x loss, or smaller). torch is not
# imported here: the DAG builds in well under a second. Functions and globals only;
# rules live in the other files.
import sys
from pathlib import Path

from experiments.config import ConfigError, science_config, validate_config, workflow_config
from experiments.sweep import axis_values, groups_from_config

# Sources next to the workflow, so that --directory elsewhere still finds them.
REPO_DIR = Path(workflow.basedir).parent
REPORT_DIR = REPO_DIR / "report"

try:
    # the --configfile files (else config/config.yaml), then the --config entries on top
    CONFIG = validate_config(workflow_config(workflow.config_settings.configfiles,
                                             workflow.config_settings.config, REPO_DIR / "config" / "config.yaml"))
except ConfigError as err:
    sys.exit(str(err))  # one line, no traceback
# Jobs read the execution settings (device, max_stack, data.root, results: experiments.config.EXECUTION_KEYS)
# from snakemake.config, validated here with every default, never from params: Snakemake reruns a job
# whose params change, and where or in what batches a run trains changes none of its numbers.
config.clear()
config.update(CONFIG)
SCIENCE = science_config(CONFIG)  # the config without them: what rules pass as params
RESULTS = CONFIG["results"]  # results/ for the default config, results/<name>/ for <name>.yaml


def results(path):
    """``path`` inside this run's results folder (config key ``results``)."""
    return f"{RESULTS}/{path}"


REFERENCE_GROUPS = groups_from_config(CONFIG, "reference")
TUNE_GROUPS = groups_from_config(CONFIG, "tune")
EVAL_GROUPS = groups_from_config(CONFIG, "eval")
DATASETS = axis_values(CONFIG["convergence"], "datasets")  # of the main grid and every study
OVERFLOW = CONFIG["overflow"] is not None  # `overflow: null`: no probe, no reduced-precision training
# A user's losses and datasets (config key extensions, loaded by validate_config): inputs of every job that
# trains, probes or describes with them, so that editing one reruns what it changed
EXTENSIONS = [str(Path(p).resolve()) for p in CONFIG["extensions"]]


def overflow_tables():
    """The overflow stage's tables by name ({} when it is off), for the rules that read them."""
    if not OVERFLOW:
        return {}
    return {"probes": results("overflow/probes.parquet"), "thresholds": results("overflow/thresholds.parquet"),
            "amp": results("overflow/amp_training.parquet")}


def reference_group_params(wildcards):
    """The reference group's full description (cross-entropy, every configuration of a dataset)."""
    return REFERENCE_GROUPS[wildcards.group].to_dict()


def tune_group_params(wildcards):
    """The tune group's full description: any change to it reruns exactly that group."""
    return TUNE_GROUPS[wildcards.group].to_dict()


def eval_group_params(wildcards):
    """The evaluation group's description (its rates come from the tune stage's tables)."""
    return EVAL_GROUPS[wildcards.group].to_dict()
DATA_ROOT = CONFIG["data"]["root"]  # torchvision datasets (config key data.root)


wildcard_constraints:
    group=r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+(\.[0-9]+)?",  # <dataset>.<loss>[.<part>]


onstart:
    # An unknown $XENT_RENDERER, or `quarto` without Quarto on PATH, stops here in one line
    # rather than after every job has run.
    from experiments.report.render import RenderError, choose_renderer

    try:
        choose_renderer()
    except RenderError as err:
        sys.exit(f"render error: {err}")
    # `device: cuda` on a machine without CUDA stops here, before the first job, when jobs
    # run on this machine. On a cluster the login node may well have no GPU: there each
    # job checks its own node instead (and fails with the same line). torch is imported
    # only in this case (about a second).
    if CONFIG["device"] == "cuda" and workflow.local_exec:
        from experiments.convergence.training import cuda_problem

        if problem := cuda_problem():
            sys.exit(problem)
