"""Concatenate the per-group tables; summarise over seeds; the performance profile; the tuning
table; the claims with their intervals; the published results beside them."""
import sys

from experiments.convergence.claims import claims_table
from experiments.convergence.literature import literature_table
from experiments.storage import write_parquet
from experiments.convergence.tables import (concat_parquet, effective_rate_table, matched_rate_costs, performance_profile,
                                shown_setting, summary_table)

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
runs = concat_parquet(snakemake.input.runs)
curves = concat_parquet(snakemake.input.curves)
layers = concat_parquet(snakemake.input.layers)
tuning = concat_parquet(snakemake.input.tuning)
tuning_runs = concat_parquet(snakemake.input.tuning_runs)
summary = summary_table(runs, tuning)
profile = performance_profile(runs, summary)
# the effective-rate view: the tried rates times each configuration's step-0 gradient, SGD only (an SGD step
# moves the logits by about rate x ||dL/dz||; Adam's step does not scale with the gradient)
setting = {**shown_setting(runs), "optimizer": "sgd"}
matched = matched_rate_costs(effective_rate_table(tuning, curves, setting)) if "sgd" in set(runs["optimizer"]) else None
claims = claims_table(runs, summary, tuning, layers, matched)
print(f"{len(runs)} runs, {len(curves)} curve rows, {len(summary)} configurations, "
      f"{len(tuning)} rates tried, {int(tuning['at_edge'].sum())} chosen at an edge")
print(runs["status"].value_counts().to_string())
for row in claims.itertuples():
    print(row.claim, "|", row.statement)
write_parquet(runs, snakemake.output.runs)
write_parquet(curves, snakemake.output.curves)
write_parquet(layers, snakemake.output.layers)
write_parquet(summary, snakemake.output.summary)
write_parquet(profile, snakemake.output.profile)
write_parquet(tuning, snakemake.output.tuning)
write_parquet(tuning_runs, snakemake.output.tuning_runs)
write_parquet(claims, snakemake.output.claims)
write_parquet(literature_table(claims), snakemake.output.literature)
