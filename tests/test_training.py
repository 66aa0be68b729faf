"""Batched training: runs are independent of their stack, failures become rows."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from experiments import columns
from experiments.config import validate_config
from experiments.convergence.data import describe, load_dataset
from experiments.convergence.losses import LOSSES
from experiments.sweep import groups_from_config, hidden_name
from experiments.analysis.targets import Targets
from experiments.convergence.training import log_schedule, target_schedule, train_group

TARGET = Targets.constant(0.9)       # the validation accuracy checked, in every cell


def train(group, cfg, *args, targets=TARGET, **kwargs):
    """train_group with the tests' target (the workflow reads each cell's from targets.parquet)."""
    return train_group(group, cfg, *args, targets=targets, **kwargs)

METRICS = ["train_loss", "train_acc", "val_acc", "grad_norm_logits", "mean_abs_logit", "logit_norm",
           "saturated_frac", "logit_scale_value"]


def make_config(**convergence):
    base = {"datasets": ["digits"], "losses": ["cross_entropy"], "activations": ["tanh"],
            "logit_scales": [1.0, 10.0], "learn_logit_scale": [False], "optimizers": ["sgd"],
            "learning_rates": {"sgd": [0.05, 0.2]},
            "tuning_seeds": [0, 1], "eval_seeds": [50], "steps": 40, "log_points": 6, "hidden_layers": [[16]]}
    return validate_config({"convergence": {**base, **convergence}})


@pytest.fixture(scope="module")
def cfg():
    return make_config()


@pytest.fixture(scope="module")
def group(cfg):
    (g,) = groups_from_config(cfg, "tune").values()
    return g


@pytest.fixture(scope="module")
def trained(group, cfg):
    return train(group, cfg)


def only(group, k, stack=0):
    """The same group with a single run: run k of stack ``stack``, trained alone."""
    s = group.stacks[stack]
    return dataclasses.replace(group, stacks=(dataclasses.replace(s, runs=(s.runs[k],)),))


def with_runs(group, *runs, stack=0):
    return dataclasses.replace(group, stacks=(dataclasses.replace(group.stacks[stack], runs=tuple(runs)),))


def curve_of(curves, run):
    sel = (curves.logit_scale == run.logit_scale) & (curves.lr == run.lr) & (curves.seed == run.seed)
    return curves[sel]


def test_tables_have_contract_columns(trained, group):
    runs, curves, *_ = trained
    assert list(runs.columns) == columns.RUNS
    assert list(curves.columns) == columns.CURVES
    assert len(runs) == group.num_runs == 8
    assert sorted(curves["step"].unique()) == log_schedule(40, 6).tolist()
    assert curves[METRICS].notna().all().all()


@pytest.mark.parametrize("k", [0, 5, 7])
def test_run_gives_same_curve_alone_or_in_stack(trained, group, cfg, k):
    _, curves, *_ = trained
    run = group.stacks[0].runs[k]
    alone = train(only(group, k), cfg).curves
    np.testing.assert_allclose(curve_of(curves, run)[METRICS].to_numpy(), alone[METRICS].to_numpy(),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("optimizer,learn", [("sgd", False), ("adam", True)])
def test_every_loss_same_alone_or_batched(loss, optimizer, learn):
    """A run trained inside a stack of 4 and in chunks of 3 equals the run trained alone."""
    cfg = make_config(losses=[loss], optimizers=[optimizer], learn_logit_scale=[learn],
                      learning_rates={"sgd": [0.1, 0.5], "adam": [0.003, 0.03]}, steps=25)
    (g,) = groups_from_config(cfg, "tune").values()
    together = train(g, cfg).curves
    chunked = train(g, cfg, max_stack=3).curves
    k = 3  # second scale, second rate... the last run of the stack
    run = g.stacks[0].runs[k]
    alone = train(only(g, k), cfg).curves
    want = alone[METRICS].to_numpy()
    np.testing.assert_allclose(curve_of(together, run)[METRICS].to_numpy(), want, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(curve_of(chunked, run)[METRICS].to_numpy(), want, rtol=2e-4, atol=1e-5)


def test_learned_scale_moves_and_fixed_scale_does_not():
    fixed = make_config(optimizers=["adam"], learning_rates={"adam": [0.01]})
    learned = make_config(optimizers=["adam"], learning_rates={"adam": [0.01]}, learn_logit_scale=[True])
    (gf,) = groups_from_config(fixed, "tune").values()
    (gl,) = groups_from_config(learned, "tune").values()
    rf = train(gf, fixed).runs
    rl = train(gl, learned).runs
    assert (rf["final_logit_scale"] == rf["logit_scale"]).all()
    assert (abs(rl["final_logit_scale"] / rl["logit_scale"] - 1) > 1e-3).all()


def test_timing_columns_are_columns_of_the_runs_table():
    assert set(columns.TIMING_COLUMNS) <= set(columns.RUNS)


def test_same_group_twice_gives_identical_tables(trained, group, cfg):
    runs2, curves2, *_ = train(group, cfg)
    drop = [c for c in columns.TIMING_COLUMNS if c in runs2]
    pd.testing.assert_frame_equal(trained[0].drop(columns=drop), runs2.drop(columns=drop))
    pd.testing.assert_frame_equal(trained[1], curves2)


def test_seeds_differ_and_pair_across_settings(trained):
    _, curves, *_ = trained
    first = curves[curves.step == 0].set_index(["logit_scale", "lr", "seed"])["train_acc"]
    # same replicate, same start: accuracy at step 0 does not depend on the learning rate
    assert first[(1.0, 0.05, 0)] == first[(1.0, 0.2, 0)]
    assert first[(1.0, 0.05, 0)] != first[(1.0, 0.05, 1)]


def test_nonfinite_run_is_a_row_and_does_not_touch_the_others(group, cfg):
    good = group.stacks[0].runs[1]
    bad = dataclasses.replace(group.stacks[0].runs[0], logit_scale=1e39)  # float32 logits overflow
    runs, curves, *_ = train(with_runs(group, bad, good), cfg)
    assert runs.loc[0, "status"] == "nonfinite"
    assert runs.loc[0, "nonfinite_step"] == 0
    assert pd.isna(runs.loc[0, "steps_to_target"])
    assert runs.loc[1, "status"] in ("ok", "not_reached")
    alone = train(with_runs(group, good), cfg).curves
    np.testing.assert_allclose(curve_of(curves, good)["val_acc"].to_numpy(), alone["val_acc"].to_numpy(),
                               rtol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_huge_learning_rate_fails_as_a_status(group, cfg, optimizer):
    hot = dataclasses.replace(group.stacks[0].runs[0], lr=1e6)
    g = with_runs(group, hot)
    g = dataclasses.replace(g, stacks=(dataclasses.replace(g.stacks[0], optimizer=optimizer),))
    runs, curves, *_ = train(g, cfg)
    assert runs.loc[0, "status"] in ("nonfinite", "diverged")
    if runs.loc[0, "status"] == "nonfinite":
        assert 0 <= runs.loc[0, "nonfinite_step"] <= 40
        assert curves["step"].max() <= runs.loc[0, "nonfinite_step"]    # no rows after the break
    else:                                   # judged at the end: above 10x its start from diverged_step on
        start = curves["train_loss"].iloc[0]
        tail = curves[curves["step"] >= runs.loc[0, "diverged_step"]]
        assert curves["step"].max() == 40 and (tail["train_loss"] > 10 * abs(start)).all()


def test_a_run_that_broke_scores_chance_and_defines_no_nll(group, cfg):
    """The contract for a run that broke: its validation and test accuracy are its split's chance (the most
    frequent class's share), never a value from before the break; NLL, Brier, ECE and temperature are
    undefined; its per-example outputs are the constant guess's answers; a run beside it is untouched."""
    good = group.stacks[0].runs[1]
    bad = dataclasses.replace(group.stacks[0].runs[0], logit_scale=1e39)       # NaN/inf at step 0
    hot = dataclasses.replace(group.stacks[0].runs[0], lr=1e6, seed=7)         # diverges or breaks later
    t = train(with_runs(group, bad, hot, good), cfg, test=True)
    ds = load_dataset(group.dataset, cfg)
    chance_val = np.bincount(ds.y_val).max() / len(ds.y_val)
    chance_test = np.bincount(ds.y_test).max() / len(ds.y_test)
    broke = t.runs[t.runs["status"].isin(["nonfinite", "diverged"])]
    assert len(broke) == 2
    np.testing.assert_allclose(broke["final_val_acc"], chance_val)
    np.testing.assert_allclose(broke["test_acc"], chance_test)
    assert broke[["test_nll", "test_brier", "test_ece", "temperature", "test_nll_ts"]].isna().all().all()
    ok = t.runs[~t.runs["status"].isin(["nonfinite", "diverged"])].iloc[0]
    assert ok["final_val_acc"] != chance_val and np.isfinite(ok["test_nll"])
    pred = t.predictions.set_index("seed").loc[bad.seed]
    mode = np.bincount(ds.y_test).argmax()
    np.testing.assert_array_equal(pred["correct"], (ds.y_test == mode).astype(np.float32))
    assert np.isnan(pred["nll"]).all() and len(t.predictions) == 3


