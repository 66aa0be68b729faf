"""Every number the report prints, as tables under results/report/ (experiments.analysis.report_tables),
and the facts of the code it states (experiments.convergence.facts, experiments.overflow.facts): the report
then only reads and formats."""
import sys
from pathlib import Path

import pandas as pd

from experiments.analysis.contract import empty
from experiments.analysis.report_tables import report_tables
from experiments.convergence.facts import constants, dataset_names, gradient_curves, loss_facts
from experiments.overflow.facts import overflow_names
from experiments.storage import write_parquet

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
t = {name: pd.read_parquet(path) for name, path in snakemake.input.items() if name not in ("code", "extensions")}
t.setdefault("amp", empty("amp_training"))        # `overflow: null`: no reduced-precision runs, no probes
t.setdefault("probes", empty("probes"))
cv = snakemake.params.convergence
classes = int(t["datasets"]["num_classes"].mode().iloc[0])          # the most common class count
facts = {"losses": loss_facts(cv["losses"], classes, cv["loss_params"]), "gradients": gradient_curves(),
         "constants": constants(), "names": pd.concat([overflow_names(), dataset_names()], ignore_index=True)}
tables = {**report_tables(t, cv, facts), **facts}
out = Path(snakemake.output.tables[0]).parent
for name, df in tables.items():
    print(f"{name}: {len(df)} rows")
    write_parquet(df, out / f"{name}.parquet")
