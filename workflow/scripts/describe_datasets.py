"""Load each dataset of the sweep the way training does; write its sizes and split."""
import sys

import pandas as pd

from experiments import columns
from experiments.config import execution_settings
from experiments.convergence.data import describe, load_dataset
from experiments.storage import write_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
cfg = {"seed": snakemake.params.seed,
       "data": {**snakemake.params.data, "root": execution_settings(snakemake.config)["data_root"]}}
table = pd.DataFrame([describe(load_dataset(name, cfg), cfg) for name in snakemake.params.datasets],
                     columns=columns.DATASETS)
print(table.to_string())
write_parquet(table, snakemake.output[0])
