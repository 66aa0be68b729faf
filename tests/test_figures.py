"""Figure builders on small hand-made tables: a panel per facet, the data drawn, nothing written."""
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from experiments.report import figures  # noqa: E402
from experiments.convergence.gradients import logit_gradients  # noqa: E402
from experiments.convergence.losses import LOSSES  # noqa: E402

LOSS_LABELS = {n: s.label for n, s in LOSSES.items()}


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
    assert [ax.get_title() for ax in axes[:3]] == ["logit gap", "max logit", "lecture's scale"]
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
                 steps_to_target_median=np.inf if s == 10 else 10.0 * (i + 1), budget_share=np.inf if s == 10 else 0.1 * (i + 1))
            for s in [1, 10] for i, (loss, a) in enumerate(itertools.product(["cross_entropy", "hinge"], ["relu", "tanh"]))]
    fig = figures.steps_heatmap_figure(pd.DataFrame(rows))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("no loss reached the target") for t in texts)  # the all-inf panel says why
    assert np.asarray(fig.axes[0].collections[0].get_array()).size == 4  # the finite panel is a full 2x2 grid


def test_steps_heatmap_draws_only_what_was_trained():
    """A dataset swept at one logit scale gets one panel, not an empty one for a scale it never trained."""
    rows = [dict(dataset=ds, logit_scale=s, loss="cross_entropy", activation="relu", steps_to_target_median=10.0,
                 budget_share=0.5) for ds, s in [("d1", 1.0), ("d1", 10.0), ("d2", 1.0)]]
    fig = figures.steps_heatmap_figure(pd.DataFrame(rows))
    titles = [ax.get_title() for ax in visible_axes(fig)]
    assert titles == ["d1, logit scale 1", "d1, logit scale 10", "d2, logit scale 1"]


def test_steps_heatmap_colours_by_the_share_of_each_datasets_budget():
    """d1's 25 steps of 50 and d2's 50 of 100 are both half the budget: one colour and the label 50, whatever
    the steps."""
    rows = [dict(dataset=ds, logit_scale=1.0, loss="cross_entropy", activation="relu", steps_to_target_median=st,
                 budget_share=st / b) for ds, st, b in [("d1", 25.0, 50), ("d2", 50.0, 100)]]
    axes = visible_axes(figures.steps_heatmap_figure(pd.DataFrame(rows)))
    cells = [ax.collections[0] for ax in axes[:2]]
    assert [float(np.asarray(c.get_array()).ravel()[0]) for c in cells] == [50.0, 50.0]
    assert [tuple(c.get_facecolors()[0]) for c in cells][0] == tuple(cells[1].get_facecolors()[0])
    assert [ax.texts[0].get_text() for ax in axes[:2]] == ["50", "50"]


def test_an_empty_panel_says_why():
    c = curves()
    c = c[~((c["dataset"] == "d2") & (c["activation"] == "tanh"))]
    fig = figures.convergence_figure(c)
    texts = [t.get_text() for ax in visible_axes(fig) for t in ax.texts]
    assert "no tanh run on d2\nin this setting" in texts


def _claims():
    """Speed and test claims as the claims table holds them: per dataset and pooled ("all")."""
    rows = []
    for fam, opt, kind in [("speed_ratio.sgd", "sgd", "ratio"), ("speed_ratio.adam", "adam", "ratio"),
                           ("tuned_for_acc.test_acc_mean", None, "difference"), ("tuned_for_acc.test_ece", None, "difference")]:
        for loss, est in [("mse_sigmoid", 2.0 if kind == "ratio" else -0.02), ("hinge", 1.1 if kind == "ratio" else 0.01)]:
            for ds in ["d1", "d2", "all"]:
                hi = np.inf if (loss, ds, opt) == ("mse_sigmoid", "all", "adam") else est * 1.2 + 0.01
                rows.append(dict(family=fam, optimizer=opt, subject=loss, dataset=ds, estimate=est,
                                 ci_low=est * 0.8 - 0.01, ci_high=hi))
    return pd.DataFrame(rows)


