# Fetch torchvision datasets. Run it where there is internet (a login node):
#   snakemake download_data --cores 1
# Training never downloads: compute nodes often have no network.
from experiments.convergence.vision import VISION

VISION_DATASETS = [d for d in DATASETS if d in VISION]


rule download_data:
    input:
        expand(f"{DATA_ROOT}/.{{name}}.complete", name=VISION_DATASETS),
    localrule: True


rule download_dataset:
    output:
        touch(f"{DATA_ROOT}/.{{name}}.complete"),
    params:
        name="{name}",
        root=DATA_ROOT,
    log:
        results("logs/download_{name}.log"),
    localrule: True
    script:
        "../scripts/download_data.py"


rule describe_datasets:
    input:
        extensions=EXTENSIONS,  # a user's dataset is built here first
    output:
        results("data/datasets.parquet"),
    params:
        datasets=DATASETS,
        data=SCIENCE["data"],
        seed=CONFIG["seed"],
    log:
        results("logs/describe_datasets.log"),
    benchmark:
        results("benchmarks/describe_datasets.tsv")
    localrule: True  # reads each dataset once (seconds), for the report's methods section
    script:
        "../scripts/describe_datasets.py"
