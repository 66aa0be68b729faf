# Overflow: where each way of computing the loss stops being finite, measured
# on a grid and predicted from IEEE-754 (torch.finfo); and reduced-precision training.


rule overflow_probe:
    input:
        extensions=EXTENSIONS,  # a user's loss may be probed (overflow.implementations)
    output:
        probes=results("overflow/probes.parquet"),
        thresholds=results("overflow/thresholds.parquet"),
    params:
        config={"seed": CONFIG["seed"], "overflow": CONFIG["overflow"]},  # only what it reads: other edits do not rerun it
    log:
        results("logs/overflow_probe.log"),
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        results("benchmarks/overflow_probe.tsv")
    # Tens of thousands of tiny rows, batched per setting: one core is plenty. Always on
    # the CPU: it measures the formats' arithmetic, and its autocast predictions are CPU
    # autocast's (CUDA autocast upcasts softmax and log_softmax to float32).
    threads: 1
    resources:
        mem_mb=2000,  # measured peak RSS ~330 MB
        runtime=15,  # minutes; about 12 s on one core
    script:
        "../scripts/overflow_probe.py"


rule amp_training:
    output:
        results("overflow/amp_training.parquet"),
    params:
        config={"seed": CONFIG["seed"], "data": SCIENCE["data"], "overflow": CONFIG["overflow"]},
        # device (config): CUDA autocast on a GPU node, CPU autocast elsewhere
    log:
        results("logs/amp_training.log"),
    # wall time, CPU time and peak memory of the job; provenance sums them per stage
    benchmark:
        results("benchmarks/amp_training.tsv")
    threads: 1  # 192 small runs of 200 steps (4 format/scaler settings x 2 losses x 2 optimisers x 4 scales x 3 seeds)
    resources:
        mem_mb=2000,  # measured peak RSS ~480 MB
        runtime=15,  # minutes; about 8 s on one core
    script:
        "../scripts/amp_training.py"
