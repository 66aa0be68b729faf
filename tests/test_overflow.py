"""The overflow probe against IEEE-754 arithmetic (torch.finfo)."""
import math

import numpy as np
import pytest
import torch

from experiments.overflow.amp import run_amp_training
from experiments.config import validate_config
from experiments.overflow.probe import AXES, DTYPES, FAMILY, IMPLEMENTATIONS, exact_loss, log_grid, probe_batch, probe_logits, run_probes
from experiments.overflow.thresholds import predicted_thresholds, predictions, smallest_subnormal, thresholds_table

FUSED = ["log_softmax_nll", "cross_entropy", "logsumexp_manual", "bce_logits"]


def test_registries_equal_schema_enums(schema):
    """The probe's implementations are listed torch-free for the config check (a registered loss may be
    named too), and are the schema's default."""
    from experiments.config import PROBE_IMPLEMENTATIONS

    ov = schema["properties"]["overflow"]["properties"]
    assert list(ov["implementations"]["default"]) == list(IMPLEMENTATIONS) == list(PROBE_IMPLEMENTATIONS)
    assert list(ov["dtypes"]["items"]["enum"]) == list(DTYPES)
    assert list(ov["axes"]["items"]["enum"]) == list(AXES)


def test_smallest_subnormal_matches_ieee():
    assert smallest_subnormal(torch.float16) == 2.0 ** -24
    assert smallest_subnormal(torch.bfloat16) == 2.0 ** -133
    assert smallest_subnormal(torch.float32) == 2.0 ** -149
    assert smallest_subnormal(torch.float64) == 2.0 ** -1074


@pytest.mark.parametrize("dtype,grad_at,loss_at", [
    # two classes on the gap axis: p_y = 1 / (1 + e^v)
    ("float16", math.log(65504 - 1), math.log(2 ** 25 - 1)),          # 1/p > X; p < 2^-25
    ("bfloat16", math.log(torch.finfo(torch.bfloat16).max), 134 * math.log(2)),
    ("float32", math.log(torch.finfo(torch.float32).max), 150 * math.log(2)),
    ("float64", math.log(torch.finfo(torch.float64).max), 1075 * math.log(2)),
])
def test_naive_predictions_by_hand(dtype, grad_at, loss_at):
    rules = {p.rule: p.threshold for p in predictions("log_softmax_naive", dtype, 2, "gap")}
    assert rules["grad_overflow"] == pytest.approx(grad_at, rel=1e-6)
    assert rules["p_underflow"] == pytest.approx(loss_at, rel=1e-6)


def test_sum_overflow_prediction_by_hand():
    """softmax_naive, max-logit axis, 2 classes: e^v + e^(v-1) > 65520 in float16."""
    (first, *_) = predictions("softmax_naive", "float16", 2, "max_logit")
    assert first.rule == "sum_overflow"
    assert first.threshold == pytest.approx(math.log(65504 * (1 + 2 ** -12)) - math.log1p(math.exp(-1)), rel=1e-6)


def test_fused_paths_are_predicted_never_to_break_in_range():
    for impl in FUSED + ["mse_softmax"]:
        for dtype in ["float32", "float64"]:
            for axis in ["gap", "max_logit"]:
                assert predictions(impl, dtype, 10, axis) == [], (impl, dtype, axis)


@pytest.fixture(scope="module")
def probes():
    cfg = validate_config({"overflow": {"num_classes": [2, 10, 1000], "points_per_decade": 16}})
    return run_probes(cfg, predict=predicted_thresholds)


@pytest.fixture(scope="module")
def thresholds(probes):
    return thresholds_table(probes)


def test_every_setting_has_a_row(thresholds):
    # 8 implementations x (4 dtypes x (3 classes x 2 axes + 1 lecture)) x autocast on the 2 half formats
    assert len(thresholds) == 8 * 7 * (4 + 2)
    assert thresholds["supported"].all()


def test_measured_thresholds_agree_with_ieee_predictions(thresholds):
    """The measured break lies where torch.finfo says, within the grid's resolution and the rule's tolerance."""
    bad = thresholds[~thresholds["agrees"].astype(bool)]
    assert bad.empty, bad.to_string()
    # and the comparison is not vacuous: on the gap axis every naive setting breaks, at a predicted point
    naive = thresholds[thresholds["implementation"].isin(["softmax_naive", "log_softmax_naive"])
                       & (thresholds["axis"] == "gap")]
    assert len(naive) == 2 * 3 * 6
    assert naive["measured_threshold"].notna().all() and naive["predicted_threshold"].notna().all()


