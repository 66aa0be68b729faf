"""Figure builders on small hand-made tables: a panel per facet, the data drawn, nothing written."""
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from experiments.overflow.probe import AXES  # noqa: E402
from experiments.report import figures  # noqa: E402
from experiments.convergence.gradients import logit_gradients  # noqa: E402
from experiments.convergence.losses import LOSS_LABELS  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def curves():
    rows = []
    for ds, act, loss, seed, step in itertools.product(["d1", "d2"], ["relu", "tanh"], ["cross_entropy", "mse_sigmoid"],
                                                        [0, 1], [0, 10, 20]):
        rows.append(dict(dataset=ds, activation=act, loss=loss, seed=seed, step=step,
                         val_acc=0.1 + step / 30 + seed / 100, grad_norm_logits=1.0 / (step + 1)))
    return pd.DataFrame(rows)


def probes():
    rows = []
    for impl, axis, dtype, v in itertools.product(["a", "b"], ["gap", "max_logit", "lecture"], ["float16", "float32"],
                                                  np.geomspace(0.1, 1e4, 9)):
        finite = v < (10 if dtype == "float16" else 100)
        rows.append(dict(implementation=impl, axis=axis, dtype=dtype, logit_gap=v, loss_finite=finite or impl == "b",
                         grad_finite=finite, relative_error=1e-7 if finite else np.nan))
    return pd.DataFrame(rows)


def test_convergence_figure_has_a_panel_per_dataset_and_activation():
    fig = figures.convergence_figure(curves())
    assert len(visible_axes(fig)) == 4
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert labels == {LOSS_LABELS["cross_entropy"], LOSS_LABELS["mse_sigmoid"]}


def test_overflow_figure_maps_every_axis_and_implementation():
    fig = figures.overflow_figure(probes())
    axes = visible_axes(fig)
    assert len(axes) == 2 * 3  # implementations x axes
    assert [ax.get_title() for ax in axes[:3]] == [AXES[a] for a in ["gap", "max_logit", "lecture"]]
    # every probe is drawn once, in its outcome's colour
    drawn = sum(len(c.get_offsets()) for ax in axes for c in ax.collections)
    assert drawn == len(probes())
    assert {t.get_text() for t in fig.legends[0].get_texts()} == set(figures.OUTCOME_COLOURS)


def test_relative_error_figure_leaves_out_non_finite_points():
    p = probes()
    fig = figures.relative_error_figure(p)
    assert len(visible_axes(fig)) == 2  # one per dtype
    points = sum(len(line.get_xdata()) for ax in visible_axes(fig) for line in ax.get_lines())
    assert 0 < points <= int(p["loss_finite"].sum())


def test_gradient_and_grad_norm_figures():
    fig = figures.gradient_figure(logit_gradients())
    assert len(fig.axes[0].get_lines()) >= len(LOSS_LABELS)
    fig = figures.grad_norm_figure(curves())
    assert len(visible_axes(fig)) == 2 and visible_axes(fig)[0].get_yscale() == "log"


def test_profile_figure_draws_one_step_curve_and_one_band_per_loss():
    profile = pd.DataFrame([dict(loss=loss, tau=t, fraction_solved=f, problems=4, ci_low=f / 2, ci_high=1.0)
                            for loss, f0 in [("cross_entropy", 0.5), ("hinge", 0.25)] for t, f in [(1.0, f0), (2.0, 1.0)]])
    fig = figures.profile_figure(profile)
    lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata())]
    assert len(lines) == 2
    bands = [c for c in fig.axes[0].collections if c.get_paths()]
    assert len(bands) == 2
    # each band takes its loss's colour
    assert {tuple(b.get_facecolor()[0][:3]) for b in bands} == {to_rgb(line.get_color()) for line in lines}


def test_steps_heatmap_blank_where_target_never_reached():
    rows = [dict(dataset="d", logit_scale=s, loss=loss, activation=a,
                 steps_to_target_median=np.inf if s == 10 else 10.0 * (i + 1))
            for s in [1, 10] for i, (loss, a) in enumerate(itertools.product(["cross_entropy", "hinge"], ["relu", "tanh"]))]
    fig = figures.steps_heatmap_figure(pd.DataFrame(rows))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "target never reached" in texts  # the all-inf panel
    assert np.asarray(fig.axes[0].collections[0].get_array()).size == 4  # the finite panel is a full 2x2 grid
