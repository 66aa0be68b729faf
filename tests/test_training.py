"""Batched training: runs are independent of their group, failures become rows."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from experiments import columns
from experiments.config import validate_config
from experiments.data import load_dataset
from experiments.sweep import groups_from_config
from experiments.training import log_schedule, train_group


@pytest.fixture(scope="module")
def cfg():
    return validate_config({"convergence": {
        "datasets": ["digits"], "losses": ["cross_entropy"], "activations": ["tanh"],
        "logit_scales": [1.0, 10.0], "learning_rates": [0.05, 0.2], "seeds": [0, 1],
        "steps": 40, "log_points": 6, "hidden": [16]}})


@pytest.fixture(scope="module")
def group(cfg):
    (g,) = groups_from_config(cfg).values()
    return g


@pytest.fixture(scope="module")
def trained(group, cfg):
    return train_group(group, cfg)


def _alone(group, k):
    return dataclasses.replace(group, runs=(group.runs[k],))


def test_tables_have_contract_columns(trained, group):
    runs, curves = trained
    assert list(runs.columns) == columns.RUNS
    assert list(curves.columns) == columns.CURVES
    assert len(runs) == len(group.runs) == 8
    assert sorted(curves["step"].unique()) == log_schedule(40, 6).tolist()


@pytest.mark.parametrize("k", [0, 5, 7])
def test_run_gives_same_curve_alone_or_in_group(trained, group, cfg, k):
    _, curves = trained
    r = group.runs[k]
    together = curves[(curves.logit_scale == r.logit_scale) & (curves.lr == r.lr) & (curves.seed == r.seed)]
    _, alone = train_group(_alone(group, k), cfg)
    cols = ["train_loss", "train_acc", "val_acc", "grad_norm_logits"]
    np.testing.assert_allclose(together[cols].to_numpy(), alone[cols].to_numpy(), rtol=1e-4, atol=1e-5)


def test_same_group_twice_gives_identical_tables(trained, group, cfg):
    runs2, curves2 = train_group(group, cfg)
    drop = [c for c in columns.TIMING_COLUMNS if c in runs2]
    pd.testing.assert_frame_equal(trained[0].drop(columns=drop), runs2.drop(columns=drop))
    pd.testing.assert_frame_equal(trained[1], curves2)


def test_seeds_differ_and_pair_across_settings(trained):
    runs, curves = trained
    first = curves[curves.step == 0].set_index(["logit_scale", "lr", "seed"])["train_acc"]
    # same replicate, same start: accuracy at step 0 does not depend on the learning rate
    assert first[(1.0, 0.05, 0)] == first[(1.0, 0.2, 0)]
    assert first[(1.0, 0.05, 0)] != first[(1.0, 0.05, 1)]


def test_nonfinite_run_is_a_row_and_does_not_touch_the_others(group, cfg):
    bad = dataclasses.replace(group.runs[0], logit_scale=1e39)  # float32 logits overflow to inf
    g = dataclasses.replace(group, runs=(bad, group.runs[1]))
    runs, curves = train_group(g, cfg)
    assert runs.loc[0, "status"] == "nonfinite"
    assert runs.loc[0, "nonfinite_step"] == 0
    assert pd.isna(runs.loc[0, "steps_to_target"])
    assert runs.loc[1, "status"] in ("ok", "not_reached")
    _, alone = train_group(_alone(group, 1), cfg)
    healthy = curves[curves.logit_scale == group.runs[1].logit_scale]
    np.testing.assert_allclose(healthy["val_acc"].to_numpy(), alone["val_acc"].to_numpy(), rtol=1e-5)


def test_huge_learning_rate_fails_as_a_status(group, cfg):
    hot = dataclasses.replace(group.runs[0], lr=1e6)
    runs, _ = train_group(dataclasses.replace(group, runs=(hot,)), cfg)
    assert runs.loc[0, "status"] in ("nonfinite", "diverged")
    broke_at = runs.loc[0, "nonfinite_step"] if runs.loc[0, "status"] == "nonfinite" else runs.loc[0, "diverged_step"]
    assert 0 <= broke_at <= 40


def test_missed_target_is_null_not_a_number(group, cfg):
    g = dataclasses.replace(group, target_acc=1.0, steps=3, runs=group.runs[:2])
    runs, _ = train_group(g, cfg)
    assert runs["steps_to_target"].isna().all()
    assert (runs["status"] == "not_reached").all()


def test_steps_to_target_is_first_logged_step_reaching_it(trained, group):
    runs, curves = trained
    for _, row in runs.iterrows():
        c = curves[(curves.logit_scale == row.logit_scale) & (curves.lr == row.lr) & (curves.seed == row.seed)]
        hit = c[c.val_acc >= group.target_acc]
        if hit.empty:
            assert pd.isna(row.steps_to_target)
        else:
            assert row.steps_to_target == hit.step.min()
            assert row.status == "ok"


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
        assert ds.num_classes == 10
        np.testing.assert_allclose(ds.x_train.mean(0), 0, atol=1e-5)
        again = load_dataset(name, default_config)
        np.testing.assert_array_equal(ds.x_val, again.x_val)
    other = load_dataset("digits", {**default_config, "seed": 1})
    assert not np.array_equal(other.y_val, load_dataset("digits", default_config).y_val)
