"""Validate a sweep configuration against the JSON schema, before any job runs.

The schema (``experiments/config.schema.yaml``, package data: found after a plain
``pip install .`` too) is the single source of
keys, allowed values and defaults. :func:`validate_config` fills defaults,
checks the whole document, and raises :class:`ConfigError` whose message is one
line naming the offending key and what is allowed, e.g.::

    config error: convergence.losses[1]: 'mse' is not one of ['cross_entropy', ...]

This module must stay free of torch: the Snakefile imports it while building
the DAG.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .sweep import axis_values

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration that the schema refuses; ``str()`` is one line."""


def load_schema(path: Path | str = SCHEMA_PATH) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def _fill_defaults(instance: Any, schema: dict) -> None:
    """Insert each missing key's ``default`` (recursively, objects only)."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)


def _in_schema_order(instance: Any, schema: dict) -> Any:
    """``instance`` with every mapping's keys in the schema's order (free names, e.g. studies, as given):
    Snakemake compares params as written, so two files that differ only in key order must give one config."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return instance
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    out = {k: _in_schema_order(instance[k], props[k]) for k in props if k in instance}
    for k in instance:
        if k not in props:
            out[k] = _in_schema_order(instance[k], extra) if isinstance(extra, dict) else instance[k]
    return out


def _key_path(error: jsonschema.ValidationError) -> str:
    parts: list[str] = []
    for p in error.absolute_path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "<top level>"


