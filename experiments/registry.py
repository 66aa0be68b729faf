"""What a sweep can train on and with: losses and datasets by name, the built-ins and a user's own.

A user's file, listed under the config's ``extensions:``, registers with the same decorators as the
built-ins (``experiments.convergence.losses``, ``experiments.convergence.data``)::

    from experiments import dataset, loss

    @loss("poly1", label="Poly-1")
    def poly1(logits, target, poly_epsilon=1.0):   # (N, C) float, (N,) int64 -> (N,) per-example loss
        ...

    @dataset("wine", label="Wine")
    def wine():                                     # -> X (n, d) float array, y (n,) labels
        ...

A loss registered without ``grad=`` (its closed-form gradient ``(z, y, **params) -> (l, dl/dz)``)
trains on the gradient autograd gives on the logits (``convergence.losses.get_loss_grad``). Its
keyword parameters, with their defaults, are the ones the config's ``convergence.loss_params`` may set.
A dataset is split, standardised and described as the built-ins are (``convergence.data``).

This module imports no torch: the built-ins' names are listed here (:data:`BUILTIN_LOSSES`,
:data:`BUILTIN_DATASETS`; a test keeps them equal to what registers), so a config is checked without
it. :func:`load_extensions` imports the user's files (they import torch themselves) and puts their
paths in the environment, so a job started from this process (a Snakemake script, a SLURM job) finds
the same registrations when it first asks for a name (:func:`ensure_loaded`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# the built-ins, in the order of the report's tables (the registrations are in convergence.losses/.data)
BUILTIN_LOSSES = ("cross_entropy", "cross_entropy_ls", "bce_ovr", "mse_softmax", "mse_sigmoid", "mse_logits",
                  "hinge", "squared_hinge", "focal")
BUILTIN_DATASETS = ("digits", "gaussian_mixture", "mnist1d", "mnist", "fashion_mnist", "cifar10")
OUTPUTS = ("softmax", "sigmoid", "none")              # the non-linearity between a loss and the logits
PREDICTIVE = ("softmax", "normalised sigmoid")        # how test probabilities are read from the logits
ENV = "XENT_EXTENSIONS"                               # the extension files, for processes started from here
NAME = re.compile(r"[a-z][a-z0-9_]*")


class ExtensionError(ValueError):
    """An extension file that does not load, or a registration that cannot stand (one line)."""


@dataclass(frozen=True)
class Loss:
    """A loss: ``fn(z (..., C), y (...)) -> (...)`` per example, its keyword parameters bound by name."""
    name: str
    fn: Callable
    label: str
    definition: str
    grad: Callable | None = None          # closed form (z, y, **params) -> (l, dl/dz); None: autograd
    output: str = "softmax"               # OUTPUTS: whose derivative can vanish at the true class
    predictive: str = "softmax"           # PREDICTIVE
    params: dict = field(default_factory=dict)   # keyword parameters -> defaults (fn's signature)
    source: str = "built-in"              # or the extension file that registered it

    def __call__(self, z, y, **params):
        return self.fn(z, y, **params)


@dataclass(frozen=True)
class Dataset:
    """A dataset: ``load(cfg) -> ((x, y), published test split or None[, validation split])``."""
    name: str
    load: Callable
    label: str
    source: str = "built-in"


LOSSES: dict[str, Loss] = {}
DATASETS: dict[str, Dataset] = {}
_loaded: dict[str, str] = {}              # extension path -> module name, in load order


def _check_name(kind: str, name: str, fn, table: dict, builtins: tuple) -> str:
    source = _source(fn)
    if not NAME.fullmatch(name):
        raise ExtensionError(f"{kind} name {name!r} ({source}): lower-case letters, digits and _, a letter first")
    if name in builtins and source != "built-in":
        raise ExtensionError(f"{kind} {name!r} ({source}) is a built-in's name; choose another")
    old = table.get(name)
    if old is not None and old.source != source:
        raise ExtensionError(f"{kind} {name!r} is registered twice: {old.source} and {source}")
    return source


def _source(fn) -> str:
    """"built-in" for the package's own functions, else the file that defined ``fn``."""
    module = getattr(fn, "__module__", "") or ""
    if module.startswith("experiments."):
        return "built-in"
    try:
        return str(Path(inspect.getfile(fn)).resolve())
    except (TypeError, OSError):
        return module or "?"


