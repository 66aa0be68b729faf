"""End to end: the Snakemake workflow on the smoke config writes every contract file."""
import copy
import json
import re
import subprocess
import sys

from conftest import REMOTE_LOADS, SMOKE, TABLE_PATHS, snakemake

import pandas as pd
import pytest
import yaml

from experiments import columns
from experiments.config import validate_config
from experiments.sweep import groups_from_config
from experiments.analysis.contract import CONTRACT, check_columns
from experiments.convergence.training import resolve_device

pytestmark = pytest.mark.workflow


def test_every_contract_file_is_written(smoke_run, repo):
    res = smoke_run / SMOKE
    cfg = validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))
    assert set(TABLE_PATHS) == set(CONTRACT)  # the tests compare every table of the contract
    frames = {name: pd.read_parquet(res / rel) for name, rel in TABLE_PATHS.items()}
    for name, df in frames.items():
        check_columns(df, CONTRACT[name], name)
        # the smoke config trains one depth, so the depth study's control has nothing to control
        assert len(df) == 0 if name == "init_control" else len(df) > 0, name
    n_runs = sum(g.num_runs for g in groups_from_config(cfg).values())
    assert len(frames["runs"]) == n_runs
    assert set(frames["runs"]["status"]) <= set(columns.STATUSES)
    assert frames["examples"].loc[frames["examples"]["comparable"], "matches"].all()
    cv = cfg["convergence"]
    assert set(frames["runs"]["loss"]) == set(cv["losses"])
    assert set(frames["probes"]["dtype"]) == set(cfg["overflow"]["dtypes"])
    assert frames["thresholds"]["agrees"].all()


def test_provenance_records_what_a_rerun_needs(smoke_run, repo):
    prov = json.loads((smoke_run / SMOKE / "provenance.json").read_text())
    for key in ["git", "versions", "device", "config", "config_hash", "started_at", "finished_at"]:
        assert key in prov, key
    for lib in ["python", "torch", "snakemake", "pandas"]:
        assert prov["versions"][lib]
    # the smoke config says device: auto, which resolves to CUDA where torch sees a GPU and to the CPU elsewhere
    cfg_device = validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))["device"]
    assert cfg_device == "auto"
    assert prov["device"]["used"] == [str(resolve_device(cfg_device))]
    assert prov["config"]["convergence"]["steps"] == 60
    assert prov["started_at"] <= prov["finished_at"]
    assert re.fullmatch(r"quarto [\d.]+|fallback \(nbclient [\d.]+, nbconvert [\d.]+\)", prov["renderer"])
    cfg = validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))
    stages = prov["stages"]  # from Snakemake's benchmark files, one per job
    assert set(stages) == {"sweep", "describe_datasets", "reference_group", "targets", "tune_group", "evaluate_group",
                           "aggregate_convergence", "report_tables", "init_control", "overflow_probe", "amp_training",
                           "lecture_examples", "total"}
    assert stages["total"]["jobs"] == sum(s["jobs"] for k, s in stages.items() if k != "total")
    assert stages["reference_group"]["jobs"] == len(groups_from_config(cfg, "reference"))
    assert stages["tune_group"]["jobs"] == len(groups_from_config(cfg, "tune"))
    assert stages["evaluate_group"]["jobs"] == len(groups_from_config(cfg, "eval"))
    assert all(s["wall_s"] > 0 for s in stages.values())
    # every training job says how it split and streamed its group (sizing: from total memory and shapes)
    training_jobs = {k: v for k, v in prov["jobs"].items() if k.split("/")[0] in ("reference", "tune", "evaluate")}
    assert len(training_jobs) == sum(len(groups_from_config(cfg, p)) for p in ("reference", "tune", "eval"))
    for name, job in training_jobs.items():
        plan = job["plan"]
        assert job["matmul_precision"] == "highest", name
        assert plan["eval_block_bytes"] == (16 << 20 if job["device"] == "cpu" else plan["eval_block_bytes"]), name
        assert plan["runs_per_chunk"] and all(v >= 1 for v in plan["runs_per_chunk"].values()), name
        assert all(r > 0 for r in plan["eval_to_train_flops"].values()), name


