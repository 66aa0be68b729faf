"""Evaluate one group: every configuration at the rate the tune stage chose, on the evaluation
seeds, trained as batched stacks, steps to every target level checked, each final model measured on the
test split; write its runs, curves, per-layer, per-level and per-example test tables and where the job ran.
Then the same configurations at the rate of best final validation accuracy (the second selection,
experiments.convergence.tuning.SELECTIONS), for the accuracy and calibration verdicts: only those whose
rate differs train again; the others' runs are the same runs. Finished chunks are checkpointed, so a
killed or preempted job resumes where it stopped."""
import shutil
import sys

import pandas as pd
from experiments.analysis.targets import Targets
from experiments.storage import write_json, write_parquet
from experiments.sweep import Group, with_chosen_rates, with_runs
from experiments.convergence.job import open_job
from experiments.convergence.tuning import chosen_rates

SAME_RUN = ["activation", "hidden", "optimizer", "learn_scale", "logit_scale", "seed"]   # a run but its rate

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
tuning = pd.concat([pd.read_parquet(f) for f in snakemake.input.tuning], ignore_index=True)
planned = Group.from_dict(snakemake.params.group)
group = with_chosen_rates(planned, chosen_rates(tuning))
job = open_job(snakemake, group)
print(f"evaluate {group.name}: {group.num_runs} runs in {len(group.stacks)} stacks, {group.steps} steps; {job.env}")
targets = Targets.from_table(pd.read_parquet(snakemake.input.targets), group.dataset)
runs, curves, layers, levels, predictions = job.train(group, test=True, targets=targets)
print(runs.groupby(["activation", "optimizer"])["status"].value_counts().unstack(fill_value=0).to_string())
print(f"training wall time {runs['wall_time_s'].sum():.1f} s")
write_parquet(runs, snakemake.output.runs)
write_parquet(curves, snakemake.output.curves)
write_parquet(layers, snakemake.output.layers)
write_parquet(levels, snakemake.output.levels)
write_parquet(predictions, snakemake.output.predictions)

# the second selection: the runs whose rate of best final validation accuracy differs train again
by_accuracy = with_chosen_rates(planned, chosen_rates(tuning, "accuracy"))
speed_lr = {(s.activation, s.hidden, s.optimizer, s.learn_scale, r.logit_scale, r.seed): r.lr
            for s in group.stacks for r in s.runs}
differ = with_runs(by_accuracy, {i: tuple(r for r in s.runs if r.lr != speed_lr[
    (s.activation, s.hidden, s.optimizer, s.learn_scale, r.logit_scale, r.seed)]) for i, s in enumerate(by_accuracy.stacks)})
print(f"accuracy selection: {differ.num_runs} of {by_accuracy.num_runs} runs at another rate")
moved = job.train(differ, "accuracy", test=True, targets=targets).runs if differ.num_runs else runs.iloc[:0]
same = ~runs.set_index(SAME_RUN).index.isin(moved.set_index(SAME_RUN).index)
write_parquet(pd.concat([runs[same], moved], ignore_index=True), snakemake.output.accuracy_runs)
write_json(job.env, snakemake.output.job)
shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)  # the tables now hold it all
