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


# name -> function(cfg) returning raw (x, y)
DATASETS = {"digits": _digits, "gaussian_mixture": _gaussian_mixture}


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
