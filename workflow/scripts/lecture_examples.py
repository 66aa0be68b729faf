"""Recompute the lecture's worked numbers; write examples.parquet."""
import sys

from experiments.lecture import examples
from experiments.storage import write_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
table = examples(snakemake.params.seed)
print(table.to_string())
write_parquet(table, snakemake.output[0])
