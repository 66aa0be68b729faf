# Provenance, the report's tables (every number it prints) and the rendered report.
from experiments.analysis.report_tables import FACT_TABLES, REPORT_TABLES


rule provenance:
    input:
        runs=results("convergence/runs.parquet"),
        examples=results("lecture/examples.parquet"),
        sweep=results("sweep.parquet"),
        jobs=expand(results("convergence/reference/{group}.job.json"), group=REFERENCE_GROUPS)
        + expand(results("convergence/tuning/{group}.job.json"), group=TUNE_GROUPS)
        + expand(results("convergence/groups/{group}.job.json"), group=EVAL_GROUPS),
        datasets=results("data/datasets.parquet"),
        # every stage's benchmark, summed per stage into provenance (the report's own time is in its log)
        benchmarks=[results(f"benchmarks/{stage}.tsv") for stage in
                    ["sweep", "describe_datasets", "targets", "aggregate_convergence", "report_tables", "init_control",
                     "lecture_examples"] + (["overflow_probe", "amp_training"] if OVERFLOW else [])]
        + expand(results("benchmarks/reference_group/{group}.tsv"), group=REFERENCE_GROUPS)
        + expand(results("benchmarks/tune_group/{group}.tsv"), group=TUNE_GROUPS)
        + expand(results("benchmarks/evaluate_group/{group}.tsv"), group=EVAL_GROUPS),
    output:
        results("provenance.json"),
    params:
        config=SCIENCE,  # execution settings left out: changing them reruns nothing
        repo=str(REPO_DIR),
    log:
        results("logs/provenance.log"),
    localrule: True
    script:
        "../scripts/provenance.py"


rule report_tables:
    input:
        # the analysis' code: an edit reruns these tables and the report (seconds), never the training
        code=sorted(str(p) for p in (REPO_DIR / "experiments" / "analysis").glob("*.py"))
        + [str(REPO_DIR / "experiments" / "convergence" / "facts.py"), str(REPO_DIR / "experiments" / "overflow" / "facts.py")],
        runs=results("convergence/runs.parquet"),
        accuracy_runs=results("convergence/accuracy_runs.parquet"),
        curves=results("convergence/curves.parquet"),
        summary=results("convergence/summary.parquet"),
        tuning=results("convergence/tuning.parquet"),
        tuning_runs=results("convergence/tuning_runs.parquet"),
        reference_runs=results("convergence/reference_runs.parquet"),
        layers=results("convergence/layers.parquet"),
        init_control=results("convergence/init_control.parquet"),
        levels=results("convergence/levels.parquet"),
        targets=results("convergence/targets.parquet"),
        claims=results("convergence/claims.parquet"),
        datasets=results("data/datasets.parquet"),
        extensions=EXTENSIONS,  # a user's loss: its label, definition and gradients are facts here
        **{k: v for k, v in overflow_tables().items() if k != "thresholds"},
    output:
        tables=[results(f"report/{name}.parquet") for name in REPORT_TABLES + FACT_TABLES],
    params:
        convergence=SCIENCE["convergence"],
    log:
        results("logs/report_tables.log"),
    benchmark:
        results("benchmarks/report_tables.tsv")
    localrule: True  # tables of the aggregated results (seconds)
    script:
        "../scripts/report_tables.py"


rule report:
    input:
        # the report's code: an edit reruns the report (and only it)
        qmd=REPORT_DIR / "report.qmd",
        project=REPORT_DIR / "_quarto.yml",
        code=sorted(str(p) for p in (REPO_DIR / "experiments" / "report").glob("*.py")),
        tables=[results(f"report/{name}.parquet") for name in REPORT_TABLES + FACT_TABLES],
        summary=results("convergence/summary.parquet"),
        profile=results("convergence/profile.parquet"),
        targets=results("convergence/targets.parquet"),
        claims=results("convergence/claims.parquet"),
        literature=results("literature.parquet"),
        examples=results("lecture/examples.parquet"),
        datasets=results("data/datasets.parquet"),
        provenance=results("provenance.json"),
        **overflow_tables(),
    output:
        results("report.html"),
    params:
        report_dir=str(REPORT_DIR),
    log:
        results("logs/report.log"),
    localrule: True
    script:
        "../scripts/render_report.py"