def test_forest_figures_draw_every_pooled_interval_and_dataset_estimate():
    reach = pd.DataFrame([dict(family="reach", optimizer=o, subject=l, dataset="all", estimate=0.6)
                          for o in ("sgd", "adam") for l in ("mse_sigmoid", "hinge", "cross_entropy")])
    fig = figures.speed_forest_figure(pd.concat([_claims(), reach], ignore_index=True))
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["SGD", "Adam", "reached (%)"] and axes[0].get_xscale() == "log"
    assert len([line for line in axes[2].get_lines() if len(line.get_xdata()) == 3]) == 2   # a mark per loss, per optimiser
    axes = axes[:2]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == [LOSS_LABELS[k] for k in ("cross_entropy", "mse_sigmoid", "hinge")]
    # per panel: 2 losses x (interval + pooled marker + 2 dataset markers) + the line of no effect
    for ax in axes:
        xs = sorted(float(np.asarray(line.get_xdata())[0]) for line in ax.get_lines() if len(line.get_xdata()) == 1)
        assert len(xs) == 2 * 3 and 2.0 in xs and 1.1 in xs
    assert len(axes[1].texts) == 1        # the unbounded interval ends in an arrow
    fig = figures.test_forest_figure(_claims())
    xs = {float(np.asarray(line.get_xdata())[0]) for line in visible_axes(fig)[0].get_lines() if len(line.get_xdata()) == 1}
    assert {-2.0, 1.0} <= xs              # accuracy differences drawn in percentage points (the mean over settings)


def test_a_lower_bound_is_drawn_as_one_and_the_key_says_so():
    """A pooled ratio whose misses bind (claims ``lower_bound``) is drawn as a triangle, "at least", and the
    key names it; an exact estimate stays a circle (a referee read 2.35x drawn as exact)."""
    c = _claims().assign(lower_bound=False)
    c.loc[(c["subject"] == "mse_sigmoid") & (c["dataset"] == "all") & (c["optimizer"] == "sgd"), "lower_bound"] = True
    fig = figures.speed_forest_figure(c)
    sgd = visible_axes(fig)[0]
    pooled = {float(np.asarray(line.get_xdata())[0]): line.get_marker() for line in sgd.get_lines()
              if len(line.get_xdata()) == 1 and line.get_markersize() == 8}
    assert pooled == {2.0: ">", 1.1: "o"}, pooled
    assert "at least (misses bind)" in [t.get_text() for t in fig.legends[0].get_texts()]
    fig = figures.speed_forest_figure(c.assign(lower_bound=False))
    assert "at least (misses bind)" not in [t.get_text() for t in fig.legends[0].get_texts()]


def test_forest_figures_draw_claims_without_intervals_or_finite_estimates():
    """Too few seeds give no interval (NaN), and a loss that missed everywhere an estimate of ∞: the figure
    still draws (the smoke config has both)."""
    c = _claims().assign(ci_low=np.nan, ci_high=np.nan)
    c.loc[c["subject"] == "mse_sigmoid", "estimate"] = np.inf
    for fig in (figures.speed_forest_figure(c), figures.speed_forest_figure(c.assign(estimate=np.inf)),
                figures.test_forest_figure(c.assign(estimate=np.nan))):
        assert all(np.isfinite(ax.get_xlim()).all() for ax in visible_axes(fig))


def test_forest_figure_of_one_dataset_draws_its_interval_and_a_zero_ratio_does_not_break_the_axis():
    c = _claims()
    one = c[c["dataset"] == "d1"].assign(ci_low=1.5, ci_high=2.5)
    one.loc[one["subject"] == "hinge", ["estimate", "ci_low"]] = 0.0
    fig = figures.speed_forest_figure(one)
    ax = visible_axes(fig)[0]
    spans = [line for line in ax.get_lines() if len(line.get_xdata()) == 2 and line.get_linewidth() > 2]
    assert spans and all(x > 0 for x in ax.get_xlim())


