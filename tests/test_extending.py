"""A user's own loss, dataset and question (docs/extending.md): the page's examples run; a loss without a
closed form trains on autograd and reproduces the built-in it copies; every mistake is one line."""
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from experiments import columns
from experiments.analysis.targets import Targets
from experiments.config import ConfigError, validate_config
from experiments.sweep import groups_from_config


def _page_files(repo) -> dict[str, str]:
    """The files docs/extending.md shows, by the name in their first comment line."""
    page = (repo / "docs" / "extending.md").read_text()
    return {m.group(2): m.group(3) for m in re.finditer(r"```(python|yaml)\n# (\S+)\n(.*?)```", page, re.S)}


@pytest.fixture()
def page(repo, tmp_path, monkeypatch, clean_registry):
    """The page's extension file and config, written into a working directory."""
    files = _page_files(repo)
    assert set(files) == {"my_extension.py", "my_question.yaml"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_pages_examples_are_checked_trained_and_planned(page, repo):
    """The config validates with the file's losses and dataset; the question is the page's; each loss
    trains in the engine on the user's dataset; `python3 -m experiments.config` plans it."""
    from experiments.convergence.data import load_dataset
    from experiments.convergence.losses import LOSSES, has_closed_form
    from experiments.convergence.training import train_group

    cfg = validate_config(yaml.safe_load((page / "my_question.yaml").read_text()))
    assert cfg["question"] == {"subject": "poly1", "reference": "cross_entropy"} and cfg["overflow"] is None
    assert LOSSES["poly1"].label == "Poly-1" and LOSSES["poly1"].params == {"poly_epsilon": 1.0}
    assert not has_closed_form("poly1") and LOSSES["my_ce"].definition == "cross-entropy as F.cross_entropy computes it"
    ds = load_dataset("wine", cfg)
    assert ds.num_classes == 3 and ds.num_features == 13 and len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 178
    group = groups_from_config(cfg, "tune")["wine.poly1"]
    runs = train_group(group, cfg, targets=Targets.constant(0.9)).runs
    assert runs["status"].isin(["ok", "not_reached"]).all() and runs["final_val_acc"].max() > 0.9
    out = subprocess.run([sys.executable, "-m", "experiments.config", "my_question.yaml"], capture_output=True,
                         text=True, cwd=page)
    assert out.returncode == 0, out.stderr
    assert "question: poly1 against cross_entropy; extensions: my_extension.py" in out.stdout
    assert not any(line.startswith(("overflow probe", "reduced precision")) for line in out.stdout.splitlines())
    assert "the overflow probe and reduced-precision training are off" in out.stdout


def test_a_loss_without_a_closed_form_reproduces_the_built_in_it_copies(page):
    """my_ce is F.cross_entropy registered without a gradient: autograd's (l, dl/dz) equal the closed form's
    to float32 rounding on the engine's class-first layout, and trained in a stack it ends where
    cross-entropy ends (final loss within 1e-4, the same steps to the target)."""
    from experiments.convergence.losses import get_loss_grad
    from experiments.convergence.training import train_group

    cfg = validate_config(yaml.safe_load((page / "my_question.yaml").read_text()))
    z = torch.randn(3, 10, 16).transpose(1, 2)                     # (K, B, C) stored class-first
    y = torch.randint(0, 10, (3, 16))
    (l1, g1), (l2, g2) = get_loss_grad("my_ce")(z, y), get_loss_grad("cross_entropy")(z, y)
    torch.testing.assert_close(l1, l2)
    torch.testing.assert_close(g1, g2)
    tables = {}
    for loss in ("my_ce", "cross_entropy"):
        group = groups_from_config(cfg, "eval")[f"digits.{loss}"]
        tables[loss] = train_group(group, cfg, targets=Targets.constant(0.9)).runs
    keys = [k for k in columns.RUN_KEYS if k != "loss"]
    both = tables["my_ce"].merge(tables["cross_entropy"], on=keys, suffixes=("_user", "_builtin"))
    assert len(both) == len(tables["my_ce"]) > 0
    np.testing.assert_allclose(both["final_train_loss_user"], both["final_train_loss_builtin"], atol=1e-4)
    assert (both["steps_to_target_user"].fillna(-1) == both["steps_to_target_builtin"].fillna(-1)).all()


BAD = [
    ({"extensions": ["missing.py"]}, "config error: extensions: missing.py: no such file"),
    ({"extensions": ["broken.py"]}, "config error: extensions: broken.py does not load: SyntaxError"),
    ({"extensions": ["twice.py"]}, "config error: extensions: loss 'cross_entropy' ("),    # a built-in's name
    ({"extensions": ["bad_output.py"]}, "config error: extensions: loss 'odd': output must be one of"),
    ({"convergence": {"losses": ["cross_entropy", "poly2"]}}, "config error: convergence.losses[1]: unknown loss 'poly2'"),
    ({"convergence": {"datasets": ["iris"]}}, "config error: convergence.datasets[0]: unknown dataset 'iris'"),
    ({"convergence": {"loss_params": {"poly_eps": 1.0}}}, "config error: convergence.loss_params.poly_eps: no loss takes"),
    ({"question": {"subject": "hinge"}, "convergence": {"losses": ["cross_entropy", "mse_softmax"]}},
     "config error: question.subject: 'hinge' is not in convergence.losses"),
    ({"extensions": ["shapes.py"], "convergence": {"datasets": ["flat"], "steps": {"flat": 10}}},
     "config error: convergence.datasets: dataset 'flat' ("),
    ({"extensions": ["tiny.py"], "convergence": {"datasets": ["tiny"], "steps": {"tiny": 10}}},
     "config error: convergence.datasets: dataset 'tiny' has a class with 2 example(s)"),
    ({"overflow": {"implementations": ["log_softmax_naive", "nope"]}},
     "config error: overflow.implementations[1]: unknown implementation 'nope'"),
]
FILES = {
    "broken.py": "def f(:\n",
    "twice.py": "from experiments import loss\n\n@loss('cross_entropy')\ndef ce(z, y):\n    return z.sum(-1)\n",
    "bad_output.py": "from experiments import loss\n\n@loss('odd', output='tanh')\ndef odd(z, y):\n    return z.sum(-1)\n",
    "shapes.py": "import numpy as np\nfrom experiments import dataset\n\n@dataset('flat')\ndef flat():\n"
                 "    return np.zeros(30), np.arange(30) % 3\n",
    "tiny.py": "import numpy as np\nfrom experiments import dataset\n\n@dataset('tiny')\ndef tiny():\n"
               "    return np.random.default_rng(0).normal(size=(32, 4)), np.r_[np.zeros(30), np.ones(2)]\n",
}


@pytest.mark.parametrize("config,says", BAD, ids=[s.split(":")[1].strip() + f"-{i}" for i, (_, s) in enumerate(BAD)])
def test_every_mistake_in_an_extension_or_its_names_is_one_line(config, says, tmp_path, monkeypatch, clean_registry):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert str(err.value).startswith(says) and "\n" not in str(err.value), str(err.value)


def test_registered_losses_and_datasets_keep_the_built_ins_first_and_reach_child_processes(page, clean_registry):
    """A user's file loaded before the built-ins register still lists after them; a process started from
    this one (a Snakemake job) finds the same names through the environment, without the config."""
    validate_config(yaml.safe_load((page / "my_question.yaml").read_text()))
    assert clean_registry.loss_names()[:9] == list(clean_registry.BUILTIN_LOSSES)
    assert clean_registry.loss_names()[9:] == ["poly1", "my_ce"] and clean_registry.dataset_names()[-1] == "wine"
    code = ("from experiments.convergence.losses import spec; from experiments.convergence.data import load_dataset;"
            "print(spec('poly1').label, load_dataset('wine', {'seed': 0, 'data': {'val_fraction': 0.25, "
            "'test_fraction': 0.2}}).num_classes)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=page)
    assert out.stdout.split() == ["Poly-1", "3"], out.stderr


def test_a_probed_user_loss_is_measured_and_not_predicted(page, clean_registry):
    """Named in overflow.implementations, a user's loss is probed in every format against its own float64
    value; the thresholds table marks it "not predicted" and leaves it out of the agreement count."""
    from experiments.overflow.probe import run_probes
    from experiments.overflow.thresholds import predicted_thresholds, thresholds_table
    from experiments.overflow.facts import overflow_names

    cfg = validate_config({"extensions": ["my_extension.py"],
                           "overflow": {"implementations": ["log_softmax_naive", "poly1"], "num_classes": [10],
                                        "axes": ["gap"], "autocast": [False], "points_per_decade": 4}})
    probes = run_probes(cfg, predict=predicted_thresholds)
    t = thresholds_table(probes).set_index(["implementation", "dtype"])
    poly = t.loc["poly1"]
    assert (poly["rule"] == "not_predicted").all() and poly["agrees"].isna().all()
    assert t.loc["log_softmax_naive", "agrees"].astype(bool).all()
    f64 = probes[(probes["implementation"] == "poly1") & (probes["dtype"] == "float64")]
    assert (f64["relative_error"] == 0).all()                   # its own float64 value is the reference
    names = overflow_names().set_index("name")["label"]
    assert names["poly1"] == "Poly-1"


def test_the_question_defaults_to_the_lecture_then_to_the_first_loss():
    assert validate_config({})["question"] == {"subject": "mse_sigmoid", "reference": "cross_entropy"}
    cfg = validate_config({"convergence": {"losses": ["cross_entropy", "hinge", "focal"]}})
    assert cfg["question"] == {"subject": "hinge", "reference": "cross_entropy"}
    cfg = validate_config({"question": {"subject": "focal", "reference": "hinge"},
                           "convergence": {"losses": ["cross_entropy", "hinge", "focal"]}})
    assert cfg["question"] == {"subject": "focal", "reference": "hinge"}
    assert validate_config(cfg)["question"] == cfg["question"]          # a job validates the resolved config again
    # without cross-entropy swept the default still validates twice (the report says the pair was not swept);
    # an explicit question must name swept losses
    lone = validate_config({"convergence": {"losses": ["focal"]}})
    assert validate_config(lone)["question"] == lone["question"] == {"subject": "focal", "reference": "cross_entropy"}
    with pytest.raises(ConfigError, match="question.reference: 'hinge' is not in convergence.losses"):
        validate_config({"question": {"subject": "focal", "reference": "hinge"}, "convergence": {"losses": ["focal"]}})


def test_parts_are_turned_off_and_the_plan_says_what_each_stage_costs():
    """`overflow: null` and `studies: {depth: null}` turn those parts off; the plan counts every stage's
    jobs, runs and run-steps, the one-off jobs with the probe's settings and the reduced-precision runs."""
    from experiments.config import FIXED_JOBS, plan, plan_one_off

    on = {r["stage"]: r for r in plan_one_off(validate_config({}))}
    # 8 implementations x (2 axes x 4 class counts + the lecture's) x (4 formats + 2 half formats under autocast)
    assert on["overflow probe"]["runs"] == 8 * 9 * (4 + 2)
    assert on["reduced precision"]["runs"] == 4 * 2 * 2 * 4 * 3 and on["reduced precision"]["run_steps"] == 192 * 200
    off = validate_config({"overflow": None, "convergence": {"studies": {"depth": None}}})
    assert off["overflow"] is None and off["convergence"]["studies"] == {}
    assert [r["stage"] for r in plan_one_off(off)] == ["other one-off"]
    assert sum(r["jobs"] for r in plan_one_off(off)) == FIXED_JOBS - 2
    assert [r["stage"] for r in plan(off)] == ["reference", "tune", "evaluate"]


def test_the_config_command_warns_before_replacing_another_configs_results(tmp_path, repo):
    """A results folder that holds another config's results gets a warning line; its own does not."""
    from experiments.config import replaced_results, science_config

    cfg = validate_config({"results": "out"})
    assert replaced_results(cfg, tmp_path) is None                      # new folder
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "config.yaml").write_text(yaml.safe_dump(science_config(cfg), sort_keys=False))
    assert replaced_results(cfg, tmp_path) is None                      # its own: a rerun redoes what changed
    other = validate_config({"results": "out", "seed": 1})
    assert replaced_results(other, tmp_path).startswith("warning: out/ holds the results of another config")
    (tmp_path / "out" / "config.yaml").unlink()
    (tmp_path / "out" / "runs.parquet").write_bytes(b"x")
    assert replaced_results(cfg, tmp_path).startswith("warning: out/ already holds files")


@pytest.mark.workflow
def test_a_users_question_runs_end_to_end(repo, tmp_path):
    """The issue's user: one extension file (the page's: poly1, my_ce, wine) and a config from
    config/smoke.yaml with datasets [wine, digits], losses [cross_entropy, my_ce, poly1], the question
    poly1 against cross-entropy and no overflow stage. The report lands in the config's own folder, its
    abstract names Poly-1; the runs hold poly1, my_ce and wine; no overflow table is made; and my_ce,
    trained on autograd's gradient, reproduces cross-entropy: the same chosen rate in every configuration,
    the same final loss within 1e-4 and the same steps to the target in every paired run."""
    from conftest import snakemake

    (tmp_path / "my_extension.py").write_text(_page_files(repo)["my_extension.py"])
    cfg = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    cfg.update(extensions=["my_extension.py"], question={"subject": "poly1", "reference": "cross_entropy"},
               overflow=None)
    cfg["convergence"].update(datasets=["wine", "digits"], losses=["cross_entropy", "my_ce", "poly1"])
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = snakemake(repo, tmp_path, "--configfile", str(tmp_path / "mine.yaml"), "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "results" / "mine"
    page = (out / "report.html").read_text()
    abstract = re.search(r'id="abstract".*?</section>', page, re.S).group(0)
    assert "Poly-1 " in re.sub(r"<[^>]+>", "", abstract)
    assert not (out / "overflow").exists()
    runs = pd.read_parquet(out / "convergence" / "runs.parquet")
    assert {"poly1", "my_ce"} <= set(runs["loss"]) and "wine" in set(runs["dataset"])
    tuning = pd.read_parquet(out / "convergence" / "tuning.parquet")
    config = ["dataset", "activation", "hidden", "optimizer", "learn_scale", "logit_scale"]
    chosen = tuning[tuning["chosen"]].set_index([*config, "loss"])["lr"].unstack("loss")
    assert (chosen["my_ce"] == chosen["cross_entropy"]).mean() >= 0.9
    keys = [k for k in columns.RUN_KEYS if k not in ("loss", "lr")]
    pair = runs[runs["loss"] == "my_ce"].merge(runs[runs["loss"] == "cross_entropy"], on=keys, suffixes=("_u", "_b"))
    assert len(pair) == (runs["loss"] == "my_ce").sum()
    assert ((pair["final_train_loss_u"] - pair["final_train_loss_b"]).abs() <= 1e-4).mean() >= 0.95
    assert (pair["steps_to_target_u"].fillna(-1) == pair["steps_to_target_b"].fillna(-1)).mean() >= 0.95
