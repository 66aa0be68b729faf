"""The tune stage's rate search on a synthetic objective: it extends past an edge until the best rate is
interior, stops at its bounds and extension limit, and breaks ties as stated."""
import math

import numpy as np
import pandas as pd
import pytest

from experiments import columns
from experiments.config import validate_config
from experiments.sweep import groups_from_config, hidden_name
from experiments.convergence.tuning import choose, chosen_rates, score_rates, search

GRID = [0.01, 0.0316, 0.1, 0.316, 1.0]


def config(**search_cfg):
    return validate_config({"convergence": {
        "datasets": ["digits"], "losses": ["cross_entropy"], "activations": ["relu", "tanh"],
        "logit_scales": [1.0], "learn_logit_scale": [False], "optimizers": ["sgd"],
        "learning_rates": {"sgd": GRID}, "tuning_seeds": [100, 101], "eval_seeds": [0],
        "lr_search": {"max_extensions": 3, "bounds": {"sgd": [1e-4, 100.0]}, **search_cfg}}})


def synthetic(optimum: dict[str, float], trained: list):
    """A stand-in for training: steps to target grow with the squared distance of log10(rate) from the
    activation's optimum; every seed agrees. Records what it was asked to train."""
    def train(group):
        rows = []
        for st in group.stacks:
            for r in st.runs:
                steps = round(100 * (1 + (math.log10(r.lr) - math.log10(optimum[st.activation])) ** 2))
                rows.append(dict(dataset=group.dataset, loss=group.loss, activation=st.activation,
                                 hidden=hidden_name(st.hidden), optimizer=st.optimizer, learn_scale=st.learn_scale,
                                 logit_scale=r.logit_scale, lr=r.lr, seed=r.seed, steps_to_target=steps,
                                 final_val_acc=0.9, status="ok"))
                trained.append((st.activation, r.lr, r.seed))
        runs = pd.DataFrame(rows).reindex(columns=columns.RUNS)
        runs["steps_to_target"] = runs["steps_to_target"].astype("Int64")
        return runs
    return train


def run_search(cfg, optimum):
    (group,) = groups_from_config(cfg, "tune").values()
    trained = []
    table, runs = search(group, synthetic(optimum, trained), cfg["convergence"]["lr_search"],
                         cfg["convergence"]["tuning_seeds"], cfg["seed"])
    return table, runs, trained


def test_search_extends_past_an_edge_until_the_best_rate_is_interior():
    # relu's optimum (3.0) lies above the grid, tanh's (0.1) inside it
    table, runs, trained = run_search(config(), {"relu": 3.0, "tanh": 0.1})
    chosen = table[table["chosen"]].set_index("activation")
    assert chosen.loc["relu", "lr"] == pytest.approx(3.16227766, rel=1e-6)
    assert chosen.loc["tanh", "lr"] == 0.1
    assert not chosen["at_edge"].any()
    relu = table[table["activation"] == "relu"].set_index("lr")["round"]
    assert relu.loc[1.0] == 0 and relu.loc[3.16227766017] == 1 and relu.loc[10.0] == 2   # one rate per round
    assert len(table[table["activation"] == "tanh"]) == 5                               # never extended
    assert len(trained) == len(runs) == (5 + 5 + 2) * 2                                 # every rate on both seeds
    assert set(runs["seed"]) == {100, 101}
    assert list(table.columns) == columns.TUNING and list(runs.columns) == columns.TUNING_RUNS


def test_search_stops_at_its_bound_and_says_so():
    """The next rate past 1.0 (3.16) would leave the bound 2.0: the optimum of the stated space, not a defect."""
    table, _, _ = run_search(config(bounds={"sgd": [1e-4, 2.0]}), {"relu": 30.0, "tanh": 0.1})
    relu = table[table["activation"] == "relu"]
    chosen = relu.loc[relu["chosen"]].iloc[0]
    assert relu["lr"].max() == 1.0 and chosen["search_outcome"] == "at_bound" and not chosen["at_edge"]
    tanh = table[(table["activation"] == "tanh") & table["chosen"]].iloc[0]
    assert tanh["search_outcome"] == "interior"
    assert (table.loc[~table["chosen"], "search_outcome"] == "").all()


def test_search_stops_after_max_extensions_and_flags_the_edge():
    table, _, _ = run_search(config(max_extensions=2), {"relu": 1e-4, "tanh": 0.1})
    relu = table[table["activation"] == "relu"].sort_values("lr")
    assert len(relu) == 7 and relu["lr"].min() == pytest.approx(0.001)
    chosen = relu.loc[relu["chosen"]].iloc[0]
    assert chosen["at_edge"] and chosen["search_outcome"] == "at_edge"


