"""Atomic writes: a crash while writing leaves the old file whole, and no temporary file behind."""
import json
import os

import pandas as pd
import pytest

from experiments import storage
from experiments.storage import write_bytes, write_json, write_parquet


def test_writes_round_trip_with_the_usual_mode(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_parquet(df, tmp_path / "sub" / "t.parquet")               # makes the folder
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sub" / "t.parquet"), df)
    write_json({"k": 1}, tmp_path / "j.json")
    assert json.loads((tmp_path / "j.json").read_text()) == {"k": 1}
    write_bytes(b"abc", tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == b"abc"
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o666 & ~mask   # not mkstemp's 0600


@pytest.mark.parametrize("writer", [
    lambda p: write_parquet(pd.DataFrame({"a": [9]}), p),
    lambda p: write_json({"new": True}, p),
    lambda p: write_bytes(b"new", p),
])
def test_a_crash_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch, writer):
    """Simulate a job killed after half the file is written: the rename never happens."""
    path = tmp_path / "result"
    path.write_bytes(b"old contents")

    def crash(src, dst):
        assert os.path.getsize(src) > 0          # the new data went to a temporary file beside it ...
        raise KeyboardInterrupt("killed")        # ... and the job dies before the rename
    monkeypatch.setattr(storage.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        writer(path)
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["result"]      # the temporary file is gone
