"""Train one group of runs as a batched model; write its runs and curves tables and
where the job ran (host, SLURM job id, device and GPU). Finished chunks are
checkpointed, so a killed or preempted job resumes where it stopped."""
import shutil
import sys

import torch

from experiments.provenance import job_environment
from experiments.storage import write_json, write_parquet
from experiments.sweep import Group
from experiments.training import resolve_device, train_group

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
group = Group.from_dict(snakemake.params.group)
cfg = {"seed": snakemake.params.seed, "data": snakemake.params.data}
try:
    device = resolve_device(snakemake.params.device)
except RuntimeError as err:  # device: cuda on a node without CUDA: one line, no traceback
    sys.exit(str(err))
env = job_environment(device)
print(f"group {group.name}: {group.num_runs} runs in {len(group.stacks)} stacks, {group.steps} steps; {env}")
runs, curves = train_group(group, cfg, device, snakemake.params.max_stack,
                           checkpoint_dir=snakemake.params.checkpoint_dir, log=print)
print(runs.groupby(["activation", "optimizer"])["status"].value_counts().unstack(fill_value=0).to_string())
print(f"training wall time {runs['wall_time_s'].sum():.1f} s")
write_parquet(runs, snakemake.output.runs)
write_parquet(curves, snakemake.output.curves)
write_json(env, snakemake.output.job)
shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)  # the tables now hold it all
