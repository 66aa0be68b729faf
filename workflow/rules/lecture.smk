# The lecture's worked numbers beside the values it states.


rule lecture_examples:
    output:
        results("lecture/examples.parquet"),
    params:
        seed=CONFIG["seed"],
    log:
        results("logs/lecture_examples.log"),
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        results("benchmarks/lecture_examples.tsv")
    threads: 1
    localrule: True
    script:
        "../scripts/lecture_examples.py"
