"""Shared test fixtures: a scratch copy of the data folders, so bad-input tests never touch the real ones."""

import shutil

import pytest

from helpers import ledger, paths


@pytest.fixture
def scratch_data(tmp_path, monkeypatch):
    """A copy of data/ in a temporary folder, with helpers.paths pointed at it."""
    data = tmp_path / "data"
    shutil.copytree(paths.DATA, data)
    monkeypatch.setattr(paths, "DATA", data)
    monkeypatch.setattr(paths, "REPORTED", data / "reported")
    monkeypatch.setattr(paths, "ASSUMED", data / "assumed")
    monkeypatch.setattr(paths, "CALIBRATED", data / "calibrated")
    ledger._cached_frame.cache_clear()
    yield data
    ledger._cached_frame.cache_clear()
