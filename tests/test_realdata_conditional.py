"""The conditional band on real patient data (issue 18, item 4): the band kind reproduces the
committed rows, conditions on exactly the split's targets, weighs particles by the declared prior,
and the summaries show both band kinds side by side, a band that cannot fail included."""

import math

import numpy as np
import pandas as pd
import pytest

from helpers import conditional, ledger, posterior
from helpers.realdata import conditional_band, datasets, splits, validate, view


@pytest.fixture(scope="module")
def leukemia_run(tmp_path_factory):
    """(Used by slow tests only: fit plus both bands take ~25 s.) Leukemia (42 patients) under the mimic split, pooled covariates, both band kinds, at the
    committed study's settings."""
    split = splits.mimic(datasets.dataset("leukemia"))
    return validate.run_split("leukemia", split, replicates=validate.DEFAULTS["replicates"], seed=validate.DEFAULTS["seed"],
                              folder=tmp_path_factory.mktemp("leukemia") / "leukemia", bands=("predictive", "conditional"))  # fmt: skip


@pytest.mark.slow  # the leukemia run with both band kinds: ~25 s on 2 cores
def test_the_conditional_band_reproduces_the_committed_rows(leukemia_run):
    got = validate.rows(leukemia_run)
    got = got[got.band == "conditional"].reset_index(drop=True)
    study = validate.load_study()
    want = study[(study.dataset == "leukemia") & (study.split == "mimic") & (study.model == "pooled")
                 & (study.band == "conditional")].reset_index(drop=True)  # fmt: skip
    assert len(want) > 0, "the committed study has no conditional rows: run `make validate-real`"
    assert list(got.item) == list(want.item) and list(got.status) == list(want.status)
    assert list(got.covered) == list(want.covered)
    # 1e-6 relative: the committed study ran on this machine type with pinned CPU features
    # (Makefile); the bands are order statistics of the same draws, so only last bits may differ
    for col in ("truth", "mc_lo", "mc_median", "mc_hi"):
        assert np.allclose(got[col], want[col], rtol=1e-6, equal_nan=True), col


@pytest.mark.slow  # the leukemia run with both band kinds: ~25 s on 2 cores
def test_the_conditional_band_gives_no_band_to_what_it_conditions_on(leukemia_run):
    rows = validate.rows(leukemia_run)
    cond, pred = rows[rows.band == "conditional"], rows[rows.band == "predictive"]
    targets = {t.split("/")[1] for t in leukemia_run.split.targets}
    assert targets and not targets & set(cond["item"])
    # the P value printed with a fitted HR was not conditioned on: it keeps its band
    fitted_hr = {t for t in targets if t.startswith("uni_")}
    assert {f"{t}/p" for t in fitted_hr} <= set(cond["item"])
    held = set(pred[pred.role == "held-out"]["item"])
    assert held == set(cond[cond.role == "held-out"]["item"])  # the same held-out numbers, both bands


@pytest.mark.slow  # the leukemia run with both band kinds: ~25 s on 2 cores
def test_the_conditional_band_is_narrower_where_a_target_shares_its_patients(leukemia_run):
    """The log-rank P of the same two arms whose medians are fitted: given those medians, its band
    is far narrower than over independent studies (decades of P)."""
    rows = validate.rows(leukemia_run).set_index(["band", "item"])
    p = rows.loc[("conditional", "logrank_p"), "width"], rows.loc[("predictive", "logrank_p"), "width"]
    assert p[0] < p[1] / 2


@pytest.mark.slow  # the leukemia run with both band kinds: ~25 s on 2 cores
def test_diagnostics_ride_with_the_draws(leukemia_run):
    d = leukemia_run.draws["conditional"].attrs["diagnostics"]
    assert d["generations"] >= 1 and 0 < d["ess"] <= posterior.SETTINGS["population"]
    assert d["simulations"] >= posterior.SETTINGS["budget"] and d["epsilon"] > 0
    assert d["regenerated_targets_identical"]  # the cohorts drawn again are the kept ones
    assert leukemia_run.draws["conditional"]["rep"].nunique() == validate.DEFAULTS["replicates"]


@pytest.mark.slow  # the leukemia run with both band kinds: ~25 s on 2 cores
def test_the_prior_is_uniform_on_the_declared_bounds(leukemia_run):
    """The papers' posterior problem: the spec's declared bounds (calibration.free) as the prior."""
    with ledger.outside("leukemia", _folder_of(leukemia_run)):
        prob = conditional_band.problem(leukemia_run.settings)
        from helpers.spec.plan import load as load_plan

        declared = load_plan("leukemia").spec.calibration.free
    assert prob.bounds == {k: tuple(map(float, declared[k].bounds)) for k in prob.free}
    assert prob.bounds["shape"] == (0.25, 4.0) and prob.bounds["log_hr_male"] == (-3.0, 3.0)


def test_the_band_is_the_papers_conditional_band():
    """No sampler of its own: the real-data band runs the papers' ABC-SMC and conditional draws."""
    import inspect

    source = inspect.getsource(conditional_band.draws)
    assert "posterior.fit(" in source and "conditional.kept_draws(" in source


