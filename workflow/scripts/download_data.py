"""Download one torchvision dataset into the data root."""
import sys

from experiments.data import download

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)
download(snakemake.params.name, snakemake.params.root)
