"""Probe every implementation x dtype x classes x logit gap; write probes.parquet."""
import sys

import torch

from experiments.overflow import run_probes
from experiments.storage import write_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
probes = run_probes(snakemake.params.config)
print(f"{len(probes)} probes, {int((~probes['loss_finite']).sum())} with a non-finite loss")
write_parquet(probes, snakemake.output[0])
