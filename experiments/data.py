"""Datasets: scikit-learn's bundled 8x8 digits and a seeded Gaussian mixture.

Both are split once into train/validation (stratified, seeded from the base
seed and the dataset name) and standardised with the *training* mean and
standard deviation. No download ever happens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .sweep import derive_seed


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # (N_train, D) float32, standardised
    y_train: np.ndarray  # (N_train,) int64 in [0, C)
    x_val: np.ndarray    # (N_val, D) float32
    y_val: np.ndarray    # (N_val,) int64
    num_classes: int

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]


def _digits(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    return d.data.astype(np.float64), d.target.astype(np.int64)


def _gaussian_mixture(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """x = mu_y + eps, mu_c ~ N(0, s^2 I), eps ~ N(0, I), classes balanced."""
    g = cfg["data"]["gaussian_mixture"]
    rng = np.random.default_rng(derive_seed(cfg["seed"], "gaussian_mixture", "sample"))
    n, d, c = g["n_samples"], g["n_features"], g["n_classes"]
    means = rng.normal(0.0, g["separation"], size=(c, d))
    y = np.arange(n) % c
    x = means[y] + rng.normal(size=(n, d))
    return x, y.astype(np.int64)


# torchvision datasets for bigger machines (optional extra "vision"), flattened to vectors.
# name -> (torchvision class, files torchvision expects under <data.root>/<folder>)
VISION = {
    "mnist": ("MNIST", "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}"),
}


def _vision(name: str):
    def load(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
        """Train and test splits pooled (the project makes its own seeded split), pixels flattened."""
        try:
            import torchvision
        except ImportError:
            raise RuntimeError(f"dataset {name!r} needs torchvision: pip install -e '.[vision]'") from None
        cls_name, files = VISION[name]
        root = cfg["data"]["root"]
        cls = getattr(torchvision.datasets, cls_name)
        try:
            parts = [cls(root, train=train, download=False) for train in (True, False)]
        except RuntimeError:
            raise RuntimeError(
                f"dataset {name!r} is not under {root!r}: expected {root}/{files}. Fetch it with "
                f"`snakemake download_data` where there is internet, or copy the files there") from None
        x = np.concatenate([np.asarray(p.data, dtype=np.float64).reshape(len(p.data), -1) for p in parts])
        y = np.concatenate([np.asarray(p.targets, dtype=np.int64) for p in parts])
        return x, y
    return load


# name -> function(cfg) returning raw (x, y)
DATASETS = {"digits": _digits, "gaussian_mixture": _gaussian_mixture, **{n: _vision(n) for n in VISION}}


def load_dataset(name: str, cfg: dict) -> Dataset:
    """Build, split and standardise dataset ``name`` for a validated config."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {sorted(DATASETS)}")
    x, y = DATASETS[name](cfg)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=cfg["data"]["val_fraction"], stratify=y,
        random_state=derive_seed(cfg["seed"], name, "split"),
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    std[std == 0] = 1.0  # constant pixels (digits' borders) stay zero
    x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std
    return Dataset(name, x_tr.astype(np.float32), y_tr, x_va.astype(np.float32), y_va,
                   int(y.max()) + 1)


def describe(ds: Dataset, cfg: dict) -> dict:
    """One row of ``results/data/datasets.parquet``: sizes and how the split was made."""
    return {"dataset": ds.name, "source": "torchvision" if ds.name in VISION else
            ("scikit-learn" if ds.name == "digits" else "generated"),
            "n_train": len(ds.y_train), "n_val": len(ds.y_val), "num_features": ds.num_features,
            "num_classes": ds.num_classes, "val_fraction": cfg["data"]["val_fraction"],
            "split_seed": derive_seed(cfg["seed"], ds.name, "split")}


def download(name: str, root: str) -> None:
    """Fetch a torchvision dataset into ``root`` (run where there is internet, e.g. a login node)."""
    if name not in VISION:
        raise ValueError(f"{name!r} needs no download; downloadable: {sorted(VISION)}")
    try:
        import torchvision
    except ImportError:
        raise RuntimeError(f"dataset {name!r} needs torchvision: pip install -e '.[vision]'") from None
    cls_name, files = VISION[name]
    try:
        for train in (True, False):
            getattr(torchvision.datasets, cls_name)(root, train=train, download=True)
    except Exception as err:  # URLError, HTTPError, socket errors, checksum failures
        raise RuntimeError(f"could not download {name!r} ({type(err).__name__}: {err}); "
                           f"place the files at {root}/{files} by hand") from None
