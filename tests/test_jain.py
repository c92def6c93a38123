"""Jain et al. 2021: kernels against scipy, the calibration against its targets, the model's design."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from helpers import assumptions, calibrate, ledger
from helpers.jain import analysis, calibration, model
from helpers.jain import stats as kernels
from helpers.params import ParameterError


@pytest.fixture(scope="module")
def assumed():
    return assumptions.load("jain")


@pytest.fixture(scope="module")
def fit():
    return calibrate.load("jain")


def _batch(rng, rows=20, n=60):
    x = rng.normal(size=(rows, n))
    x[rng.random((rows, n)) < 0.2] = np.nan  # missing assays, as in the cohorts
    group = rng.random((rows, n)) < 0.4
    return x, group


def test_mann_whitney_kernel_matches_scipy_row_by_row():
    x, group = _batch(np.random.default_rng(3))
    auc, p = kernels.mann_whitney(x, group)
    for i in range(x.shape[0]):
        ok = np.isfinite(x[i])
        a, b = x[i][ok & group[i]], x[i][ok & ~group[i]]
        ref = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-9)  # same formula: float round-off only
        assert auc[i] == pytest.approx(ref.statistic / (a.size * b.size), rel=1e-12)


def test_spearman_kernel_matches_scipy_row_by_row():
    rng = np.random.default_rng(4)
    x, _ = _batch(rng)
    y, _ = _batch(rng)
    rho, p = kernels.spearman(x, y + 0.5 * np.nan_to_num(x))
    for i in range(x.shape[0]):
        ok = np.isfinite(x[i]) & np.isfinite(y[i])
        ref = sps.spearmanr(x[i][ok], (y[i] + 0.5 * np.nan_to_num(x[i]))[ok])
        assert rho[i] == pytest.approx(ref.statistic, rel=1e-9)  # float round-off only
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-6)


def test_implied_auc_inverts_the_normal_approximation():
    auc = kernels.implied_auc(0.049, 24, 36)
    assert kernels.p_from_auc(auc, 24, 36) == pytest.approx(0.049, rel=1e-10)
    # a P just under .05 leaves a same-size replication a coin toss (power ~ 50%)
    assert kernels.power(auc, 24, 36) == pytest.approx(0.5, abs=0.01)  # exact value 0.503


def test_split_auc_matches_a_large_simulation():
    rng = np.random.default_rng(5)
    r, t, n = 0.4, 0.3, 200_000
    s = rng.normal(size=n)
    x = r * s + np.sqrt(1 - r**2) * rng.normal(size=n)
    hi, lo = x[s > t][:3000], x[s <= t][:3000]
    mc = sps.mannwhitneyu(hi, lo).statistic / (hi.size * lo.size)
    # Monte Carlo SE of an AUC from 3000 vs 3000 is about 0.005; allow 4 SE
    assert calibration.auc_split(r, t) == pytest.approx(mc, abs=0.02)
    assert calibration.auc_split(0.0, t) == pytest.approx(0.5, abs=1e-12)


def test_committed_calibration_is_current(assumed, fit):
    assert fit["assumed"] == calibration.used_assumptions(assumed), "run: python -m helpers.calibrate jain"
    design = model.Design.from_assumed(assumed)
    for committed, now in zip(fit["targets"], calibration.target_table(design), strict=True):
        assert committed["implied_auc"] == pytest.approx(now["implied_auc"], rel=1e-12)


def test_calibration_hits_every_printed_p(fit):
    for t in fit["targets"]:
        # the five coefficients solve five equations: only optimiser tolerance remains
        assert abs(t["residual"]) < 1e-6
        assert t["fitted"] == pytest.approx(t["reported"], rel=1e-3)


def test_targets_are_p_items_and_fold_changes_are_held_out():
    rows = {f"{r.claim_id}/{r['item']}": r.quantity for _, r in ledger.frame("jain").iterrows()}
    assert all(rows[ref] == "P" for ref in calibration.TARGETS)
    assert not set(analysis.FOLD_CHANGES) & set(calibration.TARGETS)


def test_simulated_subsets_have_the_designed_sizes_and_are_nested(assumed, fit):
    design = model.Design.from_assumed(assumed)
    cohort = model.simulate(np.random.default_rng(6), fit["params"], design, model.Scales.from_assumed(assumed))
    assert len(cohort) == model.N_PATIENTS
    assert cohort["pdl1_pct"].notna().sum() == design.n_ihc
    assert cohort["peak_cart"].notna().sum() == design.n_cart
    assert (cohort["ifn_score"].notna() | cohort["pdl1_pct"].isna()).all()  # IHC within biopsies
    assert (cohort["peak_cart"].notna() | cohort["mmdsc_pct"].isna()).all()  # M-MDSC within CAR T


def test_same_seed_same_cohort(assumed, fit):
    design, scales = model.Design.from_assumed(assumed), model.Scales.from_assumed(assumed)
    a = model.simulate(np.random.default_rng(7), fit["params"], design, scales)
    b = model.simulate(np.random.default_rng(7), fit["params"], design, scales)
    assert a.equals(b)


def test_subset_scale_halves_sizes(assumed):
    half = model.Design.from_assumed(assumed, subset_scale=0.5)
    assert half.n_cart == round(assumed["n_cart"] / 2)


@pytest.mark.parametrize("kwargs", [{"subset_scale": 0}, {"subset_scale": -1.0}, {"durable_share": 1.5},
                                    {"durable_share": 0.99}])  # fmt: skip
def test_bad_design_parameters_are_refused(assumed, kwargs):
    with pytest.raises(ParameterError, match=next(iter(kwargs))):
        model.Design.from_assumed(assumed, **kwargs)


def test_infeasible_coefficients_are_refused(fit):
    with pytest.raises(model.ModelError, match="ifn"):
        model.loadings({**fit["params"], "burden_on_ifn": 1.2})


def test_batched_analysis_agrees_with_scipy_on_one_cohort(assumed, fit):
    design = model.Design.from_assumed(assumed)
    cohort = model.simulate(np.random.default_rng(8), fit["params"], design, model.Scales.from_assumed(assumed))
    single = analysis.rederive(cohort, design, np.random.default_rng(9), bootstrap=200)
    batch = analysis.make_analyse(design)([cohort])
    merged = single.merge(batch, on=["claim_id", "item"])
    # same data, same tests: float round-off only
    np.testing.assert_allclose(merged["rederived_p"].astype(float), merged["p"], rtol=1e-6)
    roles = single.set_index("item")["role"]
    assert roles["pdl1_ndr_vs_dr"] == "calibrated" and roles["peak_cart_dr_over_ndr"] == "held-out"
