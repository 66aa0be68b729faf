"""Write the expanded sweep (one row per run, with its group and stack) and the validated config."""
import sys

import yaml

from experiments.storage import write_parquet
from experiments.sweep import sweep_table

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
config = snakemake.params.config
table = sweep_table(config)
write_parquet(table, snakemake.output.sweep)
with open(snakemake.output.config, "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
print(f"{len(table)} runs in {table['group'].nunique()} groups and {table['stack'].nunique()} stacks")
