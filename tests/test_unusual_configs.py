"""Every valid config renders: unusual-but-valid configs, and configs generated from the schema,
each run through real Snakemake to a report.

A section whose data the config did not sweep says so in one line; failed runs and
linear models are rows. The named configs run two at a time (one core each); the
generated ones come from ``hypothesis-jsonschema`` on the config schema narrowed to
small sizes (``SMALL``), a few examples per run (``XENT_HYPOTHESIS_EXAMPLES``,
default 3; derandomized, so CI sees the same configs every time).
"""
import copy
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import snakemake, table_rows

from experiments.config import PROBE_IMPLEMENTATIONS, ConfigError, load_schema, validate_config
from experiments.registry import BUILTIN_DATASETS, BUILTIN_LOSSES

pytestmark = pytest.mark.workflow

# Small enough that a whole workflow takes about 20 s; every axis the variants do not name stays small.
BASE = {
    "device": "cpu",
    "convergence": {"datasets": ["digits"], "losses": ["cross_entropy", "mse_sigmoid"], "activations": ["sigmoid"],
                    "logit_scales": [1.0], "learn_logit_scale": [False], "optimizers": ["sgd"],
                    "learning_rates": {"sgd": [0.1, 0.3]}, "lr_search": {"max_extensions": 1},
                    "tuning_seeds": [100], "eval_seeds": [0, 1], "hidden_layers": [[8]], "steps": 8, "log_points": 3},
    "overflow": {"implementations": ["log_softmax_naive", "cross_entropy"], "dtypes": ["float16", "float32"],
                 "num_classes": [10], "axes": ["gap"], "autocast": [False], "points_per_decade": 2,
                 "amp_training": {"dtypes": ["bfloat16"], "logit_scales": [1.0], "steps": 3}},
}

# name: (changes to BASE, lines the report must show)
UNUSUAL = {
    "linear_model": ({"convergence": {"hidden_layers": [[]], "activations": ["sigmoid", "relu"]}},
                     ["No saturation measure in this run"]),
    "one_of_each": ({"convergence": {"datasets": ["gaussian_mixture"], "losses": ["hinge"], "activations": ["gelu"],
                                     "eval_seeds": [0], "optimizers": ["adam"], "learning_rates": {"adam": [0.01]},
                                     "lr_search": {"max_extensions": 0}}},
                    ["No comparison of losses in this run"]),
    "learned_scale_only": ({"convergence": {"learn_logit_scale": [True], "logit_scales": [0.1, 10.0]}},
                           ["scale learned"]),
    "overflow_without_float32": ({"overflow": {"dtypes": ["float16", "bfloat16", "float64"]}},
                                 ["log(softmax(z)) gave its first non-finite value at"]),
    "overflow_without_10_classes_or_gap": ({"overflow": {"num_classes": [2, 100], "axes": ["max_logit", "lecture"],
                                                         "autocast": [True]}},
                                           ["No finite loss on the gap axis in this run"]),
    "overflow_off": ({"overflow": None, "convergence": {"losses": ["cross_entropy", "hinge"]}},
                     ["No overflow probe in this run", "No reduced-precision training in this run",
                      "why not train with multi-class hinge instead of cross-entropy"]),
    "every_run_fails": ({"convergence": {"learning_rates": {"sgd": [1.0e30]},
                                         "lr_search": {"max_extensions": 0, "bounds": {"sgd": [1.0, 1.0e31]}}}},
                        ["No comparison of losses in this run", "and 0 reached it"]),
    "one_target_level": ({"convergence": {"targets": {"levels": [0.3], "main": 0.3}}},
                         ["Tuned cross-entropy on the evaluation seeds reached its main target"]),
}


def merged(base: dict, change: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in change.items():
        out[k] = merged(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_to_report(repo: Path, work: Path, cfg: dict, cores: int = 1) -> str:
    """Run the whole workflow on ``cfg`` in ``work``; return the report's visible text (tags stripped)."""
    work.mkdir(parents=True, exist_ok=True)
    cfg = {**cfg, "results": "results"}   # where the tests read (a file named config.yaml would get results/config)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(repo, work, "--configfile", str(work / "config.yaml"), "--cores", str(cores), timeout=600)
    assert proc.returncode == 0, (yaml.safe_dump(cfg), proc.stdout[-3000:], proc.stderr[-3000:],
                                  (work / "results" / "logs" / "report.log").read_text()[-3000:]
                                  if (work / "results" / "logs" / "report.log").exists() else "")
    page = (work / "results" / "report.html").read_text()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)))


