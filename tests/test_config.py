"""The schema refuses bad configs with one line naming the key; defaults are complete."""
import copy
import json

import pytest
import yaml

from experiments.config import ConfigError, config_hash, load_schema, validate_config


def _walk(schema, path="config"):
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{key}")


# keys without a default: the question's subject (the question itself defaults to null: the lecture's)
REQUIRED = {"config.question.subject"}
# mappings open to names an extension registers, each checked after the extensions load (one line)
OPEN = {"config.convergence.loss_params": {"type": "number"}}


def test_every_key_has_description_and_default_and_objects_are_closed(schema):
    for path, sub in _walk(schema):
        if path == "config":
            assert sub["additionalProperties"] is False
            continue
        assert sub.get("description"), f"{path} has no description"
        assert "default" in sub or path in REQUIRED, f"{path} has no default"
        if sub.get("type") == "object" or "object" in (sub.get("type") or []):
            extra = sub.get("additionalProperties")
            if path in OPEN:                     # names a registered loss may add: checked after loading
                assert extra == OPEN[path], path
            elif isinstance(extra, dict):        # a mapping of free names (studies) to closed objects
                assert extra.get("additionalProperties") is False, f"{path}.<name> accepts unknown keys"
            else:
                assert extra is False, f"{path} accepts unknown keys"


def test_default_config_file_equals_schema_defaults(repo):
    """config/config.yaml spells out every default, so reading it tells the whole sweep; beyond the
    defaults it adds only the depth study (studies are opt-in: a smaller config gets none) and a step
    budget per dataset (the schema's default is one budget for any dataset)."""
    from_file = validate_config(yaml.safe_load((repo / "config" / "config.yaml").read_text()))
    assert list(from_file["convergence"].pop("studies")) == ["depth"]
    assert from_file["convergence"].pop("steps") == {"digits": 56, "gaussian_mixture": 80, "mnist1d": 400}
    defaults = validate_config({})
    assert defaults["convergence"].pop("studies") == {}
    assert defaults["convergence"].pop("steps") == 400
    assert from_file == defaults


def test_budgets_per_dataset_and_target_levels_are_checked():
    with pytest.raises(ConfigError, match=r"^config error: convergence\.steps\.mnist1d: missing"):
        validate_config({"convergence": {"steps": {"digits": 50, "gaussian_mixture": 50},
                                         "studies": {"s": {"datasets": ["mnist1d"]}}}})
    with pytest.raises(ConfigError, match=r"^config error: convergence\.targets\.main: 0\.9 is not one of"):
        validate_config({"convergence": {"targets": {"levels": [0.5, 0.95], "main": 0.9}}})
    with pytest.raises(ConfigError, match=r"^config error: convergence\.target_acc: no longer a setting"):
        validate_config({"convergence": {"target_acc": {"digits": 0.9}}})


def test_every_config_file_validates(repo):
    for path in sorted((repo / "config").glob("*.yaml")):
        validate_config(yaml.safe_load(path.read_text()))


def _set(cfg, dotted, value):
    cfg = copy.deepcopy(cfg)
    node = cfg
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return cfg


