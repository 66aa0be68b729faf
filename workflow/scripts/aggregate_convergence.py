"""Concatenate the per-group tables into runs.parquet and curves.parquet."""
import sys

from experiments.storage import write_parquet
from experiments.tables import concat_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
runs = concat_parquet(snakemake.input.runs)
curves = concat_parquet(snakemake.input.curves)
print(f"{len(runs)} runs, {len(curves)} curve rows; status counts:\n{runs['status'].value_counts()}")
write_parquet(runs, snakemake.output.runs)
write_parquet(curves, snakemake.output.curves)
