"""Figura et al. 2021: simulator invariants, GEE and mixed-model fits, calibration currency."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import calibrate, ledger
from helpers.figura import analysis, calibration, gee, glmm, model
from helpers.params import ParameterError


@pytest.fixture(scope="module")
def params():
    return model.parameters(calibrate.load("figura")["params"])


@pytest.fixture(scope="module")
def cohort(params):
    return model.simulate(np.random.default_rng(7), params)


def test_lesion_cohort_has_the_printed_sizes(cohort):
    assert model.N_LESIONS == int(ledger.lookup("figura", "FIG-01/lesions").value)
    assert model.N_PATIENTS == int(ledger.lookup("figura", "FIG-01/patients").value)
    assert len(cohort.lesions) == model.N_LESIONS
    assert cohort.lesions.patient.nunique() == model.N_PATIENTS
    assert len(cohort.patients) == int(ledger.lookup("figura", "FIG-09/survival_cohort").value)


@pytest.mark.parametrize("seed", range(5))
def test_lesion_counts_always_add_up(seed):
    counts = model.lesion_counts(np.random.default_rng(seed), 63, 469, 0.5, n_extra=6)
    assert counts[:63].sum() == 469 and counts.min() >= 1 and counts.size == 69


def test_patient_patterns_follow_from_lesions(cohort):
    pts = cohort.patients[cohort.patients.in_lesion_analysis].set_index("patient")
    per = cohort.lesions.groupby("patient").agg(n=("local_failure", "size"), lf=("local_failure", "sum"))
    assert (per.n == pts.n_lesions).all() and (per.lf == pts.n_local).all()
    # a local failure is only seen in a patient whose failure is seen
    assert (pts.loc[pts.recurred == 0, "n_local"] == 0).all()
    assert (pts.strictly_local <= pts.local_component).all() and (pts.local_component <= pts.recurred).all()
    assert (pts.local_component + pts.denovo_only == pts.recurred).all()
    retained = (pts.recurred == 1) & (per.lf < per.n)
    assert (retained.astype(int) == pts.retained_resolution).all()
    assert (cohort.patients.pfs_event == cohort.patients.recurred).all()
    assert (cohort.patients.os_event <= cohort.patients.pfs_event).all()  # deaths only follow failure


def test_simulation_is_deterministic_in_the_seed(params):
    a = model.simulate(np.random.default_rng(3), params)
    b = model.simulate(np.random.default_rng(3), params)
    assert a.lesions.equals(b.lesions) and a.patients.equals(b.patients)


def test_numpy_gee_equals_statsmodels(cohort):
    les = cohort.lesions
    for f in model.FEATURES:
        ref = gee.gee_statsmodels(les.local_failure, les[f], les.patient)
        ours = gee.gee_exchangeable(les.local_failure, les[f], les.patient)
        # both solve the same equations; statsmodels stops at a score norm of 1e-6
        assert ours.log_or == pytest.approx(ref.log_or, abs=1e-6)
        assert ours.se == pytest.approx(ref.se, abs=1e-6)
        assert ours.alpha == pytest.approx(ref.alpha, abs=1e-6)


def test_gee_wrapper_refuses_unknown_method(cohort):
    with pytest.raises(ValueError, match="method='ols'"):
        gee.lesion_ors(cohort.lesions, model.FEATURES, method="ols")


def test_two_by_two_equals_naive_logistic(cohort):
    les = cohort.lesions
    y, x = les.local_failure.to_numpy(), les.size_ge5cm.to_numpy()
    or_, lo, hi, p = analysis.two_by_two(y, x)
    ref = gee.naive_logistic(y, x)
    # a saturated logistic model reproduces the 2 x 2 table exactly (up to Newton tolerance)
    assert (or_, lo, hi, p) == pytest.approx((ref.odds_ratio, ref.lo, ref.hi, ref.p), rel=1e-6)


def test_random_intercept_model_recovers_known_effect():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(250), 6)
    x = rng.random(g.size) < 0.4
    eta = -1.0 + 0.8 * x + 1.2 * rng.standard_normal(250)[g]
    y = rng.random(g.size) < 1 / (1 + np.exp(-eta))
    fit = glmm.random_intercept_logistic(y, x, g)
    # 1,500 lesions: SE of the log OR and of sigma about 0.13; 3 SE allowed
    assert fit.odds_ratio.log_or == pytest.approx(0.8, abs=0.4)
    assert fit.sigma == pytest.approx(1.2, abs=0.4)
    finer = glmm.random_intercept_logistic(y, x, g, n_nodes=80)
    # quadrature error well below the sampling error (SE ~ 0.13)
    assert fit.odds_ratio.log_or == pytest.approx(finer.odds_ratio.log_or, abs=0.01)


def test_timing_reproduces_zuma1_medians():
    t = model.timing_from(5.9, 0.318, 25.8, 0.426)
    pfs = 0.318 + 0.682 * np.exp(-t.fail_rate * 5.9)
    a, b, x = t.fail_rate, t.death_rate, 25.8
    tail = (b * np.exp(-a * x) - a * np.exp(-b * x)) / (b - a)
    os_ = 0.318 + 0.682 * (t.salvage + (1 - t.salvage) * tail)
    assert pfs == pytest.approx(0.5, abs=1e-12) and os_ == pytest.approx(0.5, abs=1e-9)


def test_roles_come_from_the_declared_lists():
    assert calibration.role("FIG-06/or_diameter_ge5cm") == "calibrated"
    assert calibration.role("FIG-10/hr_pfs_any_ge5cm") == "held-out"
    assert calibration.role("FIG-01/lesions") == "descriptive"


def test_committed_calibration_is_current():
    committed = calibrate.load("figura")
    fresh = json.loads(json.dumps(calibration.calibrate()))
    assert fresh["settings"] == committed["settings"]
    for k, v in committed["params"].items():
        # deterministic fit; 1e-8 allows BLAS summation-order differences between machines
        assert fresh["params"][k] == pytest.approx(v, rel=1e-8, abs=1e-10)


def _clustered_data(rng, n_groups, mean_size, sigma, logor=0.8):
    """Binary-covariate lesions in groups of unequal size with a normal random intercept."""
    g = np.repeat(np.arange(n_groups), 1 + rng.poisson(mean_size - 1, n_groups))
    x = rng.random(g.size) < 0.35
    eta = -1.2 + logor * x + sigma * rng.standard_normal(n_groups)[g]
    return (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int), x.astype(int), g


def test_batched_mixed_fit_equals_single_fit():
    rng = np.random.default_rng(5)
    # different group counts and sizes in one batch: the flat layout must keep them apart
    sets = [_clustered_data(rng, n, m, s) for n, m, s in ((60, 7, 1.0), (90, 4, 0.9), (40, 10, 1.5), (120, 3, 1.2))]
    fit = glmm.random_intercept_logistic_batch(*glmm.stack(sets))
    assert fit.converged.all() and not fit.at_boundary.any()
    for i, (y, x, g) in enumerate(sets):
        ref = glmm.random_intercept_logistic(y, x, g)
        # same likelihood and nodes; the reference stops BFGS at a gradient norm of 1e-6 (about
        # 1e-6 / curvature ~ 1e-7 in the parameters) and takes its SE from a finite-difference
        # Hessian (h = 1e-4: error ~ h^2 relative), so 1e-4 and 1e-3 leave room for both
        assert fit.log_or[i] == pytest.approx(ref.odds_ratio.log_or, abs=1e-4)
        assert fit.se[i] == pytest.approx(ref.odds_ratio.se, rel=1e-3)
        assert fit.sigma[i] == pytest.approx(ref.sigma, abs=1e-3)
        assert fit.p[i] == pytest.approx(ref.odds_ratio.p, rel=1e-2, abs=1e-12)  # P amplifies SE error by z^2


def test_batched_mixed_fit_handles_sigma_at_zero():
    rng = np.random.default_rng(2)
    # every patient has exactly 2 failures among 4 lesions: less clustering than independence,
    # so the likelihood rises all the way to sigma = 0 (the ordinary logistic model)
    g = np.repeat(np.arange(80), 4)
    y = np.tile([1, 1, 0, 0], 80)
    x = (rng.random(g.size) < 0.4).astype(int)
    clustered = _clustered_data(rng, 50, 6, 1.0)
    fit = glmm.random_intercept_logistic_batch(*glmm.stack([(y, x, g), clustered]))
    assert fit.converged.all() and fit.at_boundary.tolist() == [True, False]
    naive = gee.naive_logistic(y, x)
    # sigma held at 1e-4 moves the conditional OR by O(sigma^2) = 1e-8 from the sigma = 0 fit
    assert fit.log_or[0] == pytest.approx(naive.log_or, abs=1e-6)
    assert fit.se[0] == pytest.approx(naive.se, rel=1e-6)


def test_batched_mixed_fit_refuses_bad_layout():
    with pytest.raises(ParameterError, match="group_starts"):
        glmm.random_intercept_logistic_batch(np.zeros(4), np.zeros(4), np.array([1, 2]), np.array([0]))
