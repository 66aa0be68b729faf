"""Train in reduced precision at growing logit scale; write amp_training.parquet."""
import sys

import torch

from experiments.amp import run_amp_training
from experiments.storage import write_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
table = run_amp_training(snakemake.params.config)
print(table.to_string())
write_parquet(table, snakemake.output[0])