def test_a_configuration_no_rate_solved_is_its_own_category():
    base = dict(dataset="d", loss="l", activation="a", hidden="8", optimizer="sgd", learn_scale=False, logit_scale=1.0)
    scores = pd.DataFrame([dict(base, lr=lr, median_steps_to_target=np.inf, median_final_val_acc=acc)
                           for lr, acc in [(0.1, 0.3), (0.3, 0.5), (1.0, 0.4)]])
    c = choose(scores, {"sgd": (1e-4, 100.0)}, 3.16)
    assert c.loc[c["chosen"], "search_outcome"].item() == "unsolved" and c.loc[c["chosen"], "lr"].item() == 0.3


def test_choose_breaks_ties_by_accuracy_then_the_smaller_rate():
    base = dict(dataset="d", loss="l", activation="a", hidden="8", optimizer="sgd", learn_scale=False, logit_scale=1.0)
    scores = pd.DataFrame([dict(base, lr=0.1, median_steps_to_target=np.inf, median_final_val_acc=0.5),
                           dict(base, lr=0.3, median_steps_to_target=np.inf, median_final_val_acc=0.7),
                           dict(base, lr=1.0, median_steps_to_target=np.inf, median_final_val_acc=0.7)])
    c = choose(scores)
    assert c.loc[c["chosen"], "lr"].item() == 0.3 and not c.loc[c["chosen"], "at_edge"].item()
    assert chosen_rates(c) == {("a", (8,), "sgd", False, 1.0): 0.3}


def test_score_is_the_median_over_seeds_with_misses_as_infinite():
    base = dict(dataset="d", loss="l", activation="a", hidden="linear", optimizer="sgd", learn_scale=False,
                logit_scale=1.0, lr=0.1)
    runs = pd.DataFrame([dict(base, seed=s, steps_to_target=t, final_val_acc=a)
                         for s, t, a in [(0, 10, 0.9), (1, None, 0.5), (2, None, 0.4)]])
    runs["steps_to_target"] = runs["steps_to_target"].astype("Int64")
    s = score_rates(runs).iloc[0]
    assert s["median_steps_to_target"] == np.inf and s["median_final_val_acc"] == 0.5 and s["tuning_seeds"] == 3
    assert chosen_rates(choose(score_rates(runs))) == {("a", (), "sgd", False, 1.0): 0.1}


def test_the_accuracy_selection_takes_the_best_median_final_validation_accuracy():
    """Two selections from one tuning table, per configuration: speed picks the fewest median steps (0.3
    here), accuracy the highest median final validation accuracy, ties to the smaller rate (0.1 of 0.1 and
    1.0, both 0.8), whatever the row order; another configuration's rows do not leak in."""
    base = dict(dataset="d", loss="l", activation="a", hidden="8", optimizer="sgd", learn_scale=False, logit_scale=1.0)
    other = dict(base, activation="b")
    rows = [dict(base, lr=1.0, median_steps_to_target=40.0, median_final_val_acc=0.8),
            dict(base, lr=0.3, median_steps_to_target=20.0, median_final_val_acc=0.7),
            dict(base, lr=0.1, median_steps_to_target=np.inf, median_final_val_acc=0.8),
            dict(other, lr=0.1, median_steps_to_target=5.0, median_final_val_acc=0.9),
            dict(other, lr=0.3, median_steps_to_target=np.inf, median_final_val_acc=0.95)]
    c = choose(pd.DataFrame(rows))
    assert chosen_rates(c) == {("a", (8,), "sgd", False, 1.0): 0.3, ("b", (8,), "sgd", False, 1.0): 0.1}
    want = {("a", (8,), "sgd", False, 1.0): 0.1, ("b", (8,), "sgd", False, 1.0): 0.3}
    assert chosen_rates(c, "accuracy") == want == chosen_rates(c.iloc[::-1], "accuracy")
    with pytest.raises(ValueError, match="selection"):
        chosen_rates(c, "fastest")


def test_a_rate_that_broke_on_half_its_seeds_is_chosen_last_for_accuracy_and_speed():
    """In a cell where nothing learns, a rate whose runs broke scores chance, which can be above what the
    runs that did not break ended at: it must still not be chosen, by either selection."""
    from experiments.convergence.tuning import chosen_rates
    rows = []
    for lr, status, acc in [(1.0, "diverged", 0.12), (1.0, "diverged", 0.12), (1.0, "ok", 0.12),
                            (0.1, "not_reached", 0.10), (0.1, "not_reached", 0.11), (0.1, "not_reached", 0.10)]:
        rows.append(dict(dataset="d", loss="hinge", activation="sigmoid", hidden="8", optimizer="sgd",
                         learn_scale=False, logit_scale=1.0, lr=lr, seed=len(rows), steps_to_target=None,
                         final_val_acc=acc, status=status))
    runs = pd.DataFrame(rows).reindex(columns=columns.RUNS)
    runs["steps_to_target"] = runs["steps_to_target"].astype("Int64")
    table = choose(score_rates(runs))
    assert table.set_index("lr").loc[1.0, "broken_frac"] == pytest.approx(2 / 3)
    assert table.loc[table["chosen"], "lr"].tolist() == [0.1]
    assert list(chosen_rates(table, "accuracy").values()) == [0.1]
