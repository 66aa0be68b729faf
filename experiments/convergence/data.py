"""Datasets: scikit-learn's 8x8 digits, a seeded Gaussian mixture, MNIST-1D, and
torchvision's image sets on bigger machines.

Three splits per dataset, all stratified and seeded from the base seed and the
dataset's name:

- *test*: the published test split where there is one (MNIST-1D's 1,000,
  torchvision's test sets); otherwise ``data.test_fraction`` of the examples.
  Only final metrics (accuracy, NLL, calibration) are measured on it.
- *validation*: ``data.val_fraction`` of what is left (MNIST-1D: a second draw
  of its generator, so that it trains on the paper's 4,000); learning rates,
  logit scales and steps to the target are chosen and measured on it.
- *train*: the rest.

Inputs are standardised with the *training* mean and standard deviation.
Nothing is downloaded while training: MNIST-1D is generated from the
``mnist1d`` package's templates with the published arguments (Greydanus 2020)
and cached under ``data.root``.
"""

from __future__ import annotations

import functools
import json

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ..storage import write_bytes
from .. import registry
from ..sweep import derive_seed
from .vision import VISION

Split = tuple[np.ndarray, np.ndarray]            # (x (N, D), y (N,))


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # (N_train, D) float32, standardised
    y_train: np.ndarray  # (N_train,) int64 in [0, C)
    x_val: np.ndarray    # (N_val, D) float32
    y_val: np.ndarray    # (N_val,) int64
    x_test: np.ndarray   # (N_test, D) float32
    y_test: np.ndarray   # (N_test,) int64
    num_classes: int

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]


def _digits(cfg: dict) -> tuple[Split, None]:
    d = load_digits()
    return (d.data.astype(np.float64), d.target.astype(np.int64)), None


def _gaussian_mixture(cfg: dict) -> tuple[Split, None]:
    """x = mu_y + eps, mu_c ~ N(0, s^2 I), eps ~ N(0, I), classes balanced."""
    g = cfg["data"]["gaussian_mixture"]
    rng = np.random.default_rng(derive_seed(cfg["seed"], "gaussian_mixture", "sample"))
    n, d, c = g["n_samples"], g["n_features"], g["n_classes"]
    means = rng.normal(0.0, g["separation"], size=(c, d))
    y = np.arange(n) % c
    x = means[y] + rng.normal(size=(n, d))
    return (x, y.astype(np.int64)), None


# MNIST-1D (Greydanus 2020): the package's published arguments (mnist1d.data.get_dataset_args):
# 5,000 examples of 40 samples, the first 4,000 for training, the last 1,000 the test split. The paper
# trains on all 4,000, so the validation split is not carved out of them: it is the training part of a
# second draw from the same generator and arguments with another seed (MNIST1D_VAL_SEED), its first
# 1,000 signals (100 per digit in expectation): the paper's train and test splits, untouched.
MNIST1D_SHAPES = {"train": (4000, 40), "val": (1000, 40), "test": (1000, 40), "classes": 10}
MNIST1D_VAL_SEED = 43            # the published draw uses 42
MNIST1D_FORMAT = 2               # cache layout: 2 adds the validation draw (x_val, y_val)


def _mnist1d_draw(seed: int) -> dict:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    state = np.random.get_state()              # make_dataset seeds numpy's global generator
    try:
        return make_dataset(args)
    finally:
        np.random.set_state(state)


def _mnist1d(cfg: dict) -> tuple[Split, Split, Split]:
    """MNIST-1D generated locally (never its download path), cached as ``<data.root>/mnist1d.npz``:
    (the published training split, the published test split, the validation draw)."""
    from importlib.metadata import version

    path = Path(cfg["data"]["root"]) / "mnist1d.npz"
    if path.exists():
        with np.load(path) as f:
            cached = int(f["format"]) if "format" in f else 1
    if not path.exists() or cached != MNIST1D_FORMAT:
        try:
            d, v = _mnist1d_draw(42), _mnist1d_draw(MNIST1D_VAL_SEED)
        except ImportError:
            raise RuntimeError("dataset 'mnist1d' needs the mnist1d package: pip install mnist1d") from None
        n_val = MNIST1D_SHAPES["val"][0]
        buf = io.BytesIO()
        np.savez(buf, x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"],
                 x_val=v["x"][:n_val], y_val=v["y"][:n_val], format=MNIST1D_FORMAT,
                 generator=f"mnist1d {version('mnist1d')}, get_dataset_args() defaults; validation: "
                           f"seed {MNIST1D_VAL_SEED}, first {n_val} of its training part")
        write_bytes(buf.getvalue(), path)          # atomic: jobs generating it at once both succeed
    with np.load(path) as f:
        return ((f["x"], f["y"].astype(np.int64)), (f["x_test"], f["y_test"].astype(np.int64)),
                (f["x_val"], f["y_val"].astype(np.int64)))