BAD = [
    ("convergence.losses", ["cross_entropy", "mse"], "convergence.losses[1]", "unknown loss 'mse'; known: cross_entropy"),
    ("convergence.activations", ["swish"], "convergence.activations[0]", "not one of"),
    ("convergence.datasets", ["imagenet"], "convergence.datasets[0]", "unknown dataset 'imagenet'; known: digits"),
    ("overflow.dtypes", ["float8"], "overflow.dtypes[0]", "not one of"),
    ("overflow.implementations", ["naive"], "overflow.implementations[0]", "unknown implementation 'naive'"),
    ("convergence.learning_rates.sgd", [0.1, -1.0], "convergence.learning_rates.sgd[1]", "must be > 0"),
    ("convergence.learning_rates.adam", [], "convergence.learning_rates.adam", "must not be empty"),
    ("convergence.optimizers", ["rmsprop"], "convergence.optimizers[0]", "not one of"),
    ("convergence.hidden_layers", [[64, 0]], "convergence.hidden_layers[0][1]", "must be >= 1"),
    ("convergence.learn_logit_scale", ["yes"], "convergence.learn_logit_scale[0]", "not of type boolean"),
    ("convergence.max_stack", 0, "convergence.max_stack", "an integer >= 1, or auto"),
    ("convergence.max_stack", "big", "convergence.max_stack", "an integer >= 1, or auto"),
    ("convergence.max_group_runs", 0, "convergence.max_group_runs", "must be an integer >= 1, or null"),
    ("convergence.loss_params.label_smoothing", 1.0, "convergence.loss_params.label_smoothing", "must be < 1"),
    ("convergence.logit_scales", [0], "convergence.logit_scales[0]", "must be > 0"),
    ("convergence.steps", 0, "convergence.steps", "must be an integer >= 1, or object"),
    ("convergence.eval_seeds", [], "convergence.eval_seeds", "must not be empty"),
    ("convergence.tuning_seeds", [0, 5], "convergence.tuning_seeds", "[0, 5] also in convergence.eval_seeds"),
    ("convergence.learning_rates.sgd", [1e-6, 0.1], "convergence.learning_rates.sgd[0]",
     "outside convergence.lr_search.bounds.sgd"),
    ("convergence.lr_search.bounds.adam", [1.0, 0.1], "convergence.lr_search.bounds.adam", "smallest < largest"),
    ("convergence.steps", "many", "convergence.steps", "must be an integer >= 1, or object"),
    ("convergence.steps.digits", 0, "convergence.steps", "must be an integer >= 1, or object"),
    ("convergence.targets.main", 1.5, "convergence.targets.main", "must be <= 1"),
    ("convergence.lossses", ["cross_entropy"], "convergence", "unknown key 'lossses'"),
    ("devise", "cpu", "unknown key 'devise'", "allowed keys"),
    ("device", "gpu", "device", "not one of ['auto', 'cpu', 'cuda']"),
    ("overflow.gap_min", 1e5, "overflow.gap_min", "must be below overflow.gap_max"),
    # splits scikit-learn cannot stratify (found by the generated-config test)
    ("data.val_fraction", 0.999, "data.val_fraction", "digits splits into 1 training, 1,436 validation and 360 test"),
    ("data.test_fraction", 0.999, "data.test_fraction", "digits splits into 0 training, 1 validation and 1,796 test"),
    ("data.gaussian_mixture.n_samples", 20, "data.gaussian_mixture.n_samples", "needs at least 10 (one per class)"),
]


@pytest.mark.parametrize("key,value,names,says", BAD, ids=[b[0] + "=" + repr(b[1]) for b in BAD])
def test_bad_config_is_one_clear_line(key, value, names, says):
    with pytest.raises(ConfigError) as err:
        validate_config(_set({}, key, value))
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("config error: ")
    assert names in msg and says in msg, msg


def test_config_that_is_not_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        validate_config(["seed", 0])


def test_config_hash_is_stable_and_sensitive():
    a = validate_config({})
    assert config_hash(a) == config_hash(validate_config({}))
    assert config_hash(a) != config_hash(validate_config({"seed": 1}))


def test_execution_settings_are_split_from_the_science():
    from experiments.config import EXECUTION_KEYS, execution_settings, science_config

    cfg = validate_config({"device": "cpu", "convergence": {"max_stack": 7}, "data": {"root": "/x"}, "results": "r"})
    assert execution_settings(cfg) == {"device": "cpu", "max_stack": 7, "data_root": "/x", "results": "r",
                                       "matmul_precision": "highest", "cuda_graphs": False}
    science = science_config(cfg)
    assert "device" not in science and "max_stack" not in science["convergence"] and "root" not in science["data"]
    assert "results" not in science
    assert cfg["device"] == "cpu" and cfg["data"]["root"] == "/x"                 # the original is untouched
    other = validate_config({"device": "auto", "convergence": {"max_stack": "auto"}, "data": {"root": "data"}})
    assert science_config(other) == science                                    # only execution settings differ
    assert set(EXECUTION_KEYS) == {"device", "max_stack", "data_root", "results", "matmul_precision", "cuda_graphs"}


def test_key_order_does_not_matter(repo):
    """A config file with its keys sorted validates to the very same ordered config (Snakemake compares
    params as written: reordering a file must rerun nothing)."""
    raw = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    shuffled = yaml.safe_load(yaml.safe_dump(raw, sort_keys=True))
    a, b = validate_config(raw), validate_config(shuffled)
    assert a == b and json.dumps(a) == json.dumps(b)
    assert list(a) == list(load_schema()["properties"])


