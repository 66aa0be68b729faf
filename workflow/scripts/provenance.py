"""Write results/provenance.json."""
import json
import sys
from pathlib import Path

import pandas as pd

from experiments.config import execution_settings
from experiments.provenance import provenance, stage_times
from experiments.report.render import choose_renderer, renderer_version
from experiments.storage import write_json

STAGE_OF = {"reference": "reference", "tuning": "tune", "groups": "evaluate"}   # folder of a job's file -> stage
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
runs = pd.read_parquet(snakemake.input.runs)
record = provenance(
    config=snakemake.params.config,
    repo=snakemake.params.repo,
    devices_used=runs["device"].tolist(),
    started_at=runs["started_at"].min() if len(runs) else None,
    stages=stage_times(snakemake.input.benchmarks),
    # "reference/<group>", "tune/<group>" and "evaluate/<group>": the stages' jobs share group names
    jobs={STAGE_OF[Path(f).parent.name] + "/" + Path(f).name.removesuffix(".job.json"):
          json.loads(Path(f).read_text()) for f in snakemake.input.jobs},
    renderer=renderer_version(choose_renderer()),
)
record["execution"] = execution_settings(snakemake.config)   # as this job saw them (not part of the hash)
print(record["git"], record["versions"])
write_json(record, snakemake.output[0])
