"""The one-covariate Cox kernel equals the general kernel, lifelines (Efron) and statsmodels (Breslow).

Cohorts with the awkward features of real data: tied times (whole months), heavy censoring,
missing covariates, a replicate with no events, an arm with no events (no finite maximum).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter

from helpers import kernels
from helpers.kernels.cox_univariable import cox_univariable

R, N = 6, 90
FIT_TOL = 1e-6  # both sides converge to ~1e-10 (Newton); the bar of tests/test_kernels.py
TIGHT = {"precision": 1e-12, "r_precision": 1e-14}


def cohorts(seed: int, censor_max: float = 30.0, binary: bool = True):
    rng = np.random.default_rng(seed)
    x = rng.binomial(1, 0.4, (R, N)).astype(float) if binary else rng.normal(size=(R, N))
    latent = rng.exponential(10 * np.exp(-0.6 * x))
    censor = rng.uniform(0, censor_max, (R, N))
    time = np.ceil(np.minimum(latent, censor))  # whole months: many ties
    return time, (latent <= censor).astype(float), x


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize(("seed", "censor_max", "binary"), [(1, 30.0, True), (2, 6.0, True), (3, 30.0, False)])
def test_equals_the_general_kernel(seed, censor_max, binary, ties):
    time, event, x = cohorts(seed, censor_max, binary)
    one = cox_univariable(time, event, x, ties=ties)
    gen = kernels.cox_fit(time, event, x[..., None], ties=ties)
    assert one.converged.all() and gen.converged.all()
    for name in ("beta", "se", "p", "hr_lo", "hr_hi"):
        np.testing.assert_allclose(getattr(one, name), getattr(gen, name), rtol=FIT_TOL, atol=1e-12)
    np.testing.assert_allclose(one.loglik, gen.loglik, rtol=1e-9)


def test_efron_equals_lifelines_and_breslow_equals_statsmodels():
    time, event, x = cohorts(4)
    efron = cox_univariable(time, event, x, ties="efron")
    breslow = cox_univariable(time, event, x, ties="breslow")
    for r in range(3):
        ll = CoxPHFitter().fit(pd.DataFrame({"x": x[r], "T": time[r], "E": event[r]}), "T", "E", fit_options=TIGHT)
        assert abs(efron.beta[r, 0] - ll.params_["x"]) < FIT_TOL
        assert abs(efron.se[r, 0] - ll.standard_errors_["x"]) < FIT_TOL
        ref = sm.PHReg(time[r], x[r][:, None], status=event[r], ties="breslow").fit()
        assert abs(breslow.beta[r, 0] - ref.params[0]) < FIT_TOL
        assert abs(breslow.se[r, 0] - ref.bse[0]) < FIT_TOL


def test_mask_and_missing_values_drop_patients_per_replicate():
    time, event, x = cohorts(5)
    x[0, :10] = np.nan
    mask = np.ones(time.shape, dtype=bool)
    mask[1, ::3] = False
    fit = cox_univariable(time, event, x, mask)
    for r in (0, 1):
        keep = mask[r] & np.isfinite(x[r])
        alone = cox_univariable(time[r][keep], event[r][keep], x[r][keep])
        assert fit.beta[r, 0] == pytest.approx(alone.beta[0, 0], rel=1e-12)


def test_no_events_and_monotone_likelihood_are_flagged_not_raised():
    time, event, x = cohorts(6)
    event[0] = 0  # no events at all
    event[1][x[1] == 1] = 0  # the exposed never have an event: beta -> -inf
    fit = cox_univariable(time, event, x, nan_if_unconverged=False)
    assert fit.converged.tolist() == [False, False, True, True, True, True]
    assert np.isnan(fit.beta[0, 0]) or fit.beta[0, 0] == 0.0
    assert fit.beta[1, 0] < -10 or fit.se[1, 0] > 5  # what a caller reads as "not estimable"
    assert np.isfinite(fit.beta[2:]).all()


def test_one_cohort_as_a_1d_array():
    time, event, x = cohorts(7)
    fit = cox_univariable(time[2], event[2], x[2])
    batch = cox_univariable(time, event, x)
    assert fit.beta.shape == (1, 1) and fit.beta[0, 0] == pytest.approx(batch.beta[2, 0], rel=1e-12)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_several_models_of_one_outcome_equal_separate_fits(ties):
    time, event, x = cohorts(8)
    rng = np.random.default_rng(8)
    xs = np.stack([x, rng.normal(size=x.shape), np.where(rng.random(x.shape) < 0.2, np.nan, x)], axis=-1)
    mask = rng.random(time.shape) > 0.1
    many = cox_univariable(time, event, xs, mask, ties=ties)
    assert many.beta.shape == (R, 3) and many.converged.shape == (R, 3)
    for f in range(3):
        one = cox_univariable(time, event, xs[..., f], mask, ties=ties)
        np.testing.assert_allclose(many.beta[:, f], one.beta[:, 0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(many.se[:, f], one.se[:, 0], rtol=1e-10)
