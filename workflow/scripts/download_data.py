"""Download one torchvision dataset into the data root (on a login node: compute nodes
often have no internet). Without a network: one line naming the files and where they go."""
import sys

from experiments.convergence.data import download

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
try:
    download(snakemake.params.name, snakemake.params.root)
except RuntimeError as err:
    sys.exit(str(err))
