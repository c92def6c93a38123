"""Two runs with the same parameters give byte-identical tables (small configuration).

`make all` is the runner over every notebook; here two notebooks at a small replicate count run
twice, the second time with a different worker count, and every table must match byte for byte.
"""

import filecmp

import pytest

from helpers import paths, runner


@pytest.fixture
def run_into(tmp_path, monkeypatch):
    def _run(name, workers):
        root = tmp_path / name
        root.mkdir()
        monkeypatch.setattr(paths, "PROJ_ROOT", root)  # reports/ goes to the temp folder
        monkeypatch.setenv("CART_WORKERS", str(workers))
        nbs = [runner.resolve("01"), runner.resolve("20")]
        runner.run(nbs, {"seed": 11, "replicates": 20}, quiet=True)
        return root / "reports" / "tables"

    return _run


def test_same_parameters_same_tables(run_into):
    first, second = run_into("a", workers=1), run_into("b", workers=2)
    names = sorted(p.relative_to(first) for p in first.rglob("*.csv"))
    assert names, "the runs wrote no tables"
    assert names == sorted(p.relative_to(second) for p in second.rglob("*.csv"))
    _, mismatch, errors = filecmp.cmpfiles(first, second, [str(n) for n in names], shallow=False)
    assert not mismatch and not errors, f"tables differ between identical runs: {mismatch}"
