"""Render report/report.qmd into results/report.html (renderer: $XENT_RENDERER, else Quarto when on PATH)."""
import sys
from pathlib import Path

from experiments.report.render import RenderError, render_report

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
results_dir = Path(snakemake.output[0]).parent.resolve()
try:
    render_report(snakemake.params.report_dir, "report.qmd", snakemake.output[0],
                  params={"results_dir": str(results_dir)}, log=print)
except RenderError as err:
    print(f"render error: {err}")
    sys.exit(1)
