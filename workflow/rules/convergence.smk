# Convergence: one job per group (dataset x loss); inside, each stack of runs
# that share an architecture trains as one batched model.


rule train_group:
    output:
        runs="results/convergence/groups/{group}.runs.parquet",
        curves="results/convergence/groups/{group}.curves.parquet",
        job="results/convergence/groups/{group}.job.json",  # host, SLURM job id, device, GPU
    params:
        group=group_params,
        data=CONFIG["data"],
        seed=CONFIG["seed"],
        device=CONFIG["device"],
        max_stack=CONFIG["convergence"]["max_stack"],
        # finished chunks of a killed job, reused by its rerun (not an output: Snakemake
        # deletes incomplete outputs before a rerun); removed when the group completes
        checkpoint_dir="results/convergence/checkpoints/{group}",
    log:
        "results/logs/train/{group}.log",
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        "results/benchmarks/train_group/{group}.tsv"
    # Small batched matrix products: one core per group keeps jobs side by side;
    # --cores N then trains N groups at once. On a cluster the SLURM profile adds gpu=1.
    threads: 1
    resources:
        mem_mb=1500,  # measured peak RSS of a default group: ~450 MB, most of it torch
        runtime=30,  # minutes; a default group takes about 1 on one CPU core
    script:
        "../scripts/train_group.py"


rule aggregate_convergence:
    input:
        runs=expand("results/convergence/groups/{group}.runs.parquet", group=GROUPS),
        curves=expand("results/convergence/groups/{group}.curves.parquet", group=GROUPS),
    output:
        runs="results/convergence/runs.parquet",
        curves="results/convergence/curves.parquet",
        summary="results/convergence/summary.parquet",
        profile="results/convergence/profile.parquet",
    log:
        "results/logs/aggregate_convergence.log",
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        "results/benchmarks/aggregate_convergence.tsv"
    localrule: True
    script:
        "../scripts/aggregate_convergence.py"
