"""The worked example of docs/add_a_paper.md (ZUMA-1: mixture-cure PFS, OS after progression,
CR nested within response, a median with an "NE" upper bound) runs as written."""

import re

import numpy as np
import pytest
import spec_support

from helpers import calibrate, paths, provenance, study
from helpers.spec import calibration, plan

DOC = paths.DOCS / "add_a_paper.md"


def example_files() -> dict[str, str]:
    """The YAML blocks of the worked example, by the path on their first line."""
    blocks = re.findall(r"```yaml\n(# (data/[^\n]+)\n.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return {path: text for text, path in blocks}


@pytest.fixture
def zuma(scratch_data, monkeypatch):
    files = example_files()
    assert set(files) == {"data/reported/zuma1.yaml", "data/assumed/zuma1.yaml", "data/specs/zuma1.yaml"}
    spec_support.register(scratch_data, monkeypatch, "zuma1", ledger_text=files["data/reported/zuma1.yaml"],
                          assumed_text=files["data/assumed/zuma1.yaml"], spec_text=files["data/specs/zuma1.yaml"])  # fmt: skip
    return scratch_data


def test_the_worked_example_calibrates_and_runs(zuma, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.REPORTS_ENV, str(tmp_path))
    p = plan.load("zuma1")
    assert p.inputs == ("ZUMA-01/infused", "ZUMA-02/orr_pct", "ZUMA-05/crs_ge3_pct")
    # the "NE" upper bound: the OS median's SE comes from its lower half-width alone
    se = {t["item"]: t["se"] for t in calibration.target_table("zuma1", p.targets)}
    assert se["os_median"] == pytest.approx((np.log(25.8) - np.log(12.8)) / 1.959963984540054)
    calibrate.main(["zuma1", "--fits-only"])  # the point fit; posteriors: test_conditional.py
    fit = calibrate.load("zuma1")
    assert fit["converged"] and all(abs(t["residual"]) < 0.1 for t in fit["targets"])
    run = study.run("zuma1", seed=3, replicates=50, rng=np.random.default_rng(3))
    c = run.cohort
    assert np.all(c["pfs_time"] <= c["os_time"]) and np.all(c["cr"] <= c["response"])
    roles = provenance.roles("zuma1")
    assert roles["ZUMA-04/os_median"][0] == "calibrated" and roles["ZUMA-02/orr_pct"][0] == "input"
    assert set(run.table.status) <= {"input", "supported", "uninformative", "borderline", "contradicted"}