def test_missed_target_is_null_not_a_number(group, cfg):
    g = dataclasses.replace(with_runs(group, *group.stacks[0].runs[:2]), steps=3)
    runs = train(g, cfg, targets=Targets.constant(1.0)).runs
    assert runs["steps_to_target"].isna().all()
    assert (runs["status"] == "not_reached").all()


def test_steps_to_target_is_the_first_check_at_or_above_the_target(trained, group, cfg):
    """Against the same runs logged at every step: steps_to_target is the first step of the check schedule
    (target_schedule, plus the logged steps) whose validation accuracy reaches the target; the check before
    it was below the target and at most max(2 steps, 5%) earlier (a brief excursion above the target
    between two checks can go unseen: accuracy is not monotone)."""
    runs, _, *_ = trained
    dense_group = dataclasses.replace(group, log_points=400)
    assert set(log_schedule(40, 400).tolist()) == set(range(41))       # every step logged
    dense = train(dense_group, cfg).curves
    checks = set(target_schedule(40).tolist()) | set(log_schedule(40, 6).tolist())
    reached = 0
    for _, row in runs.iterrows():
        c = dense[(dense.logit_scale == row.logit_scale) & (dense.lr == row.lr) & (dense.seed == row.seed)]
        hit = c[c.val_acc.astype(np.float32) >= np.float32(TARGET.default[0])].step   # as compared in training
        checked = [st for st in hit if st in checks]
        if not checked:
            assert pd.isna(row.steps_to_target)
            continue
        reached += 1
        assert row.steps_to_target == min(checked) and row.status == "ok"
        before = max(st for st in checks if st < row.steps_to_target)
        assert before not in set(hit) and row.steps_to_target - before <= max(2, 0.05 * row.steps_to_target)
    assert reached >= 2