def test_the_report_rule_declares_every_table_the_report_reads(repo):
    """A table the report reads but the rule does not declare is not rebuilt before the report, and a change
    to it does not rerender the report (tuning_runs, layers and literature were missing once)."""
    qmd = (repo / "report" / "report.qmd").read_text()
    read = {"/".join(m) for m in re.findall(r'res / "([\w.]+)"(?: / "([\w.]+)")?', qmd)}
    read = {r.rstrip("/") for r in read} - {"report"}       # results/report/: the table("...") calls below
    rule = (repo / "workflow" / "rules" / "report.smk").read_text()
    declared = set(re.findall(r'results\("([\w/.]+)"\)', rule.split("rule report:")[1]))
    if "**overflow_tables()" in rule.split("rule report:")[1]:          # the overflow stage's, where it is on
        common = (repo / "workflow" / "rules" / "common.smk").read_text()
        declared |= set(re.findall(r'results\("([\w/.]+)"\)', common.split("def overflow_tables")[1].split("\ndef ")[0]))
    assert read and read <= declared, sorted(read - declared)
    # and each table of results/report/ it reads is one the report_tables rule writes and the report rule needs
    from experiments.analysis.report_tables import FACT_TABLES, REPORT_TABLES
    tables = set(re.findall(r'table\("(\w+)"\)', qmd))
    assert tables and tables <= set(REPORT_TABLES + FACT_TABLES), sorted(tables - set(REPORT_TABLES + FACT_TABLES))
    assert 'tables=[results(f"report/{name}.parquet") for name in REPORT_TABLES + FACT_TABLES]' in rule.split("rule report:")[1]


def test_targets_come_from_the_reference_stage_on_the_tuning_seeds(smoke_run, repo):
    """targets.parquet: per cell and level, chance + level x (reference - chance), the reference being
    cross-entropy's median final validation accuracy on the tuning seeds (never an evaluation seed)."""
    res = smoke_run / SMOKE / "convergence"
    cfg = validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))
    targets, reference = pd.read_parquet(res / "targets.parquet"), pd.read_parquet(res / "reference_runs.parquet")
    assert set(reference["seed"]) == set(cfg["convergence"]["tuning_seeds"])
    assert set(reference["loss"]) == {"cross_entropy"}
    learns = targets[targets["learns"]]
    assert len(learns) and (learns["target_acc"] - (learns["chance"] + learns["level"] * (
        learns["reference_acc"] - learns["chance"]))).abs().max() < 1e-12
    runs, levels = pd.read_parquet(res / "runs.parquet"), pd.read_parquet(res / "levels.parquet")
    main = targets[targets["main"]].set_index(["dataset", "hidden", "activation", "optimizer"])["target_acc"]
    got = runs.set_index(["dataset", "hidden", "activation", "optimizer"])["target_acc"]
    assert (got == main.reindex(got.index)).all()
    assert len(levels) == len(runs) * targets["level"].nunique()


def test_the_accuracy_selection_is_evaluated_at_the_rate_of_best_validation_accuracy(smoke_run):
    """accuracy_runs.parquet: every evaluation run again, at the tuning rate with the best median final
    validation accuracy (ties to the smaller rate); a run whose rate is the speed-chosen one is that very
    run (identical row), the others trained anew at their rate."""
    from experiments.convergence.tuning import chosen_rates, _widths

    res = smoke_run / SMOKE / "convergence"
    runs, acc = pd.read_parquet(res / "runs.parquet"), pd.read_parquet(res / "accuracy_runs.parquet")
    tuning = pd.read_parquet(res / "tuning.parquet")
    key = ["dataset", "loss", "activation", "hidden", "optimizer", "learn_scale", "logit_scale", "seed"]
    assert len(acc) == len(runs) and not acc.duplicated(key).any()
    for (ds, loss), t in tuning.groupby(["dataset", "loss"]):
        want = chosen_rates(t, "accuracy")
        mine = acc[(acc["dataset"] == ds) & (acc["loss"] == loss)]
        got = {(r.activation, _widths(r.hidden), r.optimizer, r.learn_scale, r.logit_scale): r.lr for r in mine.itertuples()}
        assert got == want
    both = runs.merge(acc, on=key + ["lr"], suffixes=("", "_acc"))
    assert 0 < len(both) < len(runs)          # the smoke run has both kinds
    assert (both["test_acc"].fillna(-1) == both["test_acc_acc"].fillna(-1)).all()


