"""Expanding a config into runs, stacks and groups; splitting groups into smaller jobs."""
import pandas as pd
import pytest
import torch
import yaml

from experiments.columns import RUN_KEYS, TIMING_COLUMNS
from experiments.config import validate_config
from experiments.sweep import Group, groups_from_config, sweep_table
from experiments.convergence.training import train_group


@pytest.fixture()
def smoke(repo):
    return validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))


def run_ids(groups) -> list[tuple]:
    return sorted((g.dataset, g.loss, s.activation, s.hidden, s.optimizer, s.learn_scale, r.logit_scale, r.lr, r.seed)
                  for g in groups.values() for s in g.stacks for r in s.runs)


@pytest.mark.parametrize("phase", ["tune", "eval"])
@pytest.mark.parametrize("cap", [1, 3, 5, 8, 1000])
def test_split_groups_hold_every_run_once_and_respect_the_cap(smoke, cap, phase):
    whole = groups_from_config(smoke, phase)
    split = groups_from_config({**smoke, "convergence": {**smoke["convergence"], "max_group_runs": cap}}, phase)
    assert run_ids(split) == run_ids(whole)
    # a tuning configuration (one scale: its rates x tuning seeds) is never cut, since its search extends it
    unit = 1 if phase == "eval" else len(smoke["convergence"]["learning_rates"]["sgd"]) * len(
        smoke["convergence"]["tuning_seeds"])
    assert all(g.num_runs <= max(cap, unit) for g in split.values())
    if phase == "tune":
        where = {}
        for g in split.values():
            for st in g.stacks:
                for r in st.runs:
                    where.setdefault((g.dataset, g.loss, st.activation, st.learn_scale, r.logit_scale), set()).add(g.name)
        assert all(len(names) == 1 for names in where.values())
    per_pair = -(-max(g.num_runs for g in whole.values()) // cap)
    if per_pair == 1:
        assert list(split) == list(whole)  # unsplit groups keep their names
    else:
        assert {name.rsplit(".", 1)[0] for name in split} == set(whole)
        assert all(name.rsplit(".", 1)[1].isdigit() for name in split)
    for g in split.values():
        assert Group.from_dict(g.to_dict()) == g  # what the Snakefile hands the job


@pytest.mark.slow
def test_split_jobs_train_the_same_runs(smoke):
    cfg = {"seed": smoke["seed"], "data": smoke["data"]}
    (whole,) = [g for n, g in groups_from_config(smoke, "tune").items() if n == "digits.cross_entropy"]
    parts = [g for n, g in groups_from_config({**smoke, "convergence": {**smoke["convergence"], "max_group_runs": 3}},
                                              "tune").items() if n.startswith("digits.cross_entropy.")]
    assert len(parts) > 1
    a = train_group(whole, cfg, torch.device("cpu"), "auto").runs
    b = pd.concat([train_group(p, cfg, torch.device("cpu"), "auto").runs for p in parts], ignore_index=True)
    drop = TIMING_COLUMNS + ["group"]
    pd.testing.assert_frame_equal(b.drop(columns=drop, errors="ignore").sort_values(RUN_KEYS, ignore_index=True),
                                  a.drop(columns=drop, errors="ignore").sort_values(RUN_KEYS, ignore_index=True))


def test_sweep_table_has_one_row_per_run(smoke):
    t = sweep_table(smoke)
    for phase in ("tune", "eval"):
        assert (t["phase"] == phase).sum() == sum(g.num_runs for g in groups_from_config(smoke, phase).values())
    assert not t.duplicated(RUN_KEYS + ["phase"]).any()
    assert t.loc[t["phase"] == "eval", "lr"].isna().all()        # set from the tune stage's choice
    assert set(t.loc[t["phase"] == "tune", "seed"]).isdisjoint(t.loc[t["phase"] == "eval", "seed"])


def test_eval_group_takes_the_chosen_rates(smoke):
    from experiments.sweep import with_chosen_rates

    g = groups_from_config(smoke, "eval")["digits.cross_entropy"]
    rates = {(s.activation, s.hidden, s.optimizer, s.learn_scale, r.logit_scale): 0.01 * r.logit_scale
             for s in g.stacks for r in s.runs}
    filled = with_chosen_rates(g, rates)
    assert all(r.lr == 0.01 * r.logit_scale for s in filled.stacks for r in s.runs)
    assert [r.torch_seed for s in filled.stacks for r in s.runs] == [r.torch_seed for s in g.stacks for r in s.runs]
    with pytest.raises(KeyError, match="no chosen rate"):
        with_chosen_rates(g, {})


def test_search_stages_log_fewer_points_than_the_evaluate_stage(default_config):
    """The reference and tune stages keep no curves: they log SEARCH_LOG_POINTS times (the divergence check
    and the final metrics), the evaluate stage log_points times; each dataset has its own budget."""
    from experiments.sweep import SEARCH_LOG_POINTS

    for phase in ("reference", "tune", "eval"):
        for g in groups_from_config(default_config, phase).values():
            want = default_config["convergence"]["log_points"] if phase == "eval" else SEARCH_LOG_POINTS
            assert g.log_points == want and g.steps == default_config["convergence"]["steps"][g.dataset]
    assert SEARCH_LOG_POINTS < default_config["convergence"]["log_points"]
