# Overflow: where each way of computing the loss stops being finite, measured
# on a grid and predicted from IEEE-754 (torch.finfo); and reduced-precision training.


rule overflow_probe:
    output:
        probes="results/overflow/probes.parquet",
        thresholds="results/overflow/thresholds.parquet",
    params:
        config=CONFIG,
    log:
        "results/logs/overflow_probe.log",
    threads: 1  # tens of thousands of tiny rows, batched per setting: one core is plenty
    script:
        "../scripts/overflow_probe.py"


rule amp_training:
    output:
        "results/overflow/amp_training.parquet",
    params:
        config=CONFIG,
    log:
        "results/logs/amp_training.log",
    threads: 1  # 24 small runs of 200 steps
    script:
        "../scripts/amp_training.py"