def test_report_is_self_contained_html(smoke_run):
    page = (smoke_run / SMOKE / "report.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    for raw in ["{python}", "#|", ":::", "{=html}"]:
        assert raw not in page, raw
    assert len(re.findall(r'<img [^>]*src="data:image/(png|svg\+xml);base64,', page)) >= 5
    assert not REMOTE_LOADS.search(page), REMOTE_LOADS.search(page)
    assert re.search(r"Rendered (by|with) .*(quarto|fallback)", page)
    assert "-ln 0.4" in page  # the lecture table (its first cross-entropy example)
    assert "<math" in page            # MathML, no MathJax
    log = (smoke_run / SMOKE / "logs" / "report.log").read_text()
    assert "rendering report.qmd with" in log


def test_remote_load_pattern_catches_what_it_should():
    for bad in ['<script src="https://cdn.x/a.js">', "<img src=//x/a.png>", '<link rel="stylesheet" href="http://x">',
                "@import url('https://fonts.googleapis.com/x')"]:
        assert REMOTE_LOADS.search(bad), bad
    for fine in ['<a href="https://itables.org/">', '<img src="data:image/png;base64,AA">', '<link href="data:text/css,x">']:
        assert not REMOTE_LOADS.search(fine), fine


def test_second_run_has_nothing_to_do(smoke_run, repo):
    proc = snakemake(repo, smoke_run, "--configfile", str(repo / "config" / "smoke.yaml"), "--cores", "2", "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_execution_settings_rerun_nothing(smoke_run, repo, tmp_path):
    """device, max_stack and the data folder change where and in what batches runs train, not their numbers:
    switching them plans no job; switching a setting of the science (the step count) plans the training."""
    raw = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    execution = copy.deepcopy(raw)
    execution["results"] = str(SMOKE)   # the smoke run's folder (a file named otherwise would get its own)
    execution["device"] = "cpu" if raw.get("device", "auto") != "cpu" else "auto"
    execution["convergence"]["max_stack"] = 3
    execution.setdefault("data", {})["root"] = str(tmp_path / "elsewhere")
    (tmp_path / "execution.yaml").write_text(yaml.safe_dump(execution))
    proc = snakemake(repo, smoke_run, "--configfile", str(tmp_path / "execution.yaml"), "--cores", "2", "-n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr
    science = copy.deepcopy(raw)
    science["results"] = str(SMOKE)
    science["convergence"]["steps"] = raw["convergence"]["steps"] + 1
    (tmp_path / "science.yaml").write_text(yaml.safe_dump(science))
    proc = snakemake(repo, smoke_run, "--configfile", str(tmp_path / "science.yaml"), "--cores", "2", "-n")
    assert proc.returncode == 0 and "tune_group" in proc.stdout + proc.stderr


def test_bad_config_stops_before_any_job(repo, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("convergence:\n  learning_rates:\n    sgd: [0.1, -0.5]\n")
    proc = snakemake(repo, tmp_path, "--configfile", str(bad), "--cores", "1")
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "config error" in ln]
    assert lines == ["config error: convergence.learning_rates.sgd[1]: -0.5 is not allowed, must be > 0"]
    assert not (tmp_path / "results").exists()


def test_default_config_plans_one_job_per_group(repo):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--quiet", "rules"], cwd=repo,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    cfg = validate_config(yaml.safe_load((repo / "config" / "config.yaml").read_text()))
    n_groups = len(groups_from_config(cfg, "eval"))
    assert re.search(rf"^tune_group\s+{len(groups_from_config(cfg, 'tune'))}$", proc.stdout, re.M), proc.stdout
    assert re.search(rf"^evaluate_group\s+{n_groups}$", proc.stdout, re.M), proc.stdout



def test_snakemake_plans_what_the_config_command_prints(repo, tmp_path):
    """`python3 -m experiments.config FILE` prints the jobs of each stage and in all; Snakemake, given the
    same file and override, plans exactly those (and no MNIST-1D job: the file is the whole config)."""
    for args in [["config/smoke.yaml"], ["--config", "convergence={studies: null}"]]:
        printed = subprocess.run([sys.executable, "-m", "experiments.config", *args], cwd=repo, capture_output=True,
                                 text=True, timeout=60).stdout
        files = [a for a in args if a.endswith(".yaml")]
        extra = [a for a in args if not a.endswith(".yaml")]
        proc = snakemake(repo, tmp_path, *(["--configfile", str(repo / files[0])] if files else []), *extra,
                         "-n", "--quiet", "rules")
        plan = snakemake(repo, tmp_path, *(["--configfile", str(repo / files[0])] if files else []), *extra, "-n")
        groups = re.findall(r"wildcards: group=(\S+)", plan.stdout + plan.stderr)
        assert groups and not [g for g in groups if g.startswith("mnist1d.")], groups   # no depth study planned
        assert proc.returncode == 0, proc.stderr[-2000:]
        total = int(re.search(r"^jobs in all: (\d+)", printed, re.M).group(1))
        assert re.search(rf"^total\s+{total}$", proc.stdout, re.M), (printed, proc.stdout)
        for stage, rule in [("reference", "reference_group"), ("tune", "tune_group"), ("evaluate", "evaluate_group")]:
            jobs = int(re.search(rf"^{stage}\s+(\d+)", printed, re.M).group(1))
            assert re.search(rf"^{rule}\s+{jobs}$", proc.stdout, re.M), (stage, printed, proc.stdout)