def test_target_schedule_resolution():
    for steps in [1, 7, 40, 600, 2000]:
        t = target_schedule(steps)
        assert t[0] == 0 and t[-1] == steps and (np.diff(t) > 0).all()
        assert (np.diff(t) <= np.maximum(2, 0.05 * t[1:])).all()
        assert set(range(min(steps, 20) + 1)) <= set(t.tolist())          # every step up to 20


def test_saturation_metrics():
    """sigmoid at a huge input scale saturates; relu units can die; identity never saturates."""
    from experiments.convergence.activations import saturated_fraction
    h = torch.tensor([[[0.0, 0.5], [1.0, 0.9995]]])                    # (K=1, N=2, H=2)
    assert saturated_fraction("sigmoid", [h]).item() == pytest.approx(0.75)
    r = torch.tensor([[[0.0, 0.3], [0.0, 0.0]]])                        # unit 0 dead on the batch
    assert saturated_fraction("relu", [r]).item() == pytest.approx(0.5)
    assert saturated_fraction("identity", [r]).item() == 0.0
    t = torch.tensor([[[-0.9999, 0.2], [0.9995, 0.0]]])
    assert saturated_fraction("tanh", [t]).item() == pytest.approx(0.5)
    # a linear model has no hidden unit: NaN, one per run
    assert torch.isnan(saturated_fraction("sigmoid", [], runs=3)).tolist() == [True] * 3


def test_linear_model_trains_and_is_a_row():
    """hidden_layers: [[]] (the schema's linear model) trains; no hidden unit, so saturation is NaN."""
    cfg = make_config(hidden_layers=[[]], activations=["sigmoid", "relu"], logit_scales=[1.0])
    (g,) = groups_from_config(cfg, "tune").values()
    runs, curves, *_ = train(g, cfg)
    assert len(runs) == g.num_runs == 8 and set(runs["hidden"]) == {hidden_name([])}
    assert runs["final_saturated_frac"].isna().all() and curves["saturated_frac"].isna().all()
    assert (runs["final_val_acc"] > 0.5).all()  # a linear classifier on digits learns


def test_log_schedule_is_geometric_and_complete():
    s = log_schedule(1000, 20)
    assert s[0] == 0 and s[1] == 1 and s[-1] == 1000
    assert np.all(np.diff(s) > 0)
    gaps = np.diff(s)
    assert gaps[-1] > 10 * gaps[0]  # dense early, sparse late


