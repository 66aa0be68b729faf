"""Train one group of runs as a batched model; write its runs and curves tables."""
import sys

import torch

from experiments.storage import write_parquet
from experiments.sweep import Group
from experiments.training import resolve_device, train_group

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
group = Group.from_dict(snakemake.params.group)
cfg = {"seed": snakemake.params.seed, "data": snakemake.params.data}
device = resolve_device(snakemake.params.device)
print(f"group {group.name}: {len(group.runs)} runs, {group.steps} steps, device {device}")
runs, curves = train_group(group, cfg, device)
print(runs[["logit_scale", "lr", "seed", "status", "steps_to_target", "final_val_acc"]].to_string())
write_parquet(runs, snakemake.output.runs)
write_parquet(curves, snakemake.output.curves)
