"""The reference stage for one dataset: cross-entropy in every configuration on the tuning seeds, the
tune stage's rate search scored by final validation accuracy alone (no target yet;
experiments.analysis.targets states the procedure); write its table and its runs."""
import shutil
import sys

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
device, env = start_job(run["device"], snakemake.threads, run["matmul_precision"])
env["cuda_graphs"] = run["cuda_graphs"] and device.type == "cuda"
# chunks, blocks: as trained; this stage has no targets, so no target checks
env["plan"] = group_plan(group, load_dataset(group.dataset, cfg), device, run["max_stack"], checks=False)
print(f"reference {group.name}: {group.num_runs} runs in the initial grid, {len(group.stacks)} stacks; {env}")


def train(g):
    return train_group(g, cfg, device, run["max_stack"], checkpoint_dir=snakemake.params.checkpoint_dir,
                       cuda_graphs=run["cuda_graphs"], log=print).runs


table, runs = search(group, train, snakemake.params.lr_search, snakemake.params.tuning_seeds, snakemake.params.seed,
                     log=print)
print(table[table["chosen"]].to_string())
write_parquet(table, snakemake.output.tuning)
write_parquet(runs, snakemake.output.runs)
write_json(env, snakemake.output.job)
shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)  # the table now holds it all
