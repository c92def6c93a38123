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
    ledger.clear_caches()
    yield data
    ledger.clear_caches()


def pytest_collection_modifyitems(config, items):
    """Skip tests marked slow (the full validation study) unless `-m slow` selects them.

    `make test` runs `pytest tests`, which must stay fast; `make validate` runs `pytest -m slow`.
    """
    if "slow" in (config.getoption("markexpr") or ""):
        return  # the caller chose with -m (e.g. "slow" or "not slow"): respect it
    skip_slow = pytest.mark.skip(reason="slow validation study: run with `make validate`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
