"""Probe every implementation x dtype x classes x axis x autocast; write probes and thresholds."""
import sys

import torch

from experiments.overflow.probe import run_probes
from experiments.storage import write_parquet
from experiments.overflow.thresholds import predicted_thresholds, thresholds_table

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
config = snakemake.params.config
probes = run_probes(config, predict=predicted_thresholds)   # dense grids around the predicted breaks
thresholds = thresholds_table(probes, config["seed"])
print(f"{len(probes)} probes; {len(thresholds)} thresholds, {int(thresholds['agrees'].sum())} agree with IEEE-754")
print(thresholds[~thresholds["agrees"].astype(bool)].to_string())
write_parquet(probes, snakemake.output.probes)
write_parquet(thresholds, snakemake.output.thresholds)