# --- the config a run uses: files, overrides, results folder ------------------------------------

def test_a_config_file_is_the_whole_config_and_the_default_only_stands_in_for_none(repo):
    """Snakemake lays --configfile over a Snakefile's `configfile:`; the workflow has none, so the smoke
    config does not inherit the default's MNIST-1D depth study (it did once, silently)."""
    from experiments.config import workflow_config

    default = repo / "config" / "config.yaml"
    smoke = validate_config(workflow_config([repo / "config" / "smoke.yaml"], {}, default))
    assert smoke["convergence"]["studies"] == {} and "mnist1d" not in str(smoke["convergence"])
    assert smoke == validate_config({**yaml.safe_load((repo / "config" / "smoke.yaml").read_text()),
                                     "results": "results/smoke"})
    plain = validate_config(workflow_config([], {}, default))
    assert list(plain["convergence"]["studies"]) == ["depth"] and plain["results"] == "results"
    assert validate_config(workflow_config([default], {}, default)) == plain


def test_overrides_replace_what_they_name_and_type_nested_values(repo, tmp_path):
    """`--config 'convergence={steps: 30}'` reaches the workflow as {"steps": "30"} (Snakemake reads a
    nested value with YAML's BaseLoader): it must become the integer 30 and leave the rest of the
    section alone; `studies: null` and `studies: {}` remove the depth study."""
    from experiments.config import workflow_config

    default = repo / "config" / "config.yaml"
    cfg = validate_config(workflow_config([], {"convergence": {"steps": "30", "studies": "null"}, "seed": 3}, default))
    assert cfg["convergence"]["steps"] == 30 and cfg["convergence"]["studies"] == {} and cfg["seed"] == 3
    assert cfg["convergence"]["losses"] == validate_config(workflow_config([], {}, default))["convergence"]["losses"]
    assert validate_config(workflow_config([], {"convergence": {"studies": {}}}, default))["convergence"]["studies"] == {}
    with pytest.raises(ConfigError, match=r"^config error: convergence\.steps: 'x' is not allowed"):
        validate_config(workflow_config([], {"convergence": {"steps": "x"}}, default))
    # two files merge in order; the last one names the results folder
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("seed: 5\nconvergence: {steps: 7}\n")
    b.write_text("convergence: {batch_size: 32}\n")
    cfg = validate_config(workflow_config([a, b], {}, default))
    assert (cfg["seed"], cfg["convergence"]["steps"], cfg["convergence"]["batch_size"]) == (5, 7, 32)
    assert cfg["results"] == "results/b"
    b.write_text("results: /scratch/mine\n")
    assert validate_config(workflow_config([a, b], {}, default))["results"] == "/scratch/mine"
    b.write_text("convergence: [1\n")
    with pytest.raises(ConfigError, match=r"b\.yaml: YAML does not parse at line 2"):
        workflow_config([b], {}, default)


def test_each_config_gets_its_own_results_folder(repo, tmp_path):
    from experiments.config import results_folder

    default = repo / "config" / "config.yaml"
    assert results_folder([], default) == "results"
    assert results_folder([default], default) == "results"
    assert results_folder([repo / "config" / "smoke.yaml"], default) == "results/smoke"
    assert results_folder([default, tmp_path / "big.yaml"], default) == "results/big"


@pytest.mark.slow
def test_the_config_command_prints_the_plan_and_refuses_in_one_line(repo):
    import subprocess
    import sys

    from experiments.sweep import groups_from_config

    def run(*args):
        return subprocess.run([sys.executable, "-m", "experiments.config", *args], cwd=repo, capture_output=True,
                              text=True, timeout=60)

    proc = run("config/smoke.yaml")
    assert proc.returncode == 0, proc.stderr
    cfg = validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))
    lines = proc.stdout.splitlines()
    assert lines[0] == "config/smoke.yaml: ok; results in results/smoke/"
    for stage, phase in [("reference", "reference"), ("tune", "tune"), ("evaluate", "eval")]:
        groups = groups_from_config(cfg, phase)
        row = next(ln.split() for ln in lines if ln.startswith(stage + " "))
        assert int(row[1]) == len(groups) and int(row[2].replace(",", "")) == sum(g.num_runs for g in groups.values())
    proc = run("config/smoke.yaml", "--config", "convergence.steps=30")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("config error: --config convergence.steps=30: must be NAME=VALUE")
    proc = run("--config", "convergence={steps: 0}")
    assert proc.returncode == 1 and proc.stderr.startswith("config error: convergence.steps: 0 is not allowed")


