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

from . import registry
from .sweep import axis_values

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration that the schema refuses; ``str()`` is one line."""


def load_schema(path: Path | str = SCHEMA_PATH) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def _is_object(schema: dict) -> bool:
    """The schema describes a mapping (``type: object``, or ``[object, "null"]`` for a part that can be off)."""
    t = schema.get("type")
    return t == "object" or (isinstance(t, list) and "object" in t)


def _fill_defaults(instance: Any, schema: dict) -> None:
    """Insert each missing key's ``default`` (recursively, objects only)."""
    if not isinstance(instance, dict) or not _is_object(schema):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)


def _in_schema_order(instance: Any, schema: dict) -> Any:
    """``instance`` with every mapping's keys in the schema's order (free names, e.g. studies, as given):
    Snakemake compares params as written, so two files that differ only in key order must give one config."""
    if not isinstance(instance, dict) or not _is_object(schema):
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
    if isinstance(cfg.get("convergence"), dict) and cfg["convergence"].get("studies", {}) is None:
        cfg["convergence"]["studies"] = {}   # `studies: null`, as `studies: {}`: no study
    if isinstance(cfg.get("convergence"), dict) and isinstance(cfg["convergence"].get("studies"), dict):
        cfg["convergence"]["studies"] = {k: v for k, v in cfg["convergence"]["studies"].items() if v is not None}
    if isinstance(cfg.get("convergence"), dict) and "target_acc" in cfg["convergence"]:
        raise ConfigError("config error: convergence.target_acc: no longer a setting; targets come from the "
                          "reference stage (convergence.targets: levels, main; experiments/analysis/targets.py)")
    _fill_defaults(cfg, schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError("config error: " + _message(errors[0]))
    ov = cfg["overflow"]
    if ov is not None and ov["gap_min"] >= ov["gap_max"]:
        raise ConfigError(
            f"config error: overflow.gap_min: {ov['gap_min']!r} must be below overflow.gap_max ({ov['gap_max']!r})"
        )
    _check_names(cfg, set(schema["properties"]["convergence"]["properties"]["loss_params"]["properties"]))
    _check_splits(cfg)
    _check_tuning(cfg["convergence"])
    cfg["question"] = question(cfg)
    return _in_schema_order(cfg, schema)


# The overflow probe's own implementations (experiments.overflow.probe.IMPLEMENTATIONS; a test keeps them
# equal), named here so that a config is checked without torch. A registered loss may be probed too.
PROBE_IMPLEMENTATIONS = ("softmax_naive", "log_softmax_naive", "log_softmax_nll", "cross_entropy",
                         "logsumexp_manual", "bce_naive", "bce_logits", "mse_softmax")


def _check_names(cfg: dict, builtin_params: set) -> None:
    """Load the config's extensions, then check every loss, dataset, probe implementation, loss parameter
    and per-dataset budget it names against what is registered: one line naming the key."""
    try:
        registry.load_extensions(cfg["extensions"])
    except registry.ExtensionError as err:
        raise ConfigError(f"config error: extensions: {err}") from None
    cv = cfg["convergence"]
    known = {"losses": registry.loss_names(), "datasets": registry.dataset_names()}
    for where, grid in [("convergence", cv), *[(f"convergence.studies.{n}", s) for n, s in cv["studies"].items()]]:
        for axis, what in (("losses", "loss"), ("datasets", "dataset")):
            for i, name in enumerate(grid.get(axis, [])):
                if name not in known[axis]:
                    raise ConfigError(
                        f"config error: {where}.{axis}[{i}]: unknown {what} {name!r}; known: "
                        f"{', '.join(known[axis])} (a {what} of your own registers in a file listed under "
                        f"extensions: docs/extending.md)")
    if cfg["overflow"] is not None:
        for i, name in enumerate(cfg["overflow"]["implementations"]):
            if name not in PROBE_IMPLEMENTATIONS and name not in known["losses"]:
                raise ConfigError(f"config error: overflow.implementations[{i}]: unknown implementation {name!r}; "
                                  f"known: {', '.join(PROBE_IMPLEMENTATIONS)}, or a registered loss")
    takes = builtin_params | {k for loss in axis_values(cv, "losses") for k in registry.loss_params(loss)}
    for key in cv["loss_params"]:
        if key not in takes:
            raise ConfigError(f"config error: convergence.loss_params.{key}: no loss takes {key!r}; the swept "
                              f"losses take {', '.join(sorted(takes))}")
    if isinstance(cv["steps"], dict):
        for name in cv["steps"]:
            if name not in known["datasets"]:
                raise ConfigError(f"config error: convergence.steps.{name}: unknown dataset {name!r}; known: "
                                  f"{', '.join(known['datasets'])}")


LECTURE_QUESTION = {"subject": "mse_sigmoid", "reference": "cross_entropy"}


def question(cfg: dict) -> dict:
    """The comparison the report answers (``question``): as given (both losses swept in the main grid),
    else the lecture's where MSE on sigmoid is swept, else the first loss swept against cross-entropy."""
    main = cfg["convergence"]["losses"]
    ref = LECTURE_QUESTION["reference"]
    default = {"subject": LECTURE_QUESTION["subject"] if LECTURE_QUESTION["subject"] in main else next(
        (x for x in main if x != ref), ref), "reference": ref}
    q = cfg.get("question")
    if q is None or q == default:      # validating a validated config again (a job reads the resolved one)
        return default                 # the report says where its losses were not both swept
    q = {"reference": ref, **q}
    for key in ("subject", "reference"):
        if q[key] not in main:
            raise ConfigError(f"config error: question.{key}: {q[key]!r} is not in convergence.losses "
                              f"({', '.join(main)}); the question compares two losses of the main grid")
    if q["subject"] == q["reference"]:
        raise ConfigError(f"config error: question.subject: {q['subject']!r} is also question.reference; "
                          "the question compares two losses")
    return {"subject": q["subject"], "reference": q["reference"]}


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


def split_sizes(n: int, val_fraction: float, test_fraction: float | None = None, n_test: int | None = None
                ) -> tuple[int, int, int]:
    """(training, validation, test) examples of a dataset of ``n`` as ``convergence.data`` splits it with
    scikit-learn's stratified ``train_test_split``, which rounds a held-out share up: test
    ceil(test_fraction n) (or a published ``n_test`` of the n), validation ceil(val_fraction (n - test))."""
    test = n_test if n_test is not None else math.ceil(test_fraction * n)
    val = math.ceil(val_fraction * (n - test))
    return n - test - val, val, test


def _check_splits(cfg: dict) -> None:
    """Stratified test and validation splits need at least one example per class on every side
    (scikit-learn refuses otherwise): say so here, naming the key, not in a job."""
    v, t = cfg["data"]["val_fraction"], cfg["data"]["test_fraction"]
    gm = cfg["data"]["gaussian_mixture"]
    sizes = {"digits": (None, DIGITS_SIZE, DIGITS_CLASSES)}
    if "gaussian_mixture" in axis_values(cfg["convergence"], "datasets"):
        sizes["gaussian_mixture"] = ("data.gaussian_mixture.n_samples", gm["n_samples"], gm["n_classes"])
    for name in axis_values(cfg["convergence"], "datasets"):
        if name not in registry.BUILTIN_DATASETS:      # a user's: built now (it is split as digits is)
            sizes[name] = (None, *_user_dataset_size(name, cfg))
    for name, (size_key, n, c) in sizes.items():
        n_train, n_val, n_test = split_sizes(n, v, t)
        # the key to change: the size if there are too few examples at all, else the fraction at fault
        key = size_key if size_key and n < 3 * c else \
            "data.test_fraction" if n_test < c or n - n_test < 2 * c else "data.val_fraction"
        if min(n_test, n_val, n_train) < c:
            raise ConfigError(
                f"config error: {key}: with {n:,} examples, {c} classes, data.test_fraction {t:g} and "
                f"data.val_fraction {v:g}, {name} splits into {n_train:,} training, {n_val:,} validation and "
                f"{n_test:,} test examples; a stratified split needs at least {c} (one per class) in each")


def _user_dataset_size(name: str, cfg: dict) -> tuple[int, int]:
    """(examples, classes) of a registered user dataset, built once here; one line if it cannot be built
    or has a class too small for three stratified splits."""
    import numpy as np

    try:
        (x, y), *_ = registry.DATASETS[name].load(cfg)
    except registry.ExtensionError as err:
        raise ConfigError(f"config error: convergence.datasets: {err}") from None
    counts = np.bincount(y)
    if counts.min() < 3:
        raise ConfigError(f"config error: convergence.datasets: dataset {name!r} has a class with {counts.min()} "
                          "example(s); stratified training, validation and test splits need at least 3 per class")
    return len(y), len(counts)


# Where and how a job runs, not what it computes: kept out of the params Snakemake tracks for reruns
# (scripts read them from ``snakemake.config``), so changing one reruns nothing. Paths into the config.
EXECUTION_KEYS = {"device": ("device",), "max_stack": ("convergence", "max_stack"), "data_root": ("data", "root"),
                  "results": ("results",), "matmul_precision": ("matmul_precision",), "cuda_graphs": ("cuda_graphs",)}


def execution_settings(cfg: dict) -> dict:
    """``{"device", "max_stack", "data_root", "results", "matmul_precision", "cuda_graphs"}`` of a validated config."""
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


def _read_yaml(path: Path | str) -> dict:
    """A YAML config file as a mapping; a syntax error is one line with its position.

    Snakemake parses ``--configfile`` itself before the workflow runs and says
    only that the file is not valid YAML; this says where.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"config error: {path}: cannot be read ({err.strerror})") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        raise ConfigError(f"config error: {path}: YAML does not parse at line {mark.line + 1}, "
                          f"column {mark.column + 1}: {err.problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config error: {path}: YAML does not parse: {' '.join(str(err).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config error: {path}: the config must be a mapping of keys, got {type(data).__name__}")
    return data


def _merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` laid on it: mappings merge key by key, anything else is replaced, and an
    empty mapping replaces too (``studies: {}`` removes every study, as ``studies: null`` does)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if value and isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


_NULLS, _TRUE, _FALSE = {"null", "~"}, {"true"}, {"false"}     # YAML 1.2's core names only


def _scalar(text: str) -> Any:
    """One nested ``--config`` scalar: an integer, a number (``1e-3`` included), a boolean or null when it
    reads as one, else the string as given (never a date, a mapping or a comment)."""
    low = text.strip().lower()
    if low in _NULLS or not low:
        return None
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _typed(value: Any, top: bool = True) -> Any:
    """``--config`` entries with their nested scalars typed. Snakemake types a top-level value itself
    (int, float, bool, else YAML), which is kept as it is; a nested mapping or list it reads with YAML's
    BaseLoader, which keeps every scalar a string: ``convergence={steps: 30}`` arrives as
    ``{"steps": "30"}`` and is typed here (:func:`_scalar`)."""
    if isinstance(value, dict):
        return {k: _typed(v, top=False) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v, top=False) for v in value]
    if isinstance(value, str) and not top:
        return _scalar(value)
    return value


DEFAULT_RESULTS = "results"


# Folder names a config's own results folder may not take: they are the default run's subfolders.
_RESERVED = {"benchmarks", "convergence", "data", "lecture", "logs", "overflow"}


def results_folder(configfiles: list, default_file: Path | str) -> str:
    """Where a run writes when its config names no ``results``: ``results`` for the default config,
    ``results/<name>`` for a config file ``<name>.yaml`` (the last one given; characters other than
    letters, digits, ``.``, ``_`` and ``-`` become ``_``, and a name the default run's folders use gets
    ``config-`` in front), so that a run of another config never overwrites the default run's tables and
    report. Two files of one name in different folders share a folder: name one with ``results``."""
    import os
    import re

    files = [Path(os.path.abspath(f)) for f in configfiles]
    default = Path(os.path.abspath(default_file))
    if not files or all(f == default for f in files):
        return DEFAULT_RESULTS
    name = re.sub(r"[^A-Za-z0-9._-]", "_", files[-1].stem).lstrip(".") or "config"
    return f"{DEFAULT_RESULTS}/{'config-' + name if name in _RESERVED else name}"


def workflow_config(configfiles: list, overrides: dict, default_file: Path | str) -> dict:
    """The config a Snakemake run uses, before validation: the files given with ``--configfile``
    (merged in order), or ``default_file`` when none is given, then the ``--config`` entries laid on
    top (a nested entry, ``--config 'convergence={steps: 30}'``, replaces only the keys it names).
    A file given is the whole config: nothing of the default file is layered under it."""
    cfg: dict = {}
    for f in list(configfiles) or [default_file]:
        cfg = _merge(cfg, _read_yaml(f))
    cfg = _merge(cfg, _typed(dict(overrides)))
    cfg.setdefault("results", results_folder(configfiles, default_file))
    if isinstance(cfg["results"], str) and cfg["results"].strip():
        import posixpath

        cfg["results"] = posixpath.normpath(cfg["results"])     # "out/" and "./out" are "out"
    return cfg


def plan(cfg: dict) -> list[dict]:
    """What a validated config trains, per convergence stage: jobs (one per group), runs and steps.
    The tune stage's runs are its initial grid; the rates its search adds are not known in advance."""
    from .sweep import groups_from_config

    rows = []
    for phase, stage in [("reference", "reference"), ("tune", "tune"), ("eval", "evaluate")]:
        groups = groups_from_config(cfg, phase)
        runs = sum(g.num_runs for g in groups.values())
        steps = sum(g.num_runs * g.steps for g in groups.values())
        rows.append({"stage": stage, "jobs": len(groups), "runs": runs, "run_steps": steps})
    return rows


def plan_one_off(cfg: dict) -> list[dict]:
    """The one-off jobs of a validated config with what each computes: the overflow probe (settings, and
    the points of its log grid per setting before the dense points around each prediction), the
    reduced-precision training (runs and steps), and the rest, which take seconds. None of the
    overflow stage's with ``overflow: null``."""
    rows = []
    ov = cfg["overflow"]
    if ov is not None:
        settings = sum(1 for _ in ov["implementations"] for d in ov["dtypes"] for a in ov["axes"]
                       for _ in ([10] if a == "lecture" else ov["num_classes"])
                       for ac in ov["autocast"] if not ac or d in ("float16", "bfloat16"))
        grid = int(round(math.log10(ov["gap_max"] / ov["gap_min"]) * ov["points_per_decade"])) + 1
        rows.append({"stage": "overflow probe", "jobs": 1, "runs": settings, "run_steps": settings * grid,
                     "note": "probe settings; losses and gradients on the log grid (more near each prediction)"})
        a = ov["amp_training"]
        formats = sum(2 if d == "float16" else 1 for d in a["dtypes"])           # float16 with and without a scaler
        runs = formats * 2 * len(a["optimizers"]) * len(a["logit_scales"]) * len(a["seeds"])   # naive and fused
        rows.append({"stage": "reduced precision", "jobs": 1, "runs": runs, "run_steps": runs * a["steps"],
                     "note": "runs on digits under autocast, with their float32 control"})
    rows.append({"stage": "other one-off", "jobs": FIXED_JOBS - 2, "runs": 0, "run_steps": 0,
                 "note": "sweep, datasets, targets, aggregation, report tables, depth control, lecture, "
                         "provenance, report, all: seconds each"})
    return rows


def replaced_results(cfg: dict, workdir: Path | str = ".") -> str | None:
    """What a run of ``cfg`` would do to an existing results folder, as a warning line: another config's
    results there would be replaced; None where the folder is new or holds this config's own (a rerun
    redoes only what changed)."""
    folder = Path(workdir) / cfg["results"]
    used = folder / "config.yaml"
    if used.exists():
        try:
            old = yaml.safe_load(used.read_text())
        except yaml.YAMLError:
            old = None
        if old == json.loads(json.dumps(science_config(cfg))):
            return None
        differ = sorted(k for k in set(old or {}) | set(science_config(cfg))
                        if (old or {}).get(k) != json.loads(json.dumps(science_config(cfg).get(k))))
        return (f"warning: {cfg['results']}/ holds the results of another config ({used}; it differs in "
                f"{', '.join(differ) or 'its form'}); this run replaces what differs. To keep both, give this "
                f"config its own folder (results: <folder>).")
    if folder.is_dir() and any(p.name != "README.md" for p in folder.iterdir()):
        return (f"warning: {cfg['results']}/ already holds files this run may replace; to keep them, give this "
                f"config its own folder (results: <folder>).")
    return None


# Rules with one job each, whatever the config (workflow/rules/*.smk): sweep, describe_datasets,
# targets, aggregate_convergence, report_tables, init_control, overflow_probe, amp_training, lecture_examples,
# provenance, report and the target rule `all` (the overflow stage's two are left out with `overflow: null`);
# tests/test_config.py checks the total against `snakemake -n`.
FIXED_JOBS = 12


def main(argv: list[str] | None = None) -> int:
    """``python3 -m experiments.config [FILE ...] [KEY=VALUE ...]``: validate the config exactly as
    ``snakemake [--configfile FILE ...] [--config KEY=VALUE ...]`` would read it and print what it plans."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(
        prog="python3 -m experiments.config",
        description="Validate a config as Snakemake will run it (the files given, else config/config.yaml; "
                    "then KEY=VALUE overrides as --config gives them) and print the jobs and runs it plans.")
    ap.add_argument("files", nargs="*", type=Path, help="config files, as given to --configfile")
    ap.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                    help="overrides, as given to snakemake --config (a nested one: 'convergence={steps: 30}')")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    default_file = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
    try:
        for entry in args.config:
            key, sep, value = entry.partition("=")
            if not sep or not key.isidentifier():
                raise ConfigError(f"config error: --config {entry}: must be NAME=VALUE with a top-level NAME; "
                                  "a nested key is given as a mapping, e.g. 'convergence={steps: 30}'")
        from snakemake.cli import parse_config    # Snakemake's own reading of --config, for the same values

        overrides = parse_config(args.config)
        cfg = validate_config(workflow_config(args.files, overrides, default_file))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    rows = plan(cfg)
    one_off = plan_one_off(cfg)
    names = ", ".join(map(str, args.files)) or f"{default_file.relative_to(default_file.parents[1])} (default)"
    print(f"{names}: ok; results in {cfg['results']}/")
    q = cfg["question"]
    print(f"question: {q['subject']} against {q['reference']}"
          + (f"; extensions: {', '.join(cfg['extensions'])}" if cfg["extensions"] else ""))
    print(f"{'stage':<18}{'jobs':>6}{'runs':>10}{'run-steps':>14}")
    for r in rows + one_off:
        print(f"{r['stage']:<18}{r['jobs']:>6}{r['runs']:>10,}{r['run_steps']:>14,}" + (f"  {r['note']}" if r.get("note") else ""))
    total = sum(r["jobs"] for r in rows + one_off)
    print(f"jobs in all: {total}; tune runs are the initial grid, before the search extends it"
          + ("" if cfg["overflow"] is not None else "; the overflow probe and reduced-precision training are off"))
    if warning := replaced_results(cfg):
        print(warning)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
