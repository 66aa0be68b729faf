"""The depth study's control: the output bias at the log class prior, against the training engine."""
import dataclasses

import numpy as np
import pytest

from experiments.analysis.depth import layer_ratios
from experiments.analysis.targets import Targets
from experiments.config import validate_config
from experiments.analysis.depth import control_table
from experiments.convergence.init_control import init_control, prior_bias
from experiments.convergence.training import train_group
from experiments.sweep import groups_from_config


@pytest.fixture(scope="module")
def cfg():
    return validate_config({"convergence": {
        "datasets": ["digits"], "losses": ["bce_ovr", "cross_entropy", "hinge"], "activations": ["relu"],
        "logit_scales": [2.0], "learn_logit_scale": [False], "optimizers": ["sgd"], "eval_seeds": [0, 1, 2],
        "steps": 3, "log_points": 2, "hidden_layers": [[8], [8, 8, 8]]}})


def test_the_default_rows_are_the_ratio_the_engine_records(cfg):
    """With the default bias, each row is the step-0 ratio of the evaluation run it names, as the layers
    table of real training holds it (the engine's own backward pass, float32)."""
    control = init_control(cfg)
    assert set(control["hidden"]) == {"8", "8-8-8"} and len(control[control["output_bias"] == "default"]) == 3 * 2 * 3
    group = groups_from_config(cfg, "eval")["digits.bce_ovr"]
    group = dataclasses.replace(group, stacks=tuple(dataclasses.replace(s, runs=tuple(
        dataclasses.replace(r, lr=0.1) for r in s.runs)) for s in group.stacks))
    layers = train_group(group, cfg, targets=Targets.constant(0.9)).layers
    engine = layer_ratios(layers).set_index(["hidden", "seed"])["grad_ratio_init"]
    mine = control[(control["loss"] == "bce_ovr") & (control["output_bias"] == "default")].set_index(
        ["hidden", "seed"])["grad_ratio_init"]
    np.testing.assert_allclose(mine.sort_index(), engine.reindex(mine.index).sort_index(), rtol=1e-4)


def test_the_log_prior_bias_removes_the_mean_output_error(cfg):
    """Sigmoid outputs start near 1/2 (mean error about 1/2 - 1/10 = 0.4 on digits' ten balanced classes);
    at the log-prior bias the untrained model predicts the prior and the mean error is about 0, and the
    ratio rises (the output layer's gradient loses its inflation). Softmax outputs start at the prior
    already (uniform classes): no change. Raw-logit losses have no row."""
    control = init_control(cfg)
    err = control.groupby(["loss", "output_bias"])["mean_output_error"].median()
    assert 0.3 < err[("bce_ovr", "default")] < 0.45 and abs(err[("bce_ovr", "log_prior")]) < 0.05
    t = control_table(control).set_index(["hidden", "loss"])
    assert t.loc[("8-8-8", "bce_ovr"), "change"] > 2
    assert t.loc[("8-8-8", "cross_entropy"), "change"] == pytest.approx(1.0, abs=0.15)
    assert np.isnan(t.loc[("8-8-8", "hinge"), "log_prior"]) and t.loc[("8-8-8", "hinge"), "runs"] == 3


def test_prior_bias_predicts_the_prior():
    import torch

    prior = np.array([0.1, 0.2, 0.7])
    np.testing.assert_allclose(torch.sigmoid(torch.as_tensor(prior_bias("sigmoid", prior))).numpy(), prior)
    np.testing.assert_allclose(torch.softmax(torch.as_tensor(prior_bias("softmax", prior)), 0).numpy(), prior)
    assert prior_bias("none", prior) is None
