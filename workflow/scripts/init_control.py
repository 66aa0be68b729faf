"""The depth study's control: each evaluation run's step-0 weight-gradient ratio again, with the output
bias at the log class prior (experiments.convergence.init_control); write init_control.parquet."""
import sys

from experiments.config import execution_settings
from experiments.analysis.depth import control_table
from experiments.convergence.init_control import init_control
from experiments.storage import write_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
cfg = {"seed": snakemake.params.seed, "convergence": snakemake.params.convergence,
       "data": {**snakemake.params.data, "root": execution_settings(snakemake.config)["data_root"]}}
table = init_control(cfg)
print(control_table(table).to_string())
write_parquet(table, snakemake.output[0])
