"""Provenance: per-stage times read from Snakemake's benchmark files."""
from experiments.provenance import stage_times


def test_stage_times_sum_jobs_and_tolerate_missing_fields(tmp_path):
    head = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (tmp_path / "train_group").mkdir()
    (tmp_path / "train_group" / "a.tsv").write_text(head + "2.5\t0:00:02\t300\t0\t0\t0\t0\t0\t0\t2.0\n")
    (tmp_path / "train_group" / "b.tsv").write_text(head + "1.5\t0:00:01\t400\t0\t0\t0\t0\t0\t0\t1.0\n")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "sweep.tsv").write_text(head + "0.5\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n")
    files = [tmp_path / "train_group" / "a.tsv", tmp_path / "train_group" / "b.tsv", tmp_path / "benchmarks" / "sweep.tsv"]
    assert stage_times(files) == {
        "train_group": {"jobs": 2, "wall_s": 4.0, "cpu_s": 3.0, "max_rss_mb": 400.0},
        "sweep": {"jobs": 1, "wall_s": 0.5, "cpu_s": 0.0, "max_rss_mb": 0.0},
        "total": {"jobs": 3, "wall_s": 4.5, "cpu_s": 3.0, "max_rss_mb": 400.0},
    }
