"""The sensitivity sweep (helpers.sensitivity) on a toy paper whose answers are known.

Toy model: each study draws x ~ N(mu + c, 1) for 60 patients; item A is mean(x), calibrated to
a printed 0.5 through the free parameter c; item B is mean(x) + mu, held out. Moving the
assumption mu therefore leaves A fitted (after the refit) and moves B by mu: B's verdict changes
exactly where the arithmetic says it must.
"""

import types

import numpy as np
import pandas as pd
import pytest

from helpers import assumptions, infeasibility, paths, results, sensitivity, study
from helpers.settings import Settings

N = 60


def _settings(overrides=None, calibrated=None, n_multiplier=1):
    assumed = {"mu": 0.5, "kind": "a"} | dict(overrides or {})
    if assumed["kind"] not in ("a", "b"):
        raise ValueError("kind")
    return Settings("figura", assumed, dict(calibrated if calibrated is not None else {"c": 0.0}), {}, n_multiplier)


def _simulate(rng, s):
    return {"x": rng.normal(s["mu"] + s["c"], 1.0, N * s.n_multiplier), "mu": s["mu"]}


def _analyse(cohorts, s, include=None):
    means = np.array([c["x"].mean() for c in cohorts])
    reps = np.arange(len(cohorts))
    return pd.concat([pd.DataFrame({"rep": reps, "claim_id": "FIG-06", "item": "a", "estimate": means}),
                      pd.DataFrame({"rep": reps, "claim_id": "FIG-07", "item": "b", "estimate": means + s["mu"]})])


def _rederive(cohort, s, rng, include=None):
    return results.frame([results.row("FIG-06", "a", "difference", "calibrated", reported=0.5, reported_printed="0.50"),
                          results.row("FIG-07", "b", "difference", "held-out", reported=1.0, reported_printed="1.00")])


def _calibrate(settings=None, start=None, targets=None):
    if settings["mu"] > 1.9:
        raise RuntimeError("no optimum")  # a refit that fails: recorded, the sweep goes on
    c = 0.5 - settings["mu"]
    return {"params": {"c": c}, "targets": [{"claim_id": "FIG-06", "item": "a", "residual": 0.0}],
            "objective": 0.0, "converged": True}


@pytest.fixture
def toy(monkeypatch, tmp_path):
    mods = {"model": types.SimpleNamespace(simulate=_simulate),
            "analysis": types.SimpleNamespace(analyse=_analyse, rederive=_rederive, REASONS={}),
            "calibration": types.SimpleNamespace(calibrate=_calibrate)}
    entries = {"mu": assumptions.Assumption(value=0.5, range=[0.0, 2.0], why="toy shift", source="test"),
               "kind": assumptions.Assumption(value="a", alternatives=["b"], why="toy analysis choice", source="test"),
               "n": assumptions.Assumption(value=60, fixed="printed sample size of the toy", why="toy sample size", source="test")}
    monkeypatch.setattr(study, "module", lambda paper, name: mods[name])
    monkeypatch.setattr(study, "has_calibration", lambda paper: True)
    monkeypatch.setattr(study, "load_settings", lambda paper, overrides=None, calibrated=None, n_multiplier=1:
                        _settings(overrides, calibrated, n_multiplier))  # fmt: skip
    monkeypatch.setattr(assumptions, "entries", lambda paper: entries)
    monkeypatch.setattr(sensitivity, "SWEPT", tmp_path)
    return "figura"


def test_points_cover_both_ends_of_each_range_and_each_alternative(toy):
    pts = sensitivity.points(toy)
    assert [(p.assumption, p.value) for p in pts] == [("(default)", ""), ("mu", "0"), ("mu", "2"), ("kind", "b")]
    assert list(sensitivity.unswept(toy).assumption) == ["n"]


def test_sweep_refits_and_judges_every_point(toy):
    table = sensitivity.sweep(toy, replicates=300, n_jobs=1, progress=False)
    by = table.set_index(["assumption", "value", "item"])
    # mu = 0: refitted c = 0.5, so A stays at 0.5 and B = mean + mu stays near 0.5, below the printed 1.0
    assert by.loc[("mu", "0", "a"), "refit"] == "converged"
    assert by.loc[("mu", "0", "a"), "estimate"] == pytest.approx(0.5, abs=0.05)
    assert by.loc[("mu", "0", "b"), "status"] == "contradicted"
    assert by.loc[("(default)", "", "b"), "status"] in ("supported", "uninformative")
    # mu = 2: the refit fails; the point is recorded, not dropped
    failed = table[table.value == "2"]
    assert len(failed) == 1 and failed.refit.iloc[0].startswith("failed: RuntimeError")
    assert list(sensitivity.influence(table).index[:1]) == ["mu"]


