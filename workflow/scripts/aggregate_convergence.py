"""Concatenate the per-group tables; summarise over seeds; the performance profile; the tuning table;
the claims with their intervals; the published results beside them (experiments.analysis)."""
import sys

import pandas as pd

from experiments.analysis.claims import claims_table
from experiments.analysis.contract import concat_parquet
from experiments.analysis.literature import budget_epochs, literature_table
from experiments.analysis.profile import performance_profile
from experiments.analysis.rates import matched_rate_costs
from experiments.analysis.summary import shown_setting, summary_table
from experiments.analysis.targets import target_rule
from experiments.storage import write_parquet
from experiments.sweep import in_grid

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
runs = concat_parquet(snakemake.input.runs)
curves = concat_parquet(snakemake.input.curves)
layers = concat_parquet(snakemake.input.layers)
levels = concat_parquet(snakemake.input.levels)
predictions = concat_parquet(snakemake.input.predictions)
accuracy_runs = concat_parquet(snakemake.input.accuracy_runs)
tuning = concat_parquet(snakemake.input.tuning)
tuning_runs = concat_parquet(snakemake.input.tuning_runs)
targets = pd.read_parquet(snakemake.input.targets)
summary = summary_table(runs, tuning)
profile = performance_profile(runs, summary)
# the effective-rate view: the tried rates times each configuration's step-0 gradient, SGD only (an SGD step
# moves the logits by about rate x ||dL/dz||; Adam's step does not scale with the gradient)
setting = {**shown_setting(runs), "optimizer": "sgd"}
matched = matched_rate_costs(tuning, tuning_runs, curves, setting) if "sgd" in set(runs["optimizer"]) else None
cv = snakemake.params.convergence
pool = lambda df: df[in_grid(df, cv)] if len(df) else df   # noqa: E731  (the claims' pool: the main grid)
claims = claims_table(pool(runs), tuning, layers, matched, pool(predictions), targets=targets,
                      accuracy_runs=pool(accuracy_runs), levels=pool(levels), question=snakemake.params.question)
print(f"{len(runs)} runs, {len(curves)} curve rows, {len(summary)} configurations, {len(tuning)} rates tried")
print(tuning.loc[tuning["chosen"], "search_outcome"].value_counts().to_string())
print(runs["status"].value_counts().to_string())
print(target_rule(runs, targets).to_string())
with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_rows", 1000):
    print(claims.drop(columns=["test"]).to_string())
write_parquet(runs, snakemake.output.runs)
write_parquet(curves, snakemake.output.curves)
write_parquet(layers, snakemake.output.layers)
write_parquet(levels, snakemake.output.levels)
write_parquet(predictions, snakemake.output.predictions)
write_parquet(accuracy_runs, snakemake.output.accuracy_runs)
write_parquet(summary, snakemake.output.summary)
write_parquet(profile, snakemake.output.profile)
write_parquet(tuning, snakemake.output.tuning)
write_parquet(tuning_runs, snakemake.output.tuning_runs)
write_parquet(claims, snakemake.output.claims)
epochs = budget_epochs(pool(runs), pd.read_parquet(snakemake.input.datasets))
write_parquet(literature_table(claims, epochs), snakemake.output.literature)