def test_datasets_are_split_and_standardised(default_config):
    for name in ["digits", "gaussian_mixture"]:
        ds = load_dataset(name, default_config)
        n = len(ds.y_train) + len(ds.y_val)
        assert abs(len(ds.y_val) / n - default_config["data"]["val_fraction"]) < 0.01
        assert abs(len(ds.y_test) / (n + len(ds.y_test)) - default_config["data"]["test_fraction"]) < 0.01
        assert ds.num_classes == 10
        np.testing.assert_allclose(ds.x_train.mean(0), 0, atol=1e-5)
        again = load_dataset(name, default_config)
        np.testing.assert_array_equal(ds.x_val, again.x_val)
        np.testing.assert_array_equal(ds.x_test, again.x_test)
        # the three splits are disjoint: no example (row of raw features) in two of them
        rows = lambda x: {r.tobytes() for r in x}  # noqa: E731
        assert not (rows(ds.x_test) & (rows(ds.x_train) | rows(ds.x_val))) and not rows(ds.x_train) & rows(ds.x_val)
    other = load_dataset("digits", {**default_config, "seed": 1})
    assert not np.array_equal(other.y_val, load_dataset("digits", default_config).y_val)


def test_describe_gives_the_sizes_the_report_shows(default_config):
    row = describe(load_dataset("digits", default_config), default_config)
    assert set(row) == set(columns.DATASETS)
    # 1,797 digits: 20% (360, rounded up) for test, 25% of the other 1,437 (360) for validation
    assert (row["n_train"], row["n_val"], row["n_test"], row["num_features"], row["num_classes"]) == \
        (1077, 360, 360, 64, 10)
    assert row["source"] == "scikit-learn" and row["val_fraction"] == 0.25 and row["test_split"] == "20% held out"


def test_mnist1d_has_the_published_shapes_and_balance_without_download(default_config, tmp_path, monkeypatch):
    """MNIST-1D (Greydanus 2020): 5,000 signals of 40 samples, 500 per digit, the first 4,000 for training
    and the last 1,000 the test split, as published; validation: 1,000 signals of a second draw (seed 43),
    none of them a training or test signal; generated locally (the download path is never taken) and cached."""
    pytest.importorskip("mnist1d")
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("MNIST-1D must be generated, not downloaded")
    monkeypatch.setattr(requests, "get", no_network)
    cfg = {**default_config, "data": {**default_config["data"], "root": str(tmp_path)}}
    ds = load_dataset("mnist1d", cfg)
    assert (tmp_path / "mnist1d.npz").exists()
    assert len(ds.y_train) == 4000 and ds.x_test.shape == (1000, 40) and ds.x_val.shape == (1000, 40)
    assert ds.num_features == 40 and ds.num_classes == 10
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=10)
    assert counts.tolist() == [500] * 10
    assert np.bincount(ds.y_val, minlength=10).min() >= 80
    rows = lambda a: {r.tobytes() for r in a}                      # noqa: E731
    assert not rows(ds.x_val) & (rows(ds.x_train) | rows(ds.x_test))   # a draw of its own
    assert np.bincount(ds.y_test, minlength=10).min() >= 80     # the shuffled split keeps every class
    again = load_dataset("mnist1d", cfg)                           # from the cache: the same arrays
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    state = np.random.get_state()[1].copy()
    (tmp_path / "mnist1d.npz").unlink()
    regenerated = load_dataset("mnist1d", cfg)                     # generation is deterministic ...
    np.testing.assert_array_equal(ds.x_train, regenerated.x_train)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # ... and leaves numpy's global RNG alone
    row = describe(ds, cfg)
    assert (row["n_train"], row["n_val"], row["n_test"], row["test_split"]) == (4000, 1000, 1000, "published")


def test_vision_dataset_without_torchvision_or_files_says_what_to_do(default_config, tmp_path):
    cfg = {**default_config, "data": {**default_config["data"], "root": str(tmp_path)}}
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match=r"needs torchvision: pip install -e '\.\[vision\]'"):
            load_dataset("mnist", cfg)
    else:
        with pytest.raises(RuntimeError, match=r"is not under .*MNIST/raw.*snakemake download_data"):
            load_dataset("mnist", cfg)


def test_device_cuda_without_cuda_is_one_line():
    from experiments.convergence.training import cuda_problem, resolve_device

    if torch.cuda.is_available():
        assert cuda_problem() is None and resolve_device("cuda").type == "cuda"
        return
    with pytest.raises(RuntimeError) as err:
        resolve_device("cuda")
    assert str(err.value) == cuda_problem()
    assert "\n" not in str(err.value) and str(err.value).startswith("config error: device: 'cuda' was requested")
    assert resolve_device("auto").type == "cpu"


