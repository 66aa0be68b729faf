"""Concatenate the per-group tables; summarise over seeds; build the performance profile."""
import sys

from experiments.storage import write_parquet
from experiments.tables import concat_parquet, performance_profile, summary_table

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
runs = concat_parquet(snakemake.input.runs)
curves = concat_parquet(snakemake.input.curves)
summary = summary_table(runs)
profile = performance_profile(runs, summary)
print(f"{len(runs)} runs, {len(curves)} curve rows, {len(summary)} configurations")
print(runs["status"].value_counts().to_string())
write_parquet(runs, snakemake.output.runs)
write_parquet(curves, snakemake.output.curves)
write_parquet(summary, snakemake.output.summary)
write_parquet(profile, snakemake.output.profile)
