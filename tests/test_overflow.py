"""The overflow probe against IEEE-754 arithmetic (torch.finfo)."""
import math

import numpy as np
import pytest
import torch

from experiments.config import validate_config
from experiments.overflow import DTYPES, IMPLEMENTATIONS, exact_loss, gap_grid, probe, run_probes
from experiments.tables import first_break_table


def smallest_subnormal(dtype: torch.dtype) -> float:
    """2^(e_min) * 2^(1-p): the smallest normal times machine epsilon."""
    fi = torch.finfo(dtype)
    return fi.smallest_normal * fi.eps


def predicted_naive_loss_break(dtype: torch.dtype, c: int) -> float:
    """softmax(z)_y = 1 / (e^gap + C - 1) rounds to 0 below half the smallest subnormal s:
    gap = ln(2/s - (C-1)), computed in logs so float64's 2/s does not overflow."""
    fi = torch.finfo(dtype)
    half_sub = smallest_subnormal(dtype) / 2  # underflows to 0.0 for float64: the C-1 term vanishes
    return math.log(2) - math.log(fi.smallest_normal) - math.log(fi.eps) + math.log1p(-(c - 1) * half_sub)


def predicted_naive_grad_break(dtype: torch.dtype, c: int) -> float:
    """d(-log p)/dp = -1/p overflows once 1/p exceeds the largest finite value."""
    return math.log(torch.finfo(dtype).max - (c - 1))


def test_registry_equals_schema_enum(schema):
    enum = schema["properties"]["overflow"]["properties"]["implementations"]["items"]["enum"]
    assert list(enum) == list(IMPLEMENTATIONS)
    assert list(schema["properties"]["overflow"]["properties"]["dtypes"]["items"]["enum"]) == list(DTYPES)


def test_smallest_subnormal_matches_ieee():
    assert smallest_subnormal(torch.float16) == 2.0 ** -24
    assert smallest_subnormal(torch.bfloat16) == 2.0 ** -133
    assert smallest_subnormal(torch.float32) == 2.0 ** -149
    assert smallest_subnormal(torch.float64) == 2.0 ** -1074


@pytest.fixture(scope="module")
def fine():
    cfg = validate_config({"overflow": {"num_classes": [10], "gap_min": 1.0, "gap_max": 2000.0,
                                        "points_per_decade": 200}})
    return run_probes(cfg)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_naive_breaks_where_ieee_predicts(fine, dtype):
    """Measured first non-finite gap is the first grid point past the predicted threshold."""
    grid = np.sort(fine["logit_gap"].unique())
    step = grid[1] / grid[0]  # geometric grid ratio
    t = first_break_table(fine).set_index(["implementation", "dtype"])
    measured_loss = t.loc[("log_softmax_naive", dtype), "first_nonfinite_loss_gap"]
    measured_any = t.loc[("log_softmax_naive", dtype), "first_nonfinite_gap"]
    pred_loss = predicted_naive_loss_break(DTYPES[dtype], 10)
    pred_grad = predicted_naive_grad_break(DTYPES[dtype], 10)
    assert pred_loss <= measured_loss < pred_loss * step, (dtype, pred_loss, measured_loss)
    pred_any = min(pred_loss, pred_grad)
    assert pred_any <= measured_any < pred_any * step, (dtype, pred_any, measured_any)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_fused_cross_entropy_never_breaks(fine, dtype):
    rows = fine[(fine.implementation == "cross_entropy") & (fine.dtype == dtype)]
    assert rows["loss_finite"].all() and rows["grad_finite"].all()
    # and its answer stays within a few units of the dtype's rounding error
    assert rows["relative_error"].max() < 4 * torch.finfo(DTYPES[dtype]).eps


def test_exact_loss_closed_form():
    z = torch.tensor([[3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    ref = float(torch.logsumexp(z, -1) - z[0, 1])
    assert exact_loss(3.0, 4) == pytest.approx(ref, rel=1e-15)
    assert exact_loss(1e4, 1000) == pytest.approx(1e4, rel=1e-15)  # no overflow at huge gaps


def test_probe_records_nonfinite_without_raising():
    row = probe("log_softmax_naive", "float16", 10, 50.0)
    assert row["loss_finite"] is False and row["grad_finite"] is False
    assert row["relative_error"] == math.inf


def test_gap_grid_endpoints():
    g = gap_grid(0.1, 1e4, 16)
    assert g[0] == pytest.approx(0.1) and g[-1] == pytest.approx(1e4) and len(g) == 81