def test_a_killed_group_resumes_from_its_checkpointed_chunks(group, cfg, trained, tmp_path, monkeypatch):
    import experiments.convergence.training as training

    real = training.train_chunk
    calls = []

    def dies_on_second_chunk(*args, **kwargs):
        calls.append(len(args[1]))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")  # what a SIGTERM/preemption looks like mid-group
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_chunk", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        train(group, cfg, "cpu", 2, checkpoint_dir=tmp_path)
    assert len(list(tmp_path.glob("*.pkl"))) == 1  # the first chunk, saved whole

    calls.clear()
    monkeypatch.setattr(training, "train_chunk", lambda *a, **k: (calls.append(len(a[1])), real(*a, **k))[1])
    said = []
    runs, curves, *_ = train(group, cfg, "cpu", 2, checkpoint_dir=tmp_path, log=said.append)
    assert sum(calls) == group.num_runs - 2 and len(said) == 1 and "from checkpoint" in said[0]
    keep = [c for c in runs.columns if c not in columns.TIMING_COLUMNS]
    pd.testing.assert_frame_equal(runs[keep], trained[0][keep])
    pd.testing.assert_frame_equal(curves, trained[1])

    # a checkpoint of other work (here: other steps) is never taken for this one
    calls.clear()
    other = dataclasses.replace(group, steps=group.steps + 1)
    train(other, cfg, "cpu", 2, checkpoint_dir=tmp_path)
    assert sum(calls) == group.num_runs


def test_download_without_network_names_the_files_and_where_to_put_them(tmp_path, monkeypatch):
    """torchvision's downloader fails as it does offline (a fake module stands in, so this
    runs where torchvision cannot be installed); the message says what to do by hand."""
    import sys
    import types
    import urllib.error

    from experiments.convergence.data import download

    class OfflineMNIST:
        def __init__(self, root, train=True, download=False):
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(MNIST=OfflineMNIST)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    with pytest.raises(RuntimeError) as err:
        download("mnist", str(tmp_path))
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("could not download 'mnist' (URLError")
    assert f"place the files at {tmp_path}/MNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte" in msg


def test_layer_table_and_test_metrics_of_one_run_equal_autograd():
    """A single sigmoid run with 3 hidden layers: its step-0 rows of the layers table hold, per layer,
    ||dL/dW|| of the first minibatch at initialisation as autograd computes it, and the fraction of
    saturated units on the training set; its test metrics are those of its final model."""
    from experiments.convergence.models import forward, init_params
    from experiments.convergence.training import batch_indices

    cfg = make_config(activations=["sigmoid"], hidden_layers=[[8, 8, 8]], loss_params={}, losses=["mse_softmax"])
    group = groups_from_config(cfg, "tune")["digits.mse_softmax"]
    group = dataclasses.replace(group, stacks=(dataclasses.replace(group.stacks[0], runs=group.stacks[0].runs[:1]),))
    (run,) = group.stacks[0].runs
    runs, curves, layers, *_ = train(group, cfg, test=True)
    assert list(layers.columns) == columns.LAYERS
    assert sorted(layers["layer"].unique()) == [1, 2, 3, 4]
    assert sorted(layers["step"].unique()) == log_schedule(group.steps, group.log_points).tolist()

    ds = load_dataset("digits", cfg)
    params = init_params([64, 8, 8, 8, 10], [run.torch_seed], dtype=torch.float64)
    rows = batch_indices(len(ds.y_train), group.steps, group.batch_size, run.torch_seed)[0]
    x, y = torch.as_tensor(ds.x_train, dtype=torch.float64)[rows], torch.as_tensor(ds.y_train)[rows]
    z, _ = forward(params, x[None], "sigmoid", torch.tensor([run.logit_scale], dtype=torch.float64))
    grads = torch.autograd.grad(LOSSES["mse_softmax"](z, y[None]).mean(), params)
    first = layers[layers["step"] == 0].sort_values("layer")
    np.testing.assert_allclose(first["grad_norm"], [float(g.norm()) for g in grads[0::2]], rtol=1e-4)

    _, hidden = forward(params, torch.as_tensor(ds.x_train, dtype=torch.float64)[None], "sigmoid",
                        torch.tensor([1.0], dtype=torch.float64))
    saturated = [float(((h < 1e-3) | (h > 1 - 1e-3)).double().mean()) for h in hidden]
    np.testing.assert_allclose(first["saturated_frac"].iloc[:3], saturated, atol=1e-3)
    assert np.isnan(first["saturated_frac"].iloc[3])              # the output layer has no activation

    row = runs.iloc[0]
    assert 0 <= row["test_ece"] <= 1 and 0 <= row["test_brier"] <= 2 and row["test_nll"] > 0
    assert 0 <= row["test_acc"] <= 1
    untested = train(group, cfg).runs                      # the tune stage never looks at the test split
    assert untested[columns.TEST_METRICS].isna().all().all()


