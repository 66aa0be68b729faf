"""Tune one group: the learning-rate search on the tuning seeds (experiments.convergence.tuning.search), scored
by steps to each cell's main target, each round's runs trained as batched stacks; write its tuning table and
where the job ran."""
import shutil
import sys

import pandas as pd

from experiments.analysis.targets import Targets
from experiments.config import execution_settings
from experiments.storage import write_json, write_parquet
from experiments.sweep import Group
from experiments.convergence.data import load_dataset
from experiments.convergence.training import group_plan, start_job, train_group
from experiments.convergence.tuning import search

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
group = Group.from_dict(snakemake.params.group)
run = execution_settings(snakemake.config)   # device, max_stack, data root, matmul precision: not params
cfg = {"seed": snakemake.params.seed, "data": {**snakemake.params.data, "root": run["data_root"]}}
targets = Targets.from_table(pd.read_parquet(snakemake.input.targets), group.dataset, main_only=True)
device, env = start_job(run["device"], snakemake.threads, run["matmul_precision"])
env["cuda_graphs"] = run["cuda_graphs"] and device.type == "cuda"
env["plan"] = group_plan(group, load_dataset(group.dataset, cfg), device, run["max_stack"])   # chunks, blocks: as trained
print(f"tune {group.name}: {group.num_runs} runs in the initial grid, {len(group.stacks)} stacks; {env}")


def train(g):
    return train_group(g, cfg, device, run["max_stack"], checkpoint_dir=snakemake.params.checkpoint_dir,
                       cuda_graphs=run["cuda_graphs"], log=print, targets=targets).runs


tuning, runs = search(group, train, snakemake.params.lr_search, snakemake.params.tuning_seeds, snakemake.params.seed,
                log=print)
print(tuning[tuning["chosen"]].to_string())
print(runs["status"].value_counts().to_string())
write_parquet(tuning, snakemake.output.tuning)
write_parquet(runs, snakemake.output.runs)
write_json(env, snakemake.output.job)
shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)  # the table now holds it all