def test_a_wrong_prediction_is_caught(probes):
    """The agreement check can fail: predictions moved to 3x their value disagree wherever a naive path breaks."""
    import dataclasses

    def wrong(*args, **kwargs):
        return [dataclasses.replace(p, threshold=3 * p.threshold) for p in predictions(*args, **kwargs)]
    naive = probes[probes["implementation"].isin(["softmax_naive", "log_softmax_naive"]) & (probes["axis"] == "gap")]
    right, bad = thresholds_table(naive), thresholds_table(naive, predict=wrong)
    assert right["agrees"].all()
    assert not bad["agrees"].any()


def test_probes_sample_densely_around_the_predictions_passed_in():
    cfg = validate_config({"overflow": {"implementations": ["log_softmax_naive"], "dtypes": ["float16"],
                                        "num_classes": [10], "axes": ["gap"], "autocast": [False]}})
    plain, dense = run_probes(cfg), run_probes(cfg, predict=predicted_thresholds)
    t = predicted_thresholds("log_softmax_naive", "float16", 10, "gap")[0]
    near = lambda df: ((df["logit_gap"] - t).abs() <= 0.0501 * t).sum()   # noqa: E731
    assert near(dense) >= 41 > near(plain)


def test_predictions_are_sharp(thresholds):
    """A tolerance is a small fraction of the threshold: agreement means something."""
    t = thresholds.dropna(subset=["predicted_threshold"])
    assert (t["tolerance"] / t["predicted_threshold"]).max() < 0.1
    assert (t["tolerance"] / t["predicted_threshold"]).median() < 0.01


def test_fused_never_break_in_float32_and_float64(probes):
    sel = probes["implementation"].isin(FUSED) & probes["dtype"].isin(["float32", "float64"])
    assert (probes.loc[sel, "loss_finite"] & probes.loc[sel, "grad_finite"]).all()
    # and stay within a few ulps: the error of lse(z) - z_y is eps * max|z| at most, relative to the loss
    # (on the gap and max-logit axes max|z| is v itself)
    near = probes[sel & (probes["axis"] != "lecture")]
    eps = near["dtype"].map({"float32": 2.0 ** -23, "float64": 2.0 ** -52})
    bound = 4 * eps * (1 + near["logit_gap"] / near["reference_loss"])
    assert (near["relative_error"] <= bound).all(), near[near["relative_error"] > bound].head().to_string()


def test_bce_naive_is_finite_but_wrong(probes):
    """F.binary_cross_entropy clamps log at -100: beyond the underflow, the loss is finite and wrong."""
    sel = ((probes["implementation"] == "bce_naive") & (probes["dtype"] == "float32") & (probes["axis"] == "gap")
           & (probes["num_classes"] == 2))
    far = probes[sel & (probes["logit_gap"] > 400)]
    assert far["loss_finite"].all()
    assert np.allclose(far["loss"], (100 + math.log(2)) / 2, rtol=1e-6)
    assert (far["relative_error"] > 0.7).all()


def test_exact_loss_closed_forms():
    z, y = probe_logits("gap", np.array([3.0]), 4)
    assert float(exact_loss(z, y, "ce")[0]) == pytest.approx(3 + math.log(3 + math.exp(-3)), rel=1e-15)
    z, y = probe_logits("max_logit", np.array([1e4]), 1000)
    assert float(exact_loss(z, y, "ce")[0]) == pytest.approx(1 + math.log(999 + math.exp(-1)), rel=1e-12)
    z, y = probe_logits("gap", np.array([50.0]), 2)
    softplus = lambda x: math.log1p(math.exp(-abs(x))) + max(x, 0)  # noqa: E731
    assert float(exact_loss(z, y, "bce")[0]) == pytest.approx((softplus(50.0) + math.log(2)) / 2, rel=1e-12)


def test_probe_never_raises_and_flags_nonfinite():
    z, y = probe_logits("gap", np.array([1.0, 50.0]), 10)
    out = probe_batch("log_softmax_naive", "float16", z, y)
    assert np.isfinite(out["loss"][0]) and not np.isfinite(out["loss"][1])
    assert out["grad_finite"].tolist() == [True, False]
    assert FAMILY["bce_naive"] == "bce"


def test_autocast_upcasts_the_fused_loss_on_cpu():
    z, y = probe_logits("gap", np.array([1.0]), 10)
    assert probe_batch("cross_entropy", "bfloat16", z, y, autocast=True)["compute_dtype"] == "float32"
    assert probe_batch("log_softmax_naive", "bfloat16", z, y, autocast=True)["compute_dtype"] == "bfloat16"


def test_log_grid_endpoints():
    g = log_grid(0.1, 1e4, 16)
    assert g[0] == pytest.approx(0.1) and g[-1] == pytest.approx(1e4) and len(g) == 81