def test_dataset_registry_equals_the_torch_free_list(schema):
    """A config is checked against registry.BUILTIN_DATASETS without torch: it must be what registers;
    each built-in has a source and its own budget key (a user's dataset's budget is any other key)."""
    from experiments import registry
    from experiments.convergence.data import DATASETS, SOURCES

    assert list(DATASETS)[:len(registry.BUILTIN_DATASETS)] == list(registry.BUILTIN_DATASETS) == list(SOURCES)
    steps = schema["properties"]["convergence"]["properties"]["steps"]["anyOf"][1]["properties"]
    assert list(steps) == list(registry.BUILTIN_DATASETS)


def test_steps_to_every_level_and_the_per_example_test_outputs(trained, group, cfg):
    """Three target levels for the cell of the group: each run's level rows are the first check at or
    above each target (a higher level never sooner), the main level's are the runs table's; the final
    models' per-example test outputs average to the runs table's test metrics."""
    from experiments.analysis.claims import ece

    cell = (hidden_name(group.stacks[0].hidden), group.stacks[0].activation, group.stacks[0].optimizer)
    three = Targets(levels=(0.5, 0.8, 0.95), main=0.8, acc={cell: (0.5, 0.85, 0.92)})
    runs, curves, _, levels, predictions = train(group, cfg, targets=three, test=True)
    assert list(levels.columns) == columns.LEVELS and len(levels) == 3 * len(runs)
    wide = levels.pivot_table(index=columns.RUN_KEYS, columns="level", values="steps_to_target")
    ordered = wide.dropna()
    assert (ordered[0.5] <= ordered[0.8]).all() and (ordered[0.8] <= ordered[0.95]).all()
    main = levels[levels["level"] == 0.8].merge(runs, on=columns.RUN_KEYS, suffixes=("", "_run"))
    pd.testing.assert_series_equal(main["steps_to_target"], main["steps_to_target_run"], check_names=False)
    assert (runs["target_acc"] == 0.85).all()
    assert list(predictions.columns) == columns.PREDICTIONS and len(predictions) == (runs["status"] != "nonfinite").sum()
    both = predictions.merge(runs, on=columns.RUN_KEYS)
    n_test = len(load_dataset("digits", cfg).y_test)
    for _, r in both.iterrows():
        assert len(r["correct"]) == n_test
        assert np.mean(r["correct"]) == pytest.approx(r["test_acc"])
        assert np.mean(r["nll"]) == pytest.approx(r["test_nll"], rel=1e-5)
        assert np.mean(r["brier"]) == pytest.approx(r["test_brier"], rel=1e-5)
        assert ece(np.asarray(r["confidence"], float), np.asarray(r["correct"], float)) == pytest.approx(
            r["test_ece"], abs=1e-6)
    with pytest.raises(KeyError, match="targets.parquet lacks this cell"):
        Targets((0.8,), 0.8, {}).of("64", "relu", "sgd")


@pytest.mark.parametrize("loss, optimizer", [("cross_entropy", "adam"), ("hinge", "sgd")])
def test_static_step_buffers_give_the_eager_tables(loss, optimizer):
    """The CUDA graph's plumbing without a graph (steps.StepRunner 'static': minibatches copied into
    fixed buffers, one alive tensor updated in place, outputs read before the next step) gives the eager
    tables bit for bit, a run that breaks included."""
    rate = {"sgd": 0.05, "adam": 0.003}[optimizer]
    cfg = make_config(losses=[loss], optimizers=[optimizer], activations=["tanh", "relu"],
                      learning_rates={optimizer: [rate]}, learn_logit_scale=[False, True])
    (group,) = groups_from_config(cfg, "tune").values()
    first = group.stacks[0]                                   # one run at a rate that breaks it
    hot = (dataclasses.replace(first.runs[0], lr=1e6),) + first.runs[1:]
    group = dataclasses.replace(group, stacks=(dataclasses.replace(first, runs=hot),) + group.stacks[1:])
    eager = train(group, cfg, step_mode="eager")
    static = train(group, cfg, step_mode="static")
    broke = eager.runs["status"].isin(["nonfinite", "diverged"])
    assert broke.sum() == 1 and len(eager.runs) > 4
    for a, b in zip(eager, static):
        pd.testing.assert_frame_equal(a.drop(columns=["wall_time_s", "started_at"], errors="ignore"),
                                      b.drop(columns=["wall_time_s", "started_at"], errors="ignore"))