def test_weighted_adjustment_removes_the_weighted_slope():
    """conditional.adjust with weights: y = 1 + 3 z + e where the weights favour z > 0, with a
    slope of 5 among the down-weighted z < 0; the weighted least-squares slope is the one removed.
    Tolerances: the adjusted values of the up-weighted cohorts centre on 1 within 4 SEs
    (0.1 / sqrt(2000)), and the unweighted fit leaves them off by more than 0.2."""
    rng = np.random.default_rng(11)
    z = rng.normal(size=4000)
    y = 1 + np.where(z > 0, 3, 5) * z + rng.normal(0, 0.1, 4000)
    w = np.where(z > 0, 1.0, 1e-6)
    up = z > 0
    weighted = conditional.adjust(y, z[:, None], "identity", w)
    assert abs(weighted[up].mean() - 1) < 4 * 0.1 / math.sqrt(up.sum())
    assert abs(conditional.adjust(y, z[:, None], "identity")[up].mean() - 1) > 0.2


@pytest.mark.slow  # the leukemia run with both band kinds: ~25 s on 2 cores
def test_posterior_problem_takes_the_settings_of_an_uncommitted_fit(leukemia_run):
    with ledger.outside("leukemia", _folder_of(leukemia_run)):
        prob = posterior.problem("leukemia", settings=leukemia_run.settings)
    assert prob.settings is leukemia_run.settings
    assert [t.ref for t in prob.targets] == list(leukemia_run.split.targets)


def _folder_of(run):
    """The generated study's files, written again (the run's own folder was temporary)."""
    import tempfile
    from pathlib import Path

    from helpers.realdata import paper

    folder = Path(tempfile.mkdtemp(prefix="realcond-")) / run.dataset
    s = run.split
    return paper.write(datasets.dataset(run.dataset), folder, list(s.targets), s.shape_free, s.starts, run.model)


def test_merged_replaces_only_the_recomputed_band_and_data_sets():
    old = pd.DataFrame({"dataset": ["lung", "lung", "gbsg2", "gbsg2"], "band": ["predictive", "conditional"] * 2, "v": [1, 2, 3, 4]})
    new = pd.DataFrame({"dataset": ["lung"], "band": ["conditional"], "v": [9]})
    out = validate.merged(old, new, ("conditional",), ["lung"])
    assert sorted(out.v) == [1, 3, 4, 9]
    assert sorted(validate.merged(old, new, ("conditional",)).v) == [1, 3, 9]
    legacy = old.drop(columns="band").iloc[:1]  # lines written before band kinds were recorded
    assert list(validate.merged(legacy, new, ("conditional",)).band) == ["predictive", "conditional"]


def test_a_band_that_cannot_fail_is_not_hidden():
    """A band so wide it always covers shows as such beside the others: full coverage, but a width
    far above the other band's, and every verdict on it uninformative (the check could not fail)."""
    base = dict(dataset="lung", model="pooled", split="mimic", role="held-out", kind="landmark", quantity="landmark_survival",
                replicates=200, truth=50.0, printed="50", false_printed="40")  # fmt: skip
    rows = []
    for i in range(20):
        rows.append({**base, "item": f"s{i}", "band": "predictive", "mc_lo": 45.0 + i % 7, "mc_hi": 55.0 + i % 7,
                     "covered": 45 + i % 7 <= 50 <= 55 + i % 7, "truth_percentile": 0.5, "width": 10.0,
                     "status": "supported", "false_status": "contradicted"})  # fmt: skip
        rows.append({**base, "item": f"s{i}", "band": "conditional", "mc_lo": 0.0, "mc_hi": 100.0, "covered": True,
                     "truth_percentile": 0.5, "width": 100.0, "status": "uninformative", "false_status": "uninformative"})  # fmt: skip
    study = pd.DataFrame(rows)
    t = view.by_band(study)
    assert t.loc["landmark", ("conditional", "coverage")] == 1.0
    assert t.loc["landmark", ("conditional", "band_width")] == 100.0
    assert t.loc["landmark", ("independent", "band_width")] == 10.0
    assert t.loc["landmark", ("paired", "width ratio")] == pytest.approx(10.0)
    v = view.verdicts_by_band(study)
    assert v.loc["landmark", ("conditional", "uninformative (true)")] == 1.0
    assert v.loc["landmark", ("conditional", "supported (true)")] == 0.0


def test_the_committed_study_has_both_band_kinds():
    study = validate.load_study()
    keys = ["dataset", "model", "split"]
    runs = {b: set(map(tuple, g[keys].drop_duplicates().to_numpy())) for b, g in study.groupby("band")}
    assert set(runs) == {"predictive", "conditional"}
    # the conditional band costs a calibration's worth of cohorts per run: it was computed for fewer
    # runs (the docstring of helpers.realdata.validate says which), each also a run of the independent band
    assert runs["conditional"] <= runs["predictive"], sorted(runs["conditional"] - runs["predictive"])
    assert {(d, "pooled", "mimic") for d in validate.DATASETS_ORDER} <= runs["conditional"]
    # the required columns of the independent band are intact
    pred = study[study.band == "predictive"]
    required = ["dataset", "split", "claim_id", "item", "quantity", "role", "truth", "mc_lo", "mc_hi", "covered", "status"]
    assert pred[required].notna().all().all()