def test_changes_name_the_assumption_that_flips_a_verdict(toy):
    sensitivity.write(toy, sensitivity.sweep(toy, replicates=300, n_jobs=1, progress=False))
    ch = sensitivity.changes(toy).set_index("item")
    assert ch.loc["b", "changed by"] == "mu"
    assert ch.loc["a", "changed by"] == ""
    assert len(sensitivity.failed_points(toy)) == 1


def test_joint_changes_count_statuses_over_the_hypercube(toy):
    sensitivity.write(toy, sensitivity.sweep(toy, replicates=300, n_jobs=1, progress=False))
    joint = sensitivity.sweep(toy, replicates=300, n_jobs=1, progress=False,
                              chosen=sensitivity.joint_points(toy, ["mu"], samples=4))  # fmt: skip
    sensitivity.write(toy, joint, "_joint")
    out = sensitivity.joint_changes(toy).set_index("item")
    # A stays fitted at every point; B moves with mu across [0, 2], so its percentile travels far
    refitted = joint[~joint.refit.str.startswith("failed")].drop_duplicates("value").shape[0]
    assert sum(int(c.split()[-1]) for c in out.loc["a", "joint points"].split(", ")) == refitted
    low, high = (float(x) for x in out.loc["b", "percentile range"].split("-"))
    assert high - low > 50
    assert set(out.moved) == {"mu"}


def test_an_interrupted_sweep_keeps_the_last_complete_table(toy, monkeypatch):
    sensitivity.write(toy, sensitivity.sweep(toy, replicates=100, n_jobs=1, progress=False))
    before = (sensitivity.SWEPT / "figura.csv").read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sensitivity, "run_point", boom)
    with pytest.raises(KeyboardInterrupt):
        sensitivity.main(["figura", "--replicates", "100", "--workers", "1", "--no-conflicts"])
    assert (sensitivity.SWEPT / "figura.csv").read_bytes() == before


def test_joint_points_form_a_latin_hypercube(toy):
    pts = sensitivity.joint_points(toy, ["mu", "kind"], samples=5)
    values = sorted(dict(p.moved)["mu"] for p in pts)
    assert len(pts) == 5 and all(len(p.moved) == 1 for p in pts)  # "kind" has no range: not in the hypercube
    # one value in each fifth of the range
    assert [int(v // 0.4) for v in values] == [0, 1, 2, 3, 4]


def test_dask_backend_gives_the_same_table_as_local_processes():
    """The switch to a cluster, for real: a real paper (Jain, whose refit is analytic and fast), so
    that worker processes import its modules themselves (a monkeypatched toy would not reach
    them); three points on two local processes, then on a two-worker Dask LocalCluster."""
    chosen = sensitivity.points("jain")[:3]
    kwargs = {"replicates": 50, "n_jobs": 2, "progress": False, "chosen": chosen}
    local = sensitivity.sweep("jain", **kwargs)
    with sensitivity._backend("dask", 2):
        on_dask = sensitivity.sweep("jain", **kwargs)
    assert set(local.refit) <= {"committed", "converged"}, "every point refitted (nothing failed)"
    assert local.status.notna().all()
    pd.testing.assert_frame_equal(local, on_dask)


def test_sweeping_one_paper_keeps_the_other_papers_conflicts(toy, scratch_data, monkeypatch, tmp_path):
    # `make sensitivity PAPERS=figura` must not drop the committed rows of every other paper
    monkeypatch.setenv(paths.REPORTS_ENV, str(tmp_path / "reports"))
    other = pd.DataFrame({c: ["x"] for c in infeasibility.COLUMNS}).assign(paper="jain")
    stale = other.assign(paper="figura")
    infeasibility.write(pd.concat([other, stale], ignore_index=True))
    fresh = stale.assign(explanation="new")
    monkeypatch.setattr(infeasibility, "table", lambda papers: fresh)
    sensitivity.main(["figura", "--replicates", "20", "--workers", "1"])
    kept = infeasibility.load()
    assert sorted(kept.paper) == ["figura", "jain"] and kept.set_index("paper").loc["figura", "explanation"] == "new"