def check_report(text: str, res) -> None:
    """The report of the results in ``res`` (results/convergence): its sections, its renderer, and every
    run of the three stages counted, failed ones included."""
    runs, tuning_runs, reference_runs = (pd.read_parquet(res / f"{t}.parquet") for t in
                                         ("runs", "tuning_runs", "reference_runs"))
    for section in ["Summary", "The lecture, reproduced", "Convergence", "Numerical overflow", "Failures",
                    "Methods and provenance"]:
        assert section in text, section
    assert re.search(r"Rendered (with|by) (quarto|fallback)", text)
    total = len(runs) + len(tuning_runs) + len(reference_runs)
    assert (f"Of {total:,} runs ({len(reference_runs):,} reference, {len(tuning_runs):,} tune, {len(runs):,} "
            f"evaluate)") in text
    assert "Traceback" not in text and "Error" not in text.replace("relative error", "")


@pytest.fixture(scope="module")
def unusual_runs(repo, tmp_path_factory):
    """Every named config through Snakemake, two at a time."""
    root = tmp_path_factory.mktemp("unusual")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_to_report, repo, root / name, merged(BASE, change))
                   for name, (change, _) in UNUSUAL.items()}
    return {name: (root / name, f.result()) for name, f in futures.items()}


@pytest.mark.parametrize("name", list(UNUSUAL))
def test_unusual_config_renders_a_report(unusual_runs, name):
    work, text = unusual_runs[name]
    res = work / "results" / "convergence"
    check_report(text, res)
    for line in UNUSUAL[name][1]:
        assert line in text, line
    if name == "one_target_level":           # the speed table has the one level as its column
        columns, rows = table_rows((work / "results" / "report.html").read_text(), "speed-levels-table")
        assert columns == ["loss", "SGD, level 0.3"] and len(rows) == 1


def test_unusual_configs_are_valid_and_their_tables_say_what_was_swept(unusual_runs):
    for name, (change, _) in UNUSUAL.items():
        cfg = validate_config(merged(BASE, change))
        work = unusual_runs[name][0]
        runs = pd.read_parquet(work / "results" / "convergence" / "runs.parquet")
        cv = cfg["convergence"]
        assert set(runs["loss"]) == set(cv["losses"]) and set(runs["seed"]) == set(cv["eval_seeds"]), name
    linear = pd.read_parquet(unusual_runs["linear_model"][0] / "results" / "convergence" / "runs.parquet")
    assert set(linear["hidden"]) == {"linear"} and linear["final_saturated_frac"].isna().all()
    failed = pd.read_parquet(unusual_runs["every_run_fails"][0] / "results" / "convergence" / "runs.parquet")
    assert len(failed) and "ok" not in set(failed["status"])   # NaN/inf, diverged or stuck: no run reached it


# --- generated from the schema ------------------------------------------------------

