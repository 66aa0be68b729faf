# Convergence, in three stages (experiments/analysis/targets.py and experiments/convergence/tuning.py
# state the protocol):
#   reference_group per dataset: cross-entropy tuned for final validation accuracy on the tuning seeds
#   targets         each cell's target accuracies from the reference (local, seconds)
#   tune_group      per group (dataset x loss): the learning-rate search on the tuning seeds
#   evaluate_group  per group: every configuration at its chosen rate on the evaluation seeds, and again
#                   at its rate of best final validation accuracy where that differs
# Inside a job, each stack of runs that share an architecture trains as one batched model.


rule reference_group:
    input:
        extensions=EXTENSIONS,  # a user's dataset: an edit reruns the jobs that train on it
    output:
        tuning=results("convergence/reference/{group}.parquet"),
        runs=results("convergence/reference/{group}.runs.parquet"),
        job=results("convergence/reference/{group}.job.json"),  # host, SLURM job id, device, GPU
    params:
        group=reference_group_params,
        data=SCIENCE["data"],
        seed=CONFIG["seed"],
        lr_search=CONFIG["convergence"]["lr_search"],
        tuning_seeds=CONFIG["convergence"]["tuning_seeds"],
        checkpoint_dir=results("convergence/checkpoints/reference/{group}"),
    log:
        results("logs/reference/{group}.log"),
    benchmark:
        results("benchmarks/reference_group/{group}.tsv")
    threads: 1
    resources:
        mem_mb=1500,  # as a tune group: one loss, every configuration of a dataset
        runtime=60,
    script:
        "../scripts/reference_group.py"


rule targets:
    input:
        reference=expand(results("convergence/reference/{group}.parquet"), group=REFERENCE_GROUPS),
        reference_runs=expand(results("convergence/reference/{group}.runs.parquet"), group=REFERENCE_GROUPS),
        datasets=results("data/datasets.parquet"),
    output:
        targets=results("convergence/targets.parquet"),
        reference=results("convergence/reference.parquet"),
        reference_runs=results("convergence/reference_runs.parquet"),
    params:
        targets=CONFIG["convergence"]["targets"],
    log:
        results("logs/targets.log"),
    benchmark:
        results("benchmarks/targets.tsv")
    localrule: True
    script:
        "../scripts/targets.py"


rule tune_group:
    input:
        targets=results("convergence/targets.parquet"),
        extensions=EXTENSIONS,  # a user's loss or dataset: an edit reruns the jobs that train with it
    output:
        tuning=results("convergence/tuning/{group}.parquet"),
        runs=results("convergence/tuning/{group}.runs.parquet"),
        job=results("convergence/tuning/{group}.job.json"),  # host, SLURM job id, device, GPU
    params:
        group=tune_group_params,
        data=SCIENCE["data"],
        seed=CONFIG["seed"],
        lr_search=CONFIG["convergence"]["lr_search"],
        tuning_seeds=CONFIG["convergence"]["tuning_seeds"],
        # finished chunks of a killed job, reused by its rerun; removed when the group completes
        checkpoint_dir=results("convergence/checkpoints/tune/{group}"),
    log:
        results("logs/tune/{group}.log"),
    benchmark:
        results("benchmarks/tune_group/{group}.tsv")
    # One core per group keeps jobs side by side; --cores N tunes N groups at once.
    # On a cluster the SLURM profile adds gpu=1.
    threads: 1
    resources:
        mem_mb=1500,  # measured peak RSS of a default group: ~450 MB, most of it torch
        runtime=60,  # minutes; a default group takes a few on one CPU core
    script:
        "../scripts/tune_group.py"


def tuning_of_pair(wildcards):
    """The tune groups of this group's (dataset, loss): their tables hold its chosen rates."""
    pair = ".".join(wildcards.group.split(".")[:2])
    return [results(f"convergence/tuning/{g}.parquet") for g in TUNE_GROUPS if g.startswith(pair + ".") or g == pair]


