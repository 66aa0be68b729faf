"""Expanding a config into runs, stacks and groups; splitting groups into smaller jobs."""
import pandas as pd
import pytest
import torch
import yaml

from experiments.columns import RUN_KEYS, TIMING_COLUMNS
from experiments.config import validate_config
from experiments.sweep import Group, groups_from_config, sweep_table
from experiments.training import train_group


@pytest.fixture()
def smoke(repo):
    return validate_config(yaml.safe_load((repo / "config" / "smoke.yaml").read_text()))


def run_ids(groups) -> list[tuple]:
    return sorted((g.dataset, g.loss, s.activation, s.hidden, s.optimizer, s.learn_scale, r.logit_scale, r.lr, r.seed)
                  for g in groups.values() for s in g.stacks for r in s.runs)


@pytest.mark.parametrize("cap", [1, 3, 5, 8, 1000])
def test_split_groups_hold_every_run_once_and_respect_the_cap(smoke, cap):
    whole = groups_from_config(smoke)
    split = groups_from_config({**smoke, "convergence": {**smoke["convergence"], "max_group_runs": cap}})
    assert run_ids(split) == run_ids(whole)
    assert all(g.num_runs <= cap for g in split.values())
    per_pair = -(-max(g.num_runs for g in whole.values()) // cap)
    if per_pair == 1:
        assert list(split) == list(whole)  # unsplit groups keep their names
    else:
        assert {name.rsplit(".", 1)[0] for name in split} == set(whole)
        assert all(name.rsplit(".", 1)[1].isdigit() for name in split)
    for g in split.values():
        assert Group.from_dict(g.to_dict()) == g  # what the Snakefile hands the job


def test_split_jobs_train_the_same_runs(smoke):
    cfg = {"seed": smoke["seed"], "data": smoke["data"]}
    (whole,) = [g for n, g in groups_from_config(smoke).items() if n == "digits.cross_entropy"]
    parts = [g for n, g in groups_from_config({**smoke, "convergence": {**smoke["convergence"], "max_group_runs": 3}})
             .items() if n.startswith("digits.cross_entropy.")]
    assert len(parts) > 1
    a, _ = train_group(whole, cfg, torch.device("cpu"), "auto")
    b = pd.concat([train_group(p, cfg, torch.device("cpu"), "auto")[0] for p in parts], ignore_index=True)
    drop = TIMING_COLUMNS + ["group"]
    pd.testing.assert_frame_equal(b.drop(columns=drop, errors="ignore").sort_values(RUN_KEYS, ignore_index=True),
                                  a.drop(columns=drop, errors="ignore").sort_values(RUN_KEYS, ignore_index=True))


def test_sweep_table_has_one_row_per_run(smoke):
    t = sweep_table(smoke)
    assert len(t) == sum(g.num_runs for g in groups_from_config(smoke).values())
    assert not t.duplicated(RUN_KEYS).any()