def test_overflow_threshold_figure_marks_breaks_and_what_stayed_finite():
    t = pd.DataFrame([dict(implementation=i, dtype=d, axis="gap", measured_threshold=v)
                      for i, d, v in [("naive", "float16", 8.9), ("naive", "float32", 86.6), ("fused", "float16", np.nan),
                                      ("fused", "float32", np.nan)]])
    ax = visible_axes(figures.overflow_threshold_figure(t, 1e4))[0]
    xs = sorted(float(np.asarray(line.get_xdata())[0]) for line in ax.get_lines() if len(line.get_xdata()) == 1)
    assert xs == [8.9, 86.6, 1e4, 1e4]


def _every_figure():
    from experiments.convergence.gradients import logit_gradients

    profile = pd.DataFrame([dict(loss=loss, tau=t, fraction_solved=0.5, ci_low=0.4, ci_high=0.6)
                            for loss in LOSS_LABELS for t in (1.0, 2.0)])
    heat = pd.DataFrame([dict(dataset=ds, logit_scale=s, loss=loss, activation=a, steps_to_target_median=10.0,
                              budget_share=0.2)
                         for ds in ["digits", "gaussian_mixture", "mnist1d"] for s in [1.0, 10.0]
                         for loss in LOSS_LABELS for a in ["sigmoid", "tanh", "relu"]])
    c = pd.concat([curves().assign(loss=loss) for loss in LOSS_LABELS])
    return {"convergence": figures.convergence_figure(c), "profile": figures.profile_figure(profile),
            "gradient": figures.gradient_figure(logit_gradients()), "heatmap": figures.steps_heatmap_figure(heat),
            "speed": figures.speed_forest_figure(_claims()), "test": figures.test_forest_figure(_claims()),
            "overflow": figures.overflow_figure(probes()), "relative_error": figures.relative_error_figure(probes()),
            "stuck": figures.stuck_figure(_stuck_curves())}


def _stuck_curves():
    c = pd.concat([curves().assign(loss=loss) for loss in LOSS_LABELS])
    c = pd.concat([c.assign(optimizer=o) for o in ("sgd", "adam")], ignore_index=True)
    raw = c["loss"].isin(["mse_logits", "hinge", "squared_hinge"])                  # no output non-linearity
    return c.assign(stuck_wrong_frac=np.where(raw, np.nan, 0.3 / (c["step"] + 1)))


def test_stuck_figure_has_a_panel_per_dataset_and_optimiser_and_leaves_out_raw_logit_losses():
    fig = figures.stuck_figure(_stuck_curves())
    axes = visible_axes(fig)
    assert len(axes) == 4 and {ax.get_xscale() for ax in axes} == {"log"}
    labels = {t.get_text() for leg in fig.legends for t in leg.get_texts()}
    assert LOSS_LABELS["mse_sigmoid"] in labels and LOSS_LABELS["hinge"] not in labels
    assert max(line.get_ydata().max() for line in axes[0].get_lines() if len(line.get_ydata())) == pytest.approx(30)


@pytest.mark.slow
def test_every_figure_is_drawn_at_the_width_it_is_shown_with_text_of_at_least_10_points():
    """The report's text column is 800 px; a figure drawn wider is shrunk, and its text with it. Saved as
    the notebook's inline backend saves it (tight bounding box, the figure's dpi), every figure is at most
    800 px wide, and no text in it is under figures.FONT_PT points."""
    import io
    import struct

    for name, fig in _every_figure().items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        width = struct.unpack(">I", buf.getvalue()[16:20])[0]      # the PNG header's IHDR width
        assert fig.dpi == figures.DPI and width <= 800, (name, width)
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]
        assert sizes and min(sizes) >= figures.FONT_PT, (name, min(sizes))


