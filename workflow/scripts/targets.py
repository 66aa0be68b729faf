"""Each cell's target accuracies from the reference stage (experiments.analysis.targets)."""
import sys

import pandas as pd

from experiments.analysis.contract import concat_parquet
from experiments.analysis.targets import targets_table
from experiments.storage import write_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
reference = concat_parquet(snakemake.input.reference)
reference_runs = concat_parquet(snakemake.input.reference_runs)
datasets = pd.read_parquet(snakemake.input.datasets)
chance = dict(zip(datasets["dataset"], datasets["chance"]))
t = snakemake.params.targets
targets = targets_table(reference, chance, t["levels"], t["main"])
print(targets.drop(columns="how").to_string())
write_parquet(targets, snakemake.output.targets)
write_parquet(reference, snakemake.output.reference)
write_parquet(reference_runs, snakemake.output.reference_runs)
