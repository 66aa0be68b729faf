"""The reference stage for one dataset: cross-entropy in every configuration on the tuning seeds, the
tune stage's rate search scored by final validation accuracy alone (no target yet;
experiments.analysis.targets states the procedure); write its table and its runs."""
import shutil
import sys

from experiments.storage import write_json, write_parquet
from experiments.sweep import Group
from experiments.convergence.job import open_job
from experiments.convergence.tuning import search

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
group = Group.from_dict(snakemake.params.group)
job = open_job(snakemake, group, checks=False)      # this stage has no targets, so no target checks
print(f"reference {group.name}: {group.num_runs} runs in the initial grid, {len(group.stacks)} stacks; {job.env}")


def train(g):
    return job.train(g).runs


table, runs = search(group, train, snakemake.params.lr_search, snakemake.params.tuning_seeds, snakemake.params.seed,
                     log=print)
print(table[table["chosen"]].to_string())
write_parquet(table, snakemake.output.tuning)
write_parquet(runs, snakemake.output.runs)
write_json(job.env, snakemake.output.job)
shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)  # the table now holds it all