rule evaluate_group:
    input:
        tuning=tuning_of_pair,
        targets=results("convergence/targets.parquet"),
        extensions=EXTENSIONS,
    output:
        runs=results("convergence/groups/{group}.runs.parquet"),
        curves=results("convergence/groups/{group}.curves.parquet"),
        layers=results("convergence/groups/{group}.layers.parquet"),
        levels=results("convergence/groups/{group}.levels.parquet"),
        predictions=results("convergence/groups/{group}.predictions.parquet"),
        # the same configurations at the rate of best final validation accuracy (runs table)
        accuracy_runs=results("convergence/groups/{group}.accuracy_runs.parquet"),
        job=results("convergence/groups/{group}.job.json"),  # host, SLURM job id, device, GPU
    params:
        group=eval_group_params,
        data=SCIENCE["data"],
        seed=CONFIG["seed"],
        checkpoint_dir=results("convergence/checkpoints/eval/{group}"),
    log:
        results("logs/train/{group}.log"),
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        results("benchmarks/evaluate_group/{group}.tsv")
    threads: 1
    resources:
        mem_mb=1500,  # measured peak RSS of a default group: ~450 MB, most of it torch
        runtime=30,  # minutes; a default group takes about 1 on one CPU core
    script:
        "../scripts/evaluate_group.py"


rule init_control:
    input:
        extensions=EXTENSIONS,
    output:
        results("convergence/init_control.parquet"),
    params:
        convergence=SCIENCE["convergence"],
        data=SCIENCE["data"],
        seed=CONFIG["seed"],
    log:
        results("logs/init_control.log"),
    benchmark:
        results("benchmarks/init_control.tsv")
    localrule: True  # one forward and backward pass per evaluation run of a depth study (seconds)
    script:
        "../scripts/init_control.py"


rule aggregate_convergence:
    input:
        runs=expand(results("convergence/groups/{group}.runs.parquet"), group=EVAL_GROUPS),
        curves=expand(results("convergence/groups/{group}.curves.parquet"), group=EVAL_GROUPS),
        layers=expand(results("convergence/groups/{group}.layers.parquet"), group=EVAL_GROUPS),
        levels=expand(results("convergence/groups/{group}.levels.parquet"), group=EVAL_GROUPS),
        predictions=expand(results("convergence/groups/{group}.predictions.parquet"), group=EVAL_GROUPS),
        accuracy_runs=expand(results("convergence/groups/{group}.accuracy_runs.parquet"), group=EVAL_GROUPS),
        tuning=expand(results("convergence/tuning/{group}.parquet"), group=TUNE_GROUPS),
        tuning_runs=expand(results("convergence/tuning/{group}.runs.parquet"), group=TUNE_GROUPS),
        targets=results("convergence/targets.parquet"),
        datasets=results("data/datasets.parquet"),  # training-split sizes: the budget in epochs (literature)
        # the analysis' code and the literature registry: an edit reruns the claims (seconds), never the training
        code=sorted(str(p) for p in (REPO_DIR / "experiments" / "analysis").glob("*.py")),
        registry=REPO_DIR / "experiments" / "analysis" / "literature.yaml",
    output:
        runs=results("convergence/runs.parquet"),
        curves=results("convergence/curves.parquet"),
        layers=results("convergence/layers.parquet"),
        levels=results("convergence/levels.parquet"),
        predictions=results("convergence/predictions.parquet"),
        accuracy_runs=results("convergence/accuracy_runs.parquet"),
        summary=results("convergence/summary.parquet"),
        profile=results("convergence/profile.parquet"),
        tuning=results("convergence/tuning.parquet"),
        tuning_runs=results("convergence/tuning_runs.parquet"),
        claims=results("convergence/claims.parquet"),
        literature=results("literature.parquet"),
    params:
        convergence=SCIENCE["convergence"],  # the main grid: the claims' pool
        question=CONFIG["question"],  # its pair is claimed too where its reference is not cross-entropy
    log:
        results("logs/aggregate_convergence.log"),
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        results("benchmarks/aggregate_convergence.tsv")
    localrule: True
    script:
        "../scripts/aggregate_convergence.py"
