"""The column contract: names defined once, the status precedence written once."""
import pytest

from experiments import columns


@pytest.mark.parametrize("nonfinite,diverged,reached,want", [
    (True, True, True, "nonfinite"),        # NaN/inf beats everything
    (True, False, False, "nonfinite"),
    (False, True, True, "diverged"),        # a divergence beats a target reached before it
    (False, True, False, "diverged"),
    (False, False, False, "not_reached"),
    (False, False, True, "ok"),
])
def test_run_status_follows_the_precedence_of_statuses(nonfinite, diverged, reached, want):
    assert columns.run_status(nonfinite, diverged, reached) == want


def test_statuses_are_in_precedence_order_and_timing_columns_are_run_columns():
    assert columns.STATUSES == ["nonfinite", "diverged", "not_reached", "ok"]
    assert set(columns.TIMING_COLUMNS) <= set(columns.RUNS)
    assert set(columns.TEST_METRICS) <= set(columns.RUNS)
    assert columns.CONFIG_KEYS == [k for k in columns.RUN_KEYS if k != "seed"]