def _allowed(sub: dict) -> str:
    """A short phrase for one alternative of an ``anyOf``: 'an integer >= 1', 'auto', 'null'."""
    if "enum" in sub:
        return " or ".join(map(str, sub["enum"]))
    kind = {"integer": "an integer", "number": "a number", "null": "null", "string": "a string"}.get(
        sub.get("type"), str(sub.get("type")))
    bounds = [f"{op} {sub[k]}" for k, op in [("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                                              ("exclusiveMaximum", "<")] if k in sub]
    return " ".join([kind, *bounds])


def _message(error: jsonschema.ValidationError) -> str:
    """One line: ``<key>: <what is wrong>, allowed: <what is allowed>``."""
    key = _key_path(error)
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = f"{key}: " if error.absolute_path else ""
        return f"{where}unknown key {', '.join(map(repr, extra))}; allowed keys: {allowed}"
    if v == "enum":
        return f"{key}: {error.instance!r} is not one of {error.validator_value}"
    if v == "type":
        return f"{key}: {error.instance!r} is not of type {error.validator_value}"
    if v == "minItems":
        return f"{key}: must not be empty"
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        return f"{key}: {error.instance!r} is not allowed, must be {op} {error.validator_value}"
    if v == "anyOf":
        return f"{key}: {error.instance!r} is not allowed, must be {', or '.join(map(_allowed, error.validator_value))}"
    return f"{key}: {error.message}"


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Return a validated deep copy of ``config`` with every default filled in.

    Raises :class:`ConfigError` (one line) on the first problem found, in a
    stable order (the error closest to the top of the document first).
    """
    schema = load_schema() if schema is None else schema
    if not isinstance(config, dict):
        raise ConfigError(f"config error: the config must be a mapping of keys, got {type(config).__name__}")
    cfg = copy.deepcopy(config)
    if isinstance(cfg.get("convergence"), dict) and "target_acc" in cfg["convergence"]:
        raise ConfigError("config error: convergence.target_acc: no longer a setting; targets come from the "
                          "reference stage (convergence.targets: levels, main; experiments/analysis/targets.py)")
    _fill_defaults(cfg, schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError("config error: " + _message(errors[0]))
    ov = cfg["overflow"]
    if ov["gap_min"] >= ov["gap_max"]:
        raise ConfigError(
            f"config error: overflow.gap_min: {ov['gap_min']!r} must be below overflow.gap_max ({ov['gap_max']!r})"
        )
    _check_splits(cfg)
    _check_tuning(cfg["convergence"])
    return _in_schema_order(cfg, schema)


def _check_tuning(cv: dict) -> None:
    """Tuning and evaluation seeds are disjoint; each optimiser's grid lies inside its search bounds; the
    main target level is one of the levels."""
    if isinstance(cv["steps"], dict):
        for ds in axis_values(cv, "datasets"):
            if ds not in cv["steps"]:
                raise ConfigError(f"config error: convergence.steps.{ds}: missing; a budget per dataset must "
                                  f"name every dataset swept ({', '.join(axis_values(cv, 'datasets'))})")
    t = cv["targets"]
    if not any(math.isclose(t["main"], x) for x in t["levels"]):
        raise ConfigError(f"config error: convergence.targets.main: {t['main']:g} is not one of "
                          f"convergence.targets.levels {t['levels']}")
    shared = sorted(set(cv["tuning_seeds"]) & set(cv["eval_seeds"]))
    if shared:
        raise ConfigError(f"config error: convergence.tuning_seeds: {shared} also in convergence.eval_seeds; rates "
                          "are chosen on other seeds than those reported, so the two must be disjoint")
    for opt in axis_values(cv, "optimizers"):
        lo, hi = cv["lr_search"]["bounds"][opt]
        if lo >= hi:
            raise ConfigError(f"config error: convergence.lr_search.bounds.{opt}: [{lo:g}, {hi:g}] must be "
                              "[smallest, largest] with smallest < largest")
        for i, lr in enumerate(cv["learning_rates"][opt]):
            if not lo <= lr <= hi:
                raise ConfigError(f"config error: convergence.learning_rates.{opt}[{i}]: {lr:g} is outside "
                                  f"convergence.lr_search.bounds.{opt} [{lo:g}, {hi:g}]")


# Sizes the split check needs without loading data: digits (always loaded: reduced-precision training uses it).
DIGITS_SIZE, DIGITS_CLASSES = 1797, 10


def _check_splits(cfg: dict) -> None:
    """Stratified test and validation splits need at least one example per class on every side
    (scikit-learn refuses otherwise): say so here, naming the key, not in a job."""
    v, t = cfg["data"]["val_fraction"], cfg["data"]["test_fraction"]
    gm = cfg["data"]["gaussian_mixture"]
    sizes = {"digits": (None, DIGITS_SIZE, DIGITS_CLASSES)}
    if "gaussian_mixture" in axis_values(cfg["convergence"], "datasets"):
        sizes["gaussian_mixture"] = ("data.gaussian_mixture.n_samples", gm["n_samples"], gm["n_classes"])
    for name, (size_key, n, c) in sizes.items():
        n_test = math.ceil(t * n)
        n_val = math.ceil(v * (n - n_test))
        n_train = n - n_test - n_val
        # the key to change: the size if there are too few examples at all, else the fraction at fault
        key = size_key if size_key and n < 3 * c else \
            "data.test_fraction" if n_test < c or n - n_test < 2 * c else "data.val_fraction"
        if min(n_test, n_val, n_train) < c:
            raise ConfigError(
                f"config error: {key}: with {n:,} examples, {c} classes, data.test_fraction {t:g} and "
                f"data.val_fraction {v:g}, {name} splits into {n_train:,} training, {n_val:,} validation and "
                f"{n_test:,} test examples; a stratified split needs at least {c} (one per class) in each")


# Where and how a job runs, not what it computes: kept out of the params Snakemake tracks for reruns
# (scripts read them from ``snakemake.config``), so changing one reruns nothing. Paths into the config.
EXECUTION_KEYS = {"device": ("device",), "max_stack": ("convergence", "max_stack"), "data_root": ("data", "root")}


def execution_settings(cfg: dict) -> dict:
    """``{"device", "max_stack", "data_root"}`` of a validated config."""
    out = {}
    for name, path in EXECUTION_KEYS.items():
        node = cfg
        for key in path:
            node = node[key]
        out[name] = node
    return out


def science_config(cfg: dict) -> dict:
    """A deep copy of a validated config without its execution settings: what the results depend on."""
    out = copy.deepcopy(cfg)
    for path in EXECUTION_KEYS.values():
        node = out
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
    return out


def config_hash(config: dict) -> str:
    """SHA-256 (first 16 hex digits) of the config as canonical JSON."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def load_config_file(path: Path | str) -> dict:
    """Read and validate a config file; a YAML syntax error is one line with its position.

    Snakemake parses ``--configfile`` itself before the workflow runs and says
    only that the file is not valid YAML; this says where.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        raise ConfigError(f"config error: {path}: YAML does not parse at line {mark.line + 1}, "
                          f"column {mark.column + 1}: {err.problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config error: {path}: YAML does not parse: {' '.join(str(err).split())}") from None
    return validate_config({} if data is None else data)


def main(argv: list[str] | None = None) -> int:
    """``python3 -m experiments.config FILE...``: check config files without running anything."""
    import sys

    files = sys.argv[1:] if argv is None else argv
    if not files:
        print("usage: python3 -m experiments.config CONFIG.yaml [...]", file=sys.stderr)
        return 2
    status = 0
    for f in files:
        try:
            load_config_file(f)
            print(f"{f}: ok")
        except ConfigError as err:
            print(err, file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
