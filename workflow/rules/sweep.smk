# Expand the validated config into every run, with its group and stack, and keep the
# config that was used next to the results.


rule sweep:
    output:
        sweep=results("sweep.parquet"),
        config=results("config.yaml"),
    params:
        config=SCIENCE,  # execution settings left out: changing them reruns nothing
    log:
        results("logs/sweep.log"),
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        results("benchmarks/sweep.tsv")
    localrule: True
    script:
        "../scripts/sweep.py"