def loss(name: str, label: str | None = None, *, grad: Callable | None = None, output: str = "softmax",
         predictive: str | None = None, definition: str | None = None):
    """Register the decorated per-example loss under ``name`` (returns it unchanged).

    ``label``: how the report names it (default: ``name``); ``grad``: its closed-form gradient, if any;
    ``output``: the non-linearity between it and the logits (``"softmax"``, ``"sigmoid"``: one per
    class, or ``"none"``: it reads the logits), for the output-saturation measure; ``predictive``: how
    test probabilities are read from its logits (default: ``"normalised sigmoid"`` for a sigmoid output,
    else ``"softmax"``); ``definition``: one line for the report's table of losses (default: the first
    line of the function's docstring)."""
    if output not in OUTPUTS:
        raise ExtensionError(f"loss {name!r}: output must be one of {list(OUTPUTS)}, not {output!r}")
    predictive = predictive or ("normalised sigmoid" if output == "sigmoid" else "softmax")
    if predictive not in PREDICTIVE:
        raise ExtensionError(f"loss {name!r}: predictive must be one of {list(PREDICTIVE)}, not {predictive!r}")

    def register(fn):
        source = _check_name("loss", name, fn, LOSSES, BUILTIN_LOSSES)
        sig = inspect.signature(fn).parameters
        if len(sig) < 2:
            raise ExtensionError(f"loss {name!r} ({source}): takes (logits, target, **params), not {list(sig)}")
        params = {k: p.default for k in list(sig)[2:] if (p := sig[k]).default is not inspect.Parameter.empty}
        doc = (inspect.getdoc(fn) or "").strip().splitlines()
        LOSSES[name] = Loss(name, fn, label or name,
                            definition or (doc[0] if doc else f"a user's loss ({Path(source).name})"),
                            grad, output, predictive, params, source)
        _builtins_first(LOSSES, BUILTIN_LOSSES)
        return fn
    return register


def dataset(name: str, label: str | None = None):
    """Register the decorated dataset under ``name`` (returns it unchanged): a function of no arguments
    returning ``(X, y)``, the examples (n, d) and their labels (n,) (any values: they are numbered
    0..C-1 in sorted order). It is split, standardised and described as the built-ins are."""
    def register(fn):
        source = _check_name("dataset", name, fn, DATASETS, BUILTIN_DATASETS)
        load = fn if source == "built-in" else _user_dataset(name, fn, source)
        DATASETS[name] = Dataset(name, load, label or name, source)
        _builtins_first(DATASETS, BUILTIN_DATASETS)
        return fn
    return register


def _builtins_first(table: dict, builtins: tuple) -> None:
    """Reorder ``table`` in place: the built-ins in their order, then the user's in registration order
    (a user's file may load before the built-ins register)."""
    order = [n for n in builtins if n in table] + [n for n in table if n not in builtins]
    items = [(n, table[n]) for n in order]
    table.clear()
    table.update(items)


def _user_dataset(name: str, fn, source: str):
    def load(cfg: dict):
        import numpy as np

        try:
            x, y = fn()
        except Exception as err:        # the user's code: say whose and what, in one line
            raise ExtensionError(f"dataset {name!r} ({source}) failed: {type(err).__name__}: {err}") from None
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise ExtensionError(f"dataset {name!r} ({source}) must return X (n, d) and y (n,), got shapes "
                                 f"{x.shape} and {y.shape}")
        if not np.isfinite(x).all():
            raise ExtensionError(f"dataset {name!r} ({source}): X holds NaN or inf")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ExtensionError(f"dataset {name!r} ({source}): y holds {len(classes)} class; a classifier needs 2")
        return (x, codes.astype(np.int64)), None
    return load


def load_extensions(paths: list[str], base: Path | str = ".") -> list[str]:
    """Import each extension file (``paths`` relative to ``base``, the working directory) once, in order,
    and record the absolute paths in the environment (:data:`ENV`) for the processes started from this one.
    Returns the absolute paths. A file that is missing or raises on import: :class:`ExtensionError`."""
    done = []
    for p in paths:
        path = (Path(base) / p).resolve()
        if str(path) not in _loaded:
            if not path.is_file():
                raise ExtensionError(f"{p}: no such file (looked for {path})")
            module = f"xent_extension_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
            spec = importlib.util.spec_from_file_location(module, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[module] = mod
            try:
                spec.loader.exec_module(mod)
            except ExtensionError:
                del sys.modules[module]
                raise
            except Exception as err:
                del sys.modules[module]
                raise ExtensionError(f"{p} does not load: {type(err).__name__}: {err}") from None
            _loaded[str(path)] = module
        done.append(str(path))
    old = [p for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    if done:
        os.environ[ENV] = os.pathsep.join(dict.fromkeys(old + done))
    return done


def ensure_loaded() -> None:
    """Load the extension files this process was started with (:data:`ENV`), if not yet loaded."""
    paths = [p for p in os.environ.get(ENV, "").split(os.pathsep) if p and p not in _loaded]
    if paths:
        load_extensions(paths)


def loss_names() -> list[str]:
    """Every loss a config may name: the built-ins, then the user's, in registration order."""
    ensure_loaded()
    return list(BUILTIN_LOSSES) + [n for n in LOSSES if n not in BUILTIN_LOSSES]


def dataset_names() -> list[str]:
    """Every dataset a config may name: the built-ins, then the user's."""
    ensure_loaded()
    return list(BUILTIN_DATASETS) + [n for n in DATASETS if n not in BUILTIN_DATASETS]


def loss_params(name: str) -> dict:
    """The keyword parameters of a registered user loss and their defaults ({} for a built-in: the
    schema lists theirs)."""
    ensure_loaded()
    spec = LOSSES.get(name)
    return dict(spec.params) if spec is not None and spec.source != "built-in" else {}