# Narrowings of the schema (deep-merged into it): the same keys and types, small sizes, no
# dataset that needs a download, no device that needs a GPU.
SMALL = {
    "required": ["device", "data", "convergence", "overflow"],   # a left-out key takes its (large) default
    "properties": {
        "device": {"enum": ["cpu", "auto"]},
        "extensions": {"maxItems": 0},            # no user files here (tests/test_extending.py has them)
        "question": {"type": "null"},             # the default question: a generated one names unswept losses
        "results": {"enum": ["results"]},
        "data": {"required": ["gaussian_mixture"], "properties": {
            "root": {"enum": ["data"]},
            "gaussian_mixture": {"required": ["n_samples", "n_features"], "properties": {"n_samples": {"maximum": 300}, "n_features": {"maximum": 8},
                                                "n_classes": {"maximum": 6}}}}},
        "convergence": {"required": ["datasets", "losses", "activations", "logit_scales", "learn_logit_scale",
                                     "optimizers", "learning_rates", "lr_search", "tuning_seeds", "eval_seeds",
                                     "hidden_layers", "steps", "log_points"], "properties": {
            "datasets": {"maxItems": 1, "items": {"enum": ["digits", "gaussian_mixture"]}},
            "losses": {"maxItems": 2, "items": {"enum": list(BUILTIN_LOSSES)}}, "activations": {"maxItems": 2},
            "loss_params": {"additionalProperties": False},   # a key of a user's loss: none registered here
            "logit_scales": {"maxItems": 2, "items": {"minimum": 1e-3, "maximum": 1e3}},
            "learn_logit_scale": {"maxItems": 2},
            "optimizers": {"maxItems": 2},
            "learning_rates": {"required": ["sgd", "adam"],     # inside the default search bounds
                               "properties": {"sgd": {"maxItems": 2, "items": {"minimum": 1e-4, "maximum": 100}},
                                              "adam": {"maxItems": 2, "items": {"minimum": 1e-6, "maximum": 1}}}},
            "lr_search": {"required": ["max_extensions"], "properties": {"max_extensions": {"maximum": 1}}},
            "tuning_seeds": {"maxItems": 1, "items": {"minimum": 1000, "maximum": 2000}},   # disjoint from eval_seeds
            "eval_seeds": {"maxItems": 2, "items": {"maximum": 999}},
            "hidden_layers": {"maxItems": 2, "items": {"maxItems": 2, "items": {"maximum": 16}}},
            "steps": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 12}]},   # one budget, small
            "batch_size": {"maximum": 128}, "log_points": {"maximum": 5},
            "max_stack": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 8}, {"type": "string", "enum": ["auto"]}]},
            "max_group_runs": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 8}, {"type": "null"}]},
            # a study's axes as small as the main grid's (a generated study of MNIST-1D or CIFAR-10 with
            # widths in the billions is valid, and not what a test can train)
            "studies": {"maxProperties": 1, "additionalProperties": {"properties": {
                "datasets": {"maxItems": 1, "items": {"enum": ["digits", "gaussian_mixture"]}},
                "losses": {"maxItems": 2, "items": {"enum": list(BUILTIN_LOSSES)}}, "activations": {"maxItems": 2},
                "optimizers": {"maxItems": 2},
                "hidden_layers": {"maxItems": 2, "items": {"maxItems": 2, "items": {"maximum": 16}}},
                "logit_scales": {"maxItems": 2, "items": {"minimum": 1e-3, "maximum": 1e3}},
                "learn_logit_scale": {"maxItems": 2}}}},
        }},
        "overflow": {"required": ["implementations", "dtypes", "num_classes", "axes", "points_per_decade",
                                  "amp_training"], "properties": {
            "implementations": {"maxItems": 3, "items": {"enum": list(PROBE_IMPLEMENTATIONS)}},
            "dtypes": {"maxItems": 2}, "axes": {"maxItems": 2},
            "num_classes": {"maxItems": 2, "items": {"maximum": 100}},
            "gap_min": {"minimum": 1e-3, "maximum": 10}, "gap_max": {"minimum": 20, "maximum": 1e5},
            "points_per_decade": {"maximum": 2},
            "amp_training": {"required": ["logit_scales", "steps"], "properties": {
                "dtypes": {"maxItems": 1}, "steps": {"maximum": 3},
                "logit_scales": {"maxItems": 2},     # any size: a scale whose square overflows is a row too
                "seeds": {"maxItems": 2}, "optimizers": {"maxItems": 2}}},
        }},
    },
}


def narrowed(schema: dict, extra: dict) -> dict:
    """``schema`` with ``extra`` deep-merged in (dicts merge, other values replace)."""
    out = copy.deepcopy(schema)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "anyOf":
            out[k] = narrowed(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def test_narrowed_schema_keeps_keys_and_only_narrows():
    schema = load_schema()
    small = narrowed(schema, SMALL)
    assert small["properties"].keys() == schema["properties"].keys()
    cv, cv0 = small["properties"]["convergence"]["properties"], schema["properties"]["convergence"]["properties"]
    assert cv.keys() == cv0.keys() and cv["steps"]["anyOf"][0] == {**cv0["steps"]["anyOf"][0], "maximum": 12}
    assert set(cv["datasets"]["items"]["enum"]) < set(BUILTIN_DATASETS) and "enum" not in cv0["datasets"]["items"]


def _generated_examples() -> int:
    return int(os.environ.get("XENT_HYPOTHESIS_EXAMPLES", "3"))


def test_configs_generated_from_the_schema_render(repo, tmp_path_factory):
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis_jsonschema import from_schema

    schema = narrowed(load_schema(), SMALL)
    schema.pop("$schema", None)
    seen = []

    @settings(max_examples=_generated_examples(), derandomize=True, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(from_schema(schema))
    def one(raw):
        try:
            cfg = validate_config(raw)
        except ConfigError as err:   # cross-key rules the schema cannot state: refused in one line, fine
            assert str(err).startswith("config error: ") and "\n" not in str(err)
            return
        work = tmp_path_factory.mktemp("generated")
        text = run_to_report(repo, work, cfg, cores=2)
        res = work / "results" / "convergence"
        check_report(text, res)
        seen.append(cfg)

    one()
    assert seen, "every generated config was refused: the narrowing leaves nothing valid to run"
