"""Figura et al. 2021: simulator invariants, GEE and mixed-model fits, calibration currency."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import calibrate, ledger
from helpers.figura import analysis, calibration, gee, glmm, model


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
