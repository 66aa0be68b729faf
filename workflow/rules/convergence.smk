# Convergence: one job per group of runs, trained as one batched model.


rule train_group:
    output:
        runs="results/convergence/groups/{group}.runs.parquet",
        curves="results/convergence/groups/{group}.curves.parquet",
    params:
        group=group_params,
        data=CONFIG["data"],
        seed=CONFIG["seed"],
        device=CONFIG["device"],
    log:
        "results/logs/train/{group}.log",
    # Small matrix products: one core per group keeps jobs side by side;
    # --cores N then trains N groups at once.
    threads: 1
    resources:
        mem_mb=1000,  # digits and the default mixture need < 400 MB incl. torch
    script:
        "../scripts/train_group.py"


rule aggregate_convergence:
    input:
        runs=expand("results/convergence/groups/{group}.runs.parquet", group=GROUPS),
        curves=expand("results/convergence/groups/{group}.curves.parquet", group=GROUPS),
    output:
        runs="results/convergence/runs.parquet",
        curves="results/convergence/curves.parquet",
    log:
        "results/logs/aggregate_convergence.log",
    localrule: True
    script:
        "../scripts/aggregate_convergence.py"