def test_step_modes_refuse_an_unknown_mode():
    from experiments.convergence.steps import StepRunner

    with pytest.raises(ValueError, match="unknown step mode"):
        StepRunner(None, None, torch.ones(2, dtype=torch.bool), "fast")


def test_graph_protocol_warms_up_captures_once_and_replays(monkeypatch):
    """The 'graph' mode's protocol on the CPU, CUDA's calls replaced by stand-ins that keep a graph's
    meaning (capture records the step on the fixed buffers; each replay runs it again and writes the
    outputs captured): per chunk (two here) WARMUP eager steps, exactly one capture, a replay at every later
    step, the step's buffers frozen from the capture on, FLOPs counted once per step; and the tables of
    the 'eager' mode (no fixed buffers, no graph) bit for bit."""
    from experiments.convergence import engine, steps

    events, captured = [], []

    class Graph:
        def __init__(self, step, out):
            self.step, self.out, self.fresh = step, out, True

        def replay(self):
            events.append("replay")
            if self.fresh:                     # the capture ran it (a real capture runs nothing; the
                self.fresh = False             # replay right after it does)
                return
            counted = engine.MODEL_FLOPS["train"]          # a real replay runs no Python: nothing counted
            for o, n in zip(self.out, self.step()):
                o.copy_(n)
            engine.MODEL_FLOPS["train"] = counted

    def capture(self):
        events.append("capture")
        captured.append(self.net)
        assert not self.net.frozen                         # frozen by the runner once captured
        out = self._step()
        return Graph(self._step, out), out

    def warm_up(self):
        events.append("warm-up")
        return self._step()

    monkeypatch.setattr(steps.StepRunner, "_capture", capture)
    monkeypatch.setattr(steps.StepRunner, "_warm_up", warm_up)
    cfg = make_config(losses=["cross_entropy"], optimizers=["adam"], learning_rates={"adam": [0.003]},
                      activations=["tanh", "relu"])
    (group,) = groups_from_config(cfg, "tune").values()
    group = dataclasses.replace(group, steps=12)
    chunk = group.num_runs // 2 + 1                                        # two chunks
    eager = train(group, cfg, max_stack=chunk, step_mode="eager")
    assert events == []
    engine.MODEL_FLOPS.clear()
    graph = train(group, cfg, max_stack=chunk, step_mode="graph")
    flops = engine.MODEL_FLOPS["train"]
    per_chunk = ["warm-up"] * steps.WARMUP + ["capture"] + ["replay"] * (12 - steps.WARMUP)
    assert events == per_chunk * 2 and events.count("capture") == len(captured) == 2
    assert len({id(net) for net in captured}) == 2 and all(net.frozen for net in captured)
    for a, b in zip(eager, graph):
        pd.testing.assert_frame_equal(a.drop(columns=["wall_time_s", "started_at"], errors="ignore"),
                                      b.drop(columns=["wall_time_s", "started_at"], errors="ignore"))
    engine.MODEL_FLOPS.clear()
    train(group, cfg, max_stack=chunk, step_mode="eager")
    assert flops == engine.MODEL_FLOPS["train"]                     # one step's FLOPs per step, replays included


def test_divergence_is_judged_at_the_end_so_a_spike_that_recovers_is_not_one():
    """A run whose loss spikes above 10x its start and comes back (a large logit scale early in training)
    is not diverged; one that ends above is, from the first logged step after which it stayed above; a run
    that hit NaN/inf is nonfinite, never diverged."""
    from experiments.convergence.training import diverged_steps
    steps = np.array([0, 1, 2, 4, 8])
    loss = np.array([[2.3, 2.3, 2.3, 2.3],
                     [50.0, 30.0, 2.0, 30.0],
                     [3.0, 40.0, 1.0, 40.0],
                     [0.5, 41.0, 0.5, np.nan],
                     [0.2, 45.0, 60.0, np.nan]])                             # (steps, runs)
    got = diverged_steps(steps, loss, nonfinite_step=np.array([-1, -1, -1, 5]))
    assert got.tolist() == [-1, 1, 8, -1]                  # recovered; stayed above from step 1; at the end; NaN


