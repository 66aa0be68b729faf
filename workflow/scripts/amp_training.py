"""Train in reduced precision at growing logit scale; write amp_training.parquet.
On a GPU node (device auto or cuda) this is CUDA autocast, else CPU autocast."""
import sys

import torch

from experiments.overflow.amp import run_amp_training
from experiments.config import execution_settings
from experiments.storage import write_parquet
from experiments.convergence.training import resolve_device

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
run = execution_settings(snakemake.config)   # device and data root: not params (no rerun)
try:
    device = resolve_device(run["device"])
except RuntimeError as err:
    sys.exit(str(err))
print(f"device {device}")
cfg = snakemake.params.config
table = run_amp_training({**cfg, "data": {**cfg["data"], "root": run["data_root"]}}, device.type)
print(table.to_string())
write_parquet(table, snakemake.output[0])
