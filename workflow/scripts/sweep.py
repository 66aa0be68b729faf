"""Write the expanded sweep (one row per run, with its group) and the validated config."""
import pandas as pd
import yaml

from experiments.storage import write_parquet
from experiments.sweep import groups_from_config

config = snakemake.params.config
rows = [dict(group=g.name, **r.__dict__) for g in groups_from_config(config).values() for r in g.runs]
write_parquet(pd.DataFrame(rows), snakemake.output.sweep)
with open(snakemake.output.config, "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
with open(snakemake.log[0], "w") as log:
    print(f"{len(rows)} runs in {len({r['group'] for r in rows})} groups", file=log)