@pytest.mark.slow
def test_amp_training_records_where_it_breaks():
    cfg = validate_config({"overflow": {"amp_training": {"dtypes": ["float32", "float16"], "logit_scales": [1.0, 10.0],
                                                         "optimizers": ["sgd"], "seeds": [0], "steps": 20}}})
    t = run_amp_training(cfg).set_index(["dtype", "implementation", "grad_scaler", "logit_scale"])
    assert t.loc[("float16", "log_softmax_naive", False, 1.0), "status"] == "ok"
    naive_big = t.loc[("float16", "log_softmax_naive", False, 10.0)]
    assert naive_big["status"] == "nonfinite" and naive_big["first_nonfinite_step"] == 0
    assert t.loc[("float16", "log_softmax_naive", True, 10.0), "skipped_steps"] > 0
    # the control is the same implementation at the same scale and rate without autocast: the failure
    # above is the half format's (float16 p_y underflows at a logit gap of about 17, float32's at 104)
    assert t.loc[("float32", "log_softmax_naive", False, 10.0), "status"] == "ok"
    assert t.loc[("float16", "cross_entropy", False, 10.0), "status"] == "ok"
    # SGD's rate follows the scale as lr / s^2
    assert t.loc[("float32", "log_softmax_naive", False, 10.0), "lr"] == pytest.approx(0.1 / 10.0 ** 2)


def test_amp_losses_receive_the_autocast_dtype():
    """Under autocast the logits reach the loss in the half format (a float32 bias added after the
    product would promote them back to float32); the naive path computes p in it, F.cross_entropy in
    float32 (autocast's own policy); the float32 control gets float32."""
    cfg = validate_config({"overflow": {"amp_training": {"dtypes": ["float32", "float16", "bfloat16"],
                                                         "logit_scales": [1.0], "optimizers": ["adam"],
                                                         "seeds": [0], "steps": 1}}})
    t = run_amp_training(cfg)
    assert (t["loss_input_dtype"] == t["dtype"]).all() and len(t) == 2 + 4 + 2
    naive = t[t["implementation"] == "log_softmax_naive"]
    assert (naive["loss_compute_dtype"] == naive["dtype"]).all()
    assert set(t.loc[t["implementation"] == "cross_entropy", "loss_compute_dtype"]) == {"float32"}


def test_amp_training_has_seeds_and_both_optimisers():
    cfg = validate_config({"overflow": {"amp_training": {"dtypes": ["bfloat16"], "logit_scales": [10.0],
                                                         "seeds": [0, 1, 2], "steps": 3}}})
    t = run_amp_training(cfg)
    assert len(t) == 2 * 2 * 3 and sorted(t["seed"].unique()) == [0, 1, 2]
    assert t.groupby("optimizer")["lr"].first().to_dict() == pytest.approx({"sgd": 0.1 / 100, "adam": 0.001 / 10})
    # different seeds start from different weights
    sgd = t[(t["optimizer"] == "sgd") & (t["implementation"] == "cross_entropy")]
    assert sgd["final_train_loss"].nunique() == 3


def test_amp_training_with_a_rate_past_float32_is_a_row_not_a_crash():
    """torch refuses p.add_(g, alpha=-lr) when lr does not fit float32 (found by the generated-config test)."""
    cfg = validate_config({"overflow": {"amp_training": {"dtypes": ["float16", "bfloat16"], "logit_scales": [1.0],
                                                         "optimizers": ["sgd"], "seeds": [0],
                                                         "steps": 3, "lr": {"sgd": 1e300}}}})
    t = run_amp_training(cfg)
    assert len(t) == 6 and set(t["status"]) == {"nonfinite"} and (t["first_nonfinite_step"] == 0).all()


def test_amp_training_at_a_scale_whose_square_underflows_is_a_row():
    """lr / s^2 with s = 5e-324 divides by zero (found by the generated-config test): an infinite rate, and
    a run that breaks at its first update is a row with its status."""
    cfg = validate_config({"overflow": {"amp_training": {"dtypes": ["float32"], "logit_scales": [5e-324],
                                                         "seeds": [0], "steps": 2}}})
    t = run_amp_training(cfg)
    assert len(t) == 4 and np.isinf(t["lr"]).all() and set(t["status"]) == {"nonfinite"}


def test_amp_training_at_a_scale_whose_square_overflows_is_a_row():
    """lr / s^2 with s = 1.6e308: Python's float power raises OverflowError (found by the generated-config
    test); the rate is 0 and the run is a row with its status."""
    cfg = validate_config({"overflow": {"amp_training": {"dtypes": ["float32"], "logit_scales": [1.6e308],
                                                         "optimizers": ["sgd"], "seeds": [0], "steps": 2}}})
    t = run_amp_training(cfg)
    assert len(t) == 2 and (t["lr"] == 0).all() and set(t["status"]) <= {"ok", "nonfinite"}
