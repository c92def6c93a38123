"""Atomic writes: the file appears whole, and readable by others as the umask allows."""

from __future__ import annotations

import os

import pandas as pd

from helpers import io


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        io.write_text_atomic("x", tmp_path / "a.html")
        io.write_csv_atomic(pd.DataFrame({"a": [1]}), tmp_path / "b.csv")
    finally:
        os.umask(old)
    for name in ("a.html", "b.csv"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