@pytest.mark.slow
def test_the_configs_table_in_the_docs_is_what_the_configs_plan(repo):
    """docs/configs.md states each shipped config's folder, jobs and runs per stage: they must be what
    `python3 -m experiments.config` computes from the files today."""

    from experiments.config import FIXED_JOBS, plan, workflow_config

    text = (repo / "docs" / "configs.md").read_text()
    table = text.split("<!-- configs-table -->")[1].split("<!-- /configs-table -->")[0]
    rows = [[c.replace("`", "").strip() for c in line.strip("|").split("|")] for line in table.strip().splitlines()[2:]]
    assert {r[0].split()[0] for r in rows} == {f"config/{p.name}" for p in (repo / "config").glob("*.yaml")}
    default = repo / "config" / "config.yaml"
    for name, folder, jobs, ref, tune, ev, _ in rows:
        path = repo / name.split()[0]
        cfg = validate_config(workflow_config([] if path == default else [path], {}, default))
        stages = {r["stage"]: r for r in plan(cfg)}
        assert folder.rstrip("/") == cfg["results"], name
        assert int(jobs) == FIXED_JOBS + sum(r["jobs"] for r in stages.values()), name
        got = [stages[s]["runs"] for s in ("reference", "tune", "evaluate")]
        assert [int(x.replace(",", "")) for x in (ref, tune, ev)] == got, name


def test_nested_overrides_keep_strings_and_read_numbers_as_snakemake_would():
    """Snakemake hands a nested --config value over as strings: a number (1e-3 too), true/false and null
    are typed; anything else stays the string given (a date, a "#", "yes", a colon)."""
    from experiments.config import _typed

    got = _typed({"convergence": {"steps": "30", "learning_rates": {"sgd": ["1e-3", "0.1"]}, "studies": "null"},
                  "data": {"root": "run #2: 2024-06-01"}, "flag": ["true", "False", "yes"]})
    assert got == {"convergence": {"steps": 30, "learning_rates": {"sgd": [1e-3, 0.1]}, "studies": None},
                   "data": {"root": "run #2: 2024-06-01"}, "flag": [True, False, "yes"]}
    assert _typed({"results": "run #2", "seed": 3}) == {"results": "run #2", "seed": 3}   # top level: as given


def test_results_folder_names_are_safe_and_never_the_default_runs_own(tmp_path):
    from experiments.config import results_folder, workflow_config

    default = tmp_path / "config" / "config.yaml"
    default.parent.mkdir()
    default.write_text("seed: 0\n")
    assert results_folder([tmp_path / "my run{x}.yaml"], default) == "results/my_run_x_"
    assert results_folder([tmp_path / "logs.yaml"], default) == "results/config-logs"
    assert results_folder([tmp_path / "config.yaml"], default) == "results/config"    # not the default file
    link = tmp_path / "latest.yaml"
    link.symlink_to(tmp_path / "smoke.yaml")
    assert results_folder([link], default) == "results/latest"                        # the name given
    assert workflow_config([], {"results": "out/"}, default)["results"] == "out"


@pytest.mark.parametrize("val,test", [(0.25, 0.2), (0.1, 0.3), (0.33, 0.07)])
def test_split_sizes_are_the_splits_the_data_module_makes(val, test):
    """experiments.config.split_sizes (the split check, benchmarks/cluster_cost.py) against what
    convergence.data's stratified splits hold, on digits (1,797 examples) and the mixture (1,600)."""
    from experiments.config import split_sizes
    from experiments.convergence.data import load_dataset

    cfg = validate_config({"data": {"val_fraction": val, "test_fraction": test}})
    for name, n in (("digits", 1797), ("gaussian_mixture", cfg["data"]["gaussian_mixture"]["n_samples"])):
        ds = load_dataset(name, {"seed": cfg["seed"], "data": cfg["data"]})
        assert split_sizes(n, val, test) == (len(ds.y_train), len(ds.y_val), len(ds.y_test)), name