# torchvision datasets for bigger machines (optional extra "vision"), flattened to vectors: ``vision.VISION``


def _vision(name: str):
    def load(cfg: dict) -> tuple[Split, Split]:
        """The published train and test splits, pixels flattened."""
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
        flat = lambda p: (np.asarray(p.data, dtype=np.float64).reshape(len(p.data), -1),  # noqa: E731
                          np.asarray(p.targets, dtype=np.int64))
        return flat(parts[0]), flat(parts[1])
    return load


# The built-ins, registered as a user's dataset is (experiments.registry): name -> load(cfg) returning
# ((x, y), the published test split or None[, a validation split]); a user's is split as digits is.
for _name, _load, _label in [("digits", _digits, "digits"), ("gaussian_mixture", _gaussian_mixture, "Gaussian mixture"),
                             ("mnist1d", _mnist1d, "MNIST-1D"), ("mnist", _vision("mnist"), "MNIST"),
                             ("fashion_mnist", _vision("fashion_mnist"), "Fashion-MNIST"),
                             ("cifar10", _vision("cifar10"), "CIFAR-10")]:
    registry.dataset(_name, _label)(_load)
DATASETS = registry.DATASETS     # name -> registry.Dataset
SOURCES = {"digits": "scikit-learn", "gaussian_mixture": "generated", "mnist1d": "mnist1d (generated)",
           **{n: "torchvision" for n in VISION}}


def load_dataset(name: str, cfg: dict) -> Dataset:
    """Build, split and standardise dataset ``name`` for a validated config (``seed`` and ``data`` are
    all it reads). Kept for the process's next call with the same settings (a job plans, then trains,
    then tunes round after round on one dataset): the arrays are shared, never written."""
    registry.ensure_loaded()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {registry.dataset_names()}")
    return _load_dataset(name, json.dumps({"seed": cfg["seed"], "data": cfg["data"]}, sort_keys=True))


@functools.lru_cache(maxsize=4)
def _load_dataset(name: str, settings: str) -> Dataset:
    cfg = json.loads(settings)
    (x, y), test, *val = DATASETS[name].load(cfg)
    if test is None:
        x, x_te, y, y_te = train_test_split(x, y, test_size=cfg["data"]["test_fraction"], stratify=y,
                                            random_state=derive_seed(cfg["seed"], name, "test-split"))
    else:
        x_te, y_te = test
    if val:                                      # a validation split of its own (MNIST-1D)
        (x_tr, y_tr), (x_va, y_va) = (x, y), val[0]
    else:
        x_tr, x_va, y_tr, y_va = train_test_split(
            x, y, test_size=cfg["data"]["val_fraction"], stratify=y,
            random_state=derive_seed(cfg["seed"], name, "split"),
        )
    mean, std = x_tr.mean(0), x_tr.std(0)
    std[std == 0] = 1.0  # constant pixels (digits' borders) stay zero
    f32 = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return Dataset(name, f32(x_tr), y_tr, f32(x_va), y_va, f32(x_te), y_te,
                   int(max(y.max(), y_te.max())) + 1)


def describe(ds: Dataset, cfg: dict) -> dict:
    """One row of ``results/data/datasets.parquet``: sizes, how the split was made, and chance accuracy."""
    published = ds.name == "mnist1d" or ds.name in VISION
    spec = DATASETS[ds.name]
    return {"dataset": ds.name, "label": spec.label,
            "source": SOURCES.get(ds.name, f"extension ({Path(spec.source).name})"),
            "n_train": len(ds.y_train), "n_val": len(ds.y_val), "n_test": len(ds.y_test),
            "num_features": ds.num_features, "num_classes": ds.num_classes,
            "val_fraction": math.nan if ds.name == "mnist1d" else cfg["data"]["val_fraction"],
            "test_split": "published" if published else f"{cfg['data']['test_fraction']:.0%} held out",
            "split_seed": None if ds.name == "mnist1d" else derive_seed(cfg["seed"], ds.name, "split"),
            # the validation accuracy of always predicting the most frequent class: the targets' zero
            "chance": float(np.bincount(ds.y_val).max() / len(ds.y_val))}


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
