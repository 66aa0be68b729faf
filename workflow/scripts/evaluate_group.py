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
from experiments.config import execution_settings
from experiments.storage import write_json, write_parquet
from experiments.sweep import Group, with_chosen_rates, with_runs
from experiments.convergence.data import load_dataset
from experiments.convergence.training import group_plan, start_job, train_group
from experiments.convergence.tuning import chosen_rates

SAME_RUN = ["activation", "hidden", "optimizer", "learn_scale", "logit_scale", "seed"]   # a run but its rate

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
tuning = pd.concat([pd.read_parquet(f) for f in snakemake.input.tuning], ignore_index=True)
planned = Group.from_dict(snakemake.params.group)
group = with_chosen_rates(planned, chosen_rates(tuning))
run = execution_settings(snakemake.config)   # device, max_stack, data root, matmul precision: not params
cfg = {"seed": snakemake.params.seed, "data": {**snakemake.params.data, "root": run["data_root"]}}
device, env = start_job(run["device"], snakemake.threads, run["matmul_precision"])
env["cuda_graphs"] = run["cuda_graphs"] and device.type == "cuda"
env["plan"] = group_plan(group, load_dataset(group.dataset, cfg), device, run["max_stack"])   # chunks, blocks: as trained
print(f"evaluate {group.name}: {group.num_runs} runs in {len(group.stacks)} stacks, {group.steps} steps; {env}")
targets = Targets.from_table(pd.read_parquet(snakemake.input.targets), group.dataset)
runs, curves, layers, levels, predictions = train_group(
    group, cfg, device, run["max_stack"], checkpoint_dir=snakemake.params.checkpoint_dir, log=print, test=True,
    targets=targets, cuda_graphs=run["cuda_graphs"])
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
moved = train_group(differ, cfg, device, run["max_stack"], checkpoint_dir=f"{snakemake.params.checkpoint_dir}/accuracy",
                    cuda_graphs=run["cuda_graphs"], log=print, test=True, targets=targets).runs if differ.num_runs else runs.iloc[:0]
same = ~runs.set_index(SAME_RUN).index.isin(moved.set_index(SAME_RUN).index)
write_parquet(pd.concat([runs[same], moved], ignore_index=True), snakemake.output.accuracy_runs)
write_json(env, snakemake.output.job)
shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)  # the tables now hold it all
