"""Tune one group: the learning-rate search on the tuning seeds (experiments.convergence.tuning.search), scored
by steps to each cell's main target, each round's runs trained as batched stacks; write its tuning table and
where the job ran."""
import shutil
import sys

import pandas as pd

from experiments.analysis.targets import Targets
from experiments.storage import write_json, write_parquet
from experiments.sweep import Group
from experiments.convergence.job import open_job
from experiments.convergence.tuning import search

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
group = Group.from_dict(snakemake.params.group)
targets = Targets.from_table(pd.read_parquet(snakemake.input.targets), group.dataset, main_only=True)
job = open_job(snakemake, group)
print(f"tune {group.name}: {group.num_runs} runs in the initial grid, {len(group.stacks)} stacks; {job.env}")


def train(g):
    return job.train(g, targets=targets).runs


tuning, runs = search(group, train, snakemake.params.lr_search, snakemake.params.tuning_seeds, snakemake.params.seed,
                log=print)
print(tuning[tuning["chosen"]].to_string())
print(runs["status"].value_counts().to_string())
write_parquet(tuning, snakemake.output.tuning)
write_parquet(runs, snakemake.output.runs)
write_json(job.env, snakemake.output.job)
shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)  # the table now holds it all