@pytest.mark.slow
def test_one_colour_per_loss_in_every_figure():
    """Every line or marker drawn for a loss has the registry's colour (cross-entropy is the same blue in
    every figure), and the registry gives each loss its own colour."""
    assert len(set(figures.LOSS_COLORS.values())) == len(figures.LOSS_COLORS) and set(figures.LOSS_COLORS) == set(LOSS_LABELS)
    by_label = {LOSS_LABELS[k]: to_rgb(c) for k, c in figures.LOSS_COLORS.items()}
    for name, fig in _every_figure().items():
        if name in ("overflow", "relative_error", "heatmap"):
            continue   # no loss in them
        for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                if text.get_text() in by_label:
                    colour = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
                    assert to_rgb(colour) == by_label[text.get_text()], (name, text.get_text())


@pytest.mark.parametrize("lo,hi", [(0.8, 1.9), (0.95, 1.08), (0.4, 12.0), (1.01, 1.02)])
def test_a_ratio_axis_has_at_least_two_labelled_ticks_inside(lo, hi):
    ticks = figures.ratio_ticks(lo, hi)
    assert len(ticks) >= 2 and all(lo <= t <= hi for t in ticks) and len(ticks) <= 7


@pytest.mark.parametrize("lo,hi", [(0.0012, 0.0017), (4.7e-7, 4.5), (1e-3, 0.3), (1e-4, 2e-4)])
def test_every_log_axis_has_labelled_ticks(lo, hi):
    """A panel whose values span less than a factor 2, or seven decades (the sigmoid panel of the depth
    figure had no labels), gets at least two labelled ticks inside."""
    fig, ax = plt.subplots()
    ax.plot([0, 1], [lo, hi])
    ax.set_yscale("log")
    figures._plain_log_ticks(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text() and
              ax.get_ylim()[0] <= t.get_position()[1] <= ax.get_ylim()[1]]
    assert len(labels) >= 2, labels


def test_accuracy_distribution_figure_a_point_per_setting_and_the_mean():
    settings = pd.DataFrame([dict(dataset=ds, loss=l, activation=a, difference=d, broken=0.0, seeds=10)
                             for ds in ("d1", "d2") for l, d in (("mse_sigmoid", -0.1), ("hinge", 0.0))
                             for a in ("sigmoid", "relu") for _ in range(3)])
    claims = pd.DataFrame([dict(claim=f"tuned_for_acc.test_acc_mean.{l}_vs_cross_entropy", subject=l, dataset=ds,
                                estimate=e) for ds in ("d1", "d2") for l, e in (("mse_sigmoid", -0.1), ("hinge", 0.0))])
    fig = figures.accuracy_distribution_figure(settings, claims)
    axes = visible_axes(fig)
    assert len(axes) == 2 and sum(len(c.get_offsets()) for c in axes[0].collections) == 12
    bars = [line for line in axes[0].get_lines() if line.get_color() == "black"]
    assert sorted(float(b.get_xdata()[0]) for b in bars) == [-10.0, 0.0]


def test_a_loss_of_the_users_gets_a_colour_of_its_own_and_a_place_after_the_built_ins():
    from experiments.report import names

    saved = dict(names.LOSS_LABELS)
    try:
        names.LOSS_LABELS.update({"poly1": "Poly-1", "my_ce": "my CE"})
        assert figures.loss_order({"poly1", "cross_entropy", "my_ce"}) == ["cross_entropy", "poly1", "my_ce"]
        colours = {figures.loss_colour(k) for k in names.LOSS_LABELS}
        assert len(colours) == len(names.LOSS_LABELS)                  # every loss its own
        assert figures.loss_colour("poly1") == figures.loss_colour("poly1") != figures.loss_colour("my_ce")
        assert figures.loss_palette(["Poly-1"]) == {"Poly-1": figures.loss_colour("poly1")}
    finally:
        names.LOSS_LABELS.clear()
        names.LOSS_LABELS.update(saved)
