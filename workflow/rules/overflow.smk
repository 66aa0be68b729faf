# Overflow probe: where log(softmax(z)) and F.cross_entropy stop being finite.


rule overflow_probe:
    output:
        "results/overflow/probes.parquet",
    params:
        config=CONFIG,
    log:
        "results/logs/overflow_probe.log",
    threads: 1  # hundreds of tiny tensors: one core is plenty
    script:
        "../scripts/overflow_probe.py"