def test_a_loss_spike_at_a_large_logit_scale_recovers_and_is_trained_on():
    """Regression: the divergence rule once froze runs whose loss spiked 10x in the first steps at logit
    scale 10 and then trained to 92-95% (cross-entropy on digits, 64 sigmoid units, SGD at 0.1, the default
    budget of 56 steps); those runs now train on and end ok."""
    cfg = make_config(activations=["sigmoid"], hidden_layers=[[64]], logit_scales=[10.0], steps=56, log_points=20,
                      learning_rates={"sgd": [0.1]}, tuning_seeds=[100], eval_seeds=[0, 3])
    (g,) = groups_from_config(cfg, "eval").values()
    g = dataclasses.replace(g, stacks=tuple(dataclasses.replace(st, runs=tuple(dataclasses.replace(r, lr=0.1)
                                                                             for r in st.runs)) for st in g.stacks))
    runs, curves, *_ = train(g, cfg)
    start = curves.groupby("seed")["train_loss"].transform("first")
    assert (curves["train_loss"] > 10 * start).any()                      # the spike is there
    assert (runs["status"] != "diverged").all() and curves.groupby("seed")["step"].max().eq(56).all()
    assert (runs["final_val_acc"] > 0.8).all()


def test_check_mode_weighs_an_evaluation_of_every_run_against_a_host_read():
    """check_mode: on a CPU a host read is free ("waiting"); on CUDA "all" exactly where evaluating every run
    on the validation split takes less than two host reads: a small stack's, not the cluster's MNIST chunk."""
    from experiments.convergence.engine import flops_per_example
    from experiments.convergence.training import EVAL_FLOP_RATE, SYNC_SECONDS, check_mode

    mnist, small = [784, 512, 256, 10], [40, 64, 10]
    assert check_mode("cpu", 1, 1, small) == check_mode("cpu", 990, 15000, mnist) == "waiting"
    assert check_mode("cuda", 990, 15000, mnist) == "waiting"                  # E = 0.64 s against 1 ms
    assert check_mode("cuda", 1600, 1000, small) == "all"                      # E = 0.42 ms
    border = 2 * SYNC_SECONDS["cuda"] * EVAL_FLOP_RATE / flops_per_example(small)[0]   # runs x examples
    assert check_mode("cuda", 1, int(border) - 1, small) == "all" and check_mode("cuda", 1, int(border) + 1, small) == "waiting"


@pytest.mark.parametrize("step_mode", ["eager", "static"])
def test_either_target_check_gives_the_same_tables(step_mode, monkeypatch):
    """Checking the targets of the runs still waiting (one host read per check) or of every run (none)
    gives the same tables, three levels reached at different steps and a run that breaks included; each
    forced choice takes its own path ("waiting" evaluates subsets once runs stop waiting, "all" never)."""
    from experiments.convergence.engine import StackedMLP

    subsets = []
    real = StackedMLP.subset
    monkeypatch.setattr(StackedMLP, "subset", lambda self, runs: subsets.append(len(runs)) or real(self, runs))
    cfg = make_config(activations=["tanh", "relu"])
    (group,) = groups_from_config(cfg, "tune").values()
    first = group.stacks[0]
    hot = (dataclasses.replace(first.runs[0], lr=1e6),) + first.runs[1:]          # breaks
    group = dataclasses.replace(group, stacks=(dataclasses.replace(first, runs=hot),) + group.stacks[1:])
    cells = {(hidden_name(s.hidden), s.activation, s.optimizer): (0.5, 0.8, 0.9) for s in group.stacks}
    three = Targets(levels=(0.5, 0.8, 0.9), main=0.8, acc=cells)
    tables = {}
    for checks in ("waiting", "all"):
        subsets.clear()
        tables[checks] = train(group, cfg, targets=three, step_mode=step_mode, target_checks=checks)
        assert (len(subsets) > 0) == (checks == "waiting"), subsets
    reached = tables["all"].levels["steps_to_target"].dropna()
    assert reached.nunique() > 3 and tables["all"].runs["status"].isin(["nonfinite", "diverged"]).sum() == 1
    for a, b in zip(tables["waiting"], tables["all"]):
        pd.testing.assert_frame_equal(a.drop(columns=["wall_time_s", "started_at"], errors="ignore"),
                                      b.drop(columns=["wall_time_s", "started_at"], errors="ignore"))
    with pytest.raises(ValueError, match="unknown target_checks"):
        train(group, cfg, targets=three, target_checks="some")
