"""The batched kernels equal lifelines / statsmodels, replicate by replicate.

Cohorts are random but seeded, with the awkward features of real data: tied times (times
rounded to whole months), heavy censoring, and per-replicate missingness (mask / NaN).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceWarning
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times

from helpers import kernels

R, N = 4, 90
EXACT = 1e-9  # closed-form quantities: only floating-point summation order differs
# Newton fits: both sides converge to ~1e-10; the task's bar is 1e-6 on coefficients and SEs
FIT_TOL = 1e-6
# lifelines stops Cox iterations at a step norm of 1e-7 (damped steps), leaving ~1e-6 of its
# own error; a tighter stop makes it a reference good to ~1e-11 (measured)
TIGHT = {"precision": 1e-12, "r_precision": 1e-14}


def cohorts(seed: int, censor_max: float = 30.0, r: int = R, n: int = N):
    """R cohorts: binary, normal and 3-level covariates; exponential times rounded (ties)."""
    rng = np.random.default_rng(seed)
    x = np.stack(
        [rng.binomial(1, 0.5, (r, n)), rng.normal(size=(r, n)), rng.integers(0, 3, (r, n))], axis=-1
    ).astype(float)
    latent = rng.exponential(10 * np.exp(-0.6 * x[..., 0] + 0.3 * x[..., 1]))
    censor = rng.uniform(0, censor_max, (r, n))
    time = np.ceil(np.minimum(latent, censor))  # whole months: many ties
    event = (latent <= censor).astype(float)
    return time, event, x


def lifelines_km(time, event):
    return KaplanMeierFitter().fit(time, event)


@pytest.mark.parametrize(("seed", "censor_max"), [(1, 30.0), (2, 30.0), (3, 8.0)])
def test_km_median_ci_and_landmarks_equal_lifelines(seed, censor_max):
    time, event, _ = cohorts(seed, censor_max)
    curves = kernels.kaplan_meier(time, event)
    med, lo, hi = kernels.median(curves)
    landmarks = [3.0, 6.0, 7.5]
    s, s_lo, s_hi = kernels.survival_at(curves, landmarks)
    for r in range(R):
        km = lifelines_km(time[r], event[r])
        # lifelines' curve and band, R's crossing rule (lifelines has no midpoint rule)
        assert [med[r], lo[r], hi[r]] == list(kernels.km.lifelines_median(km))
        want_ci = km.confidence_interval_.reindex(landmarks, method="ffill").to_numpy()
        assert np.allclose(s[r], km.survival_function_at_times(landmarks), atol=EXACT)
        assert np.allclose(np.c_[s_lo[r], s_hi[r]], want_ci, atol=EXACT)


def test_km_heavy_censoring_gives_not_reached_like_lifelines():
    time, event, _ = cohorts(4, censor_max=3.0)
    med, lo, hi = kernels.km_median(time, event)
    assert np.isinf(med).all()
    for r in range(R):
        ci = median_survival_times(lifelines_km(time[r], event[r]).confidence_interval_)
        assert [lo[r], hi[r]] == list(ci.to_numpy()[0])


def test_km_mask_equals_fitting_the_kept_patients():
    time, event, _ = cohorts(5)
    mask = np.random.default_rng(5).random(time.shape) > 0.3
    med, lo, hi = kernels.km_median(time, event, mask)
    s, _, _ = kernels.km_survival_at(time, event, [100.0], mask)
    assert np.isnan(s).all()  # beyond follow-up S is not estimated
    for r in range(R):
        km = lifelines_km(time[r][mask[r]], event[r][mask[r]])
        assert [med[r], lo[r], hi[r]] == list(kernels.km.lifelines_median(km))


# R survival's own outputs (expected values typed from R, never from this code):
# tests/quantile.Rout.save of the survival package (test1 data, conf.type "log"), and the classic
# print(survfit(Surv(time, status) ~ 1 / ~ sex, data = lung)) and ~ x, data = aml outputs.
R_TEST1 = {"time": [9, 1, 1, 6, 6, 8, 10], "status": [1, 1, 0, 1, 1, 0, 0], "x": [0, 1, 1, 1, 0, 0, 0]}
R_LEVELS = [13 / 14, 6 / 7, 2 / 3, 0.5, 9 / 35, 0.1]  # survival levels of quantile.Rout.save
NA = np.inf  # R's NA for a quantile the curve never reaches


def _quantiles(time, status, conf_type="log"):
    curves = kernels.kaplan_meier(np.asarray(time, float), np.asarray(status, float), conf_type=conf_type)
    return np.array([[a[0] for a in kernels.median(curves, q)] for q in R_LEVELS]).T  # (3, levels)


def test_km_quantiles_equal_r_survival_quantile_test():
    est, lower, upper = _quantiles(R_TEST1["time"], R_TEST1["status"])
    assert list(est) == [1, 3.5, 6, 9, 9.5, NA]  # 3.5 and 9.5: midpoints of flat stretches
    assert list(lower) == [1, 1, 1, 6, 6, 9]
    assert list(upper) == [NA] * 6


@pytest.mark.parametrize(("group", "est", "lower"), [
    (0, [6, 6, 9, 9, NA, NA], [6, 6, 6, 6, 9, 9]),
    (1, [1, 1, 3.5, 6, 6, 6], [1, 1, 1, 1, NA, NA]),
])  # fmt: skip
def test_km_quantiles_equal_r_survival_by_stratum(group, est, lower):
    keep = np.asarray(R_TEST1["x"]) == group
    got = _quantiles(np.asarray(R_TEST1["time"])[keep], np.asarray(R_TEST1["status"])[keep])
    assert list(got[0]) == est and list(got[1]) == lower


def test_km_median_midpoint_rule_on_a_flat_half():
    # times 1…6 uncensored: S = 0.5 exactly from 3 to 4; R and SAS give 3.5 (lifelines gives 4)
    med, _, _ = kernels.km_median(np.arange(1.0, 7.0), np.ones(6))
    assert med[0] == 3.5
    assert lifelines_km(np.arange(1.0, 7.0), np.ones(6)).median_survival_time_ == 4.0  # the difference


@pytest.mark.parametrize(("subset", "expected"), [
    ("all", (310, 285, 363)), ("sex == 1", (270, 212, 310)), ("sex == 2", (426, 348, 550)),
])  # fmt: skip
def test_km_median_ci_equal_r_survival_on_lung(subset, expected):
    from lifelines.datasets import load_lung

    lung = load_lung() if subset == "all" else load_lung().query(subset)
    med, lo, hi = kernels.km_median(lung.time.to_numpy(float), lung.status.to_numpy(float), conf_type="log")
    assert (med[0], lo[0], hi[0]) == expected


# aml (survival package): weeks to relapse, maintained vs not maintained chemotherapy
AML = {"maintained": ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]),
       "nonmaintained": ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])}


@pytest.mark.parametrize(("arm", "expected"), [("maintained", (31, 18, NA)), ("nonmaintained", (23, 8, NA))])
def test_km_median_ci_equal_r_survival_on_aml(arm, expected):
    time, status = AML[arm]
    med, lo, hi = kernels.km_median(np.asarray(time, float), np.asarray(status, float), conf_type="log")
    assert (med[0], lo[0], hi[0]) == expected


@pytest.mark.parametrize("seed", [6, 7])
def test_logrank_equals_lifelines_two_and_three_groups(seed):
    time, event, x = cohorts(seed)
    mask = np.random.default_rng(seed).random(time.shape) > 0.2
    chi2_2, df_2, p_2 = kernels.logrank(time, event, x[..., 0])
    chi2_3, df_3, p_3 = kernels.logrank(time, event, x[..., 2], mask=mask)
    assert (df_2 == 1).all() and (df_3 == 2).all()
    for r in range(R):
        two = logrank_test(*(time[r][x[r, :, 0] == g] for g in (0, 1)),
                           *(event[r][x[r, :, 0] == g] for g in (0, 1)))  # fmt: skip
        m = mask[r]
        three = multivariate_logrank_test(time[r][m], x[r, m, 2], event[r][m])
        assert chi2_2[r] == pytest.approx(two.test_statistic, abs=EXACT)
        assert p_2[r] == pytest.approx(two.p_value, abs=EXACT)
        assert chi2_3[r] == pytest.approx(three.test_statistic, abs=EXACT)
        assert p_3[r] == pytest.approx(three.p_value, abs=EXACT)


def lifelines_cox(time, event, x):
    df = pd.DataFrame(x, columns=[f"x{j}" for j in range(x.shape[1])]).assign(T=time, E=event)
    return CoxPHFitter().fit(df, "T", "E", fit_options=TIGHT)


@pytest.mark.parametrize(("seed", "censor_max"), [(8, 30.0), (9, 30.0), (10, 6.0)])
def test_cox_efron_equals_lifelines(seed, censor_max):
    time, event, x = cohorts(seed, censor_max)
    fit = kernels.cox_fit(time, event, x)
    assert fit.converged.all()
    for r in range(R):
        ref = lifelines_cox(time[r], event[r], x[r])
        assert np.abs(fit.beta[r] - ref.params_.to_numpy()).max() < FIT_TOL
        assert np.abs(fit.se[r] - ref.standard_errors_.to_numpy()).max() < FIT_TOL
        assert np.allclose(fit.p[r], ref.summary["p"], atol=FIT_TOL)
        ci = np.exp(ref.confidence_intervals_.to_numpy())
        assert np.allclose(np.c_[fit.hr_lo[r], fit.hr_hi[r]], ci, rtol=FIT_TOL)


def test_cox_complete_case_mask_and_nan_equal_lifelines_on_kept_rows():
    time, event, x = cohorts(11)
    x[0, :10, 1] = np.nan  # missing covariate: dropped from replicate 0 only
    mask = np.ones(time.shape, dtype=bool)
    mask[1, ::3] = False
    fit = kernels.cox_fit(time, event, x, mask)
    for r in (0, 1):
        keep = mask[r] & np.isfinite(x[r]).all(1)
        ref = lifelines_cox(time[r][keep], event[r][keep], x[r][keep])
        assert np.abs(fit.beta[r] - ref.params_.to_numpy()).max() < FIT_TOL


def test_cox_breslow_equals_statsmodels_phreg():
    time, event, x = cohorts(12, r=2)
    fit = kernels.cox_fit(time, event, x, ties="breslow")
    for r in range(2):
        ref = sm.PHReg(time[r], x[r], status=event[r], ties="breslow").fit()
        assert np.abs(fit.beta[r] - ref.params).max() < FIT_TOL
        assert np.abs(fit.se[r] - ref.bse).max() < FIT_TOL


def test_cox_no_events_in_one_arm_is_flagged_where_lifelines_diverges():
    time, event, x = cohorts(13)
    event[1][x[1, :, 0] == 1] = 0  # replicate 1: arm x0 = 1 has no events, no finite MLE
    fit = kernels.cox_fit(time, event, x)
    assert fit.converged.tolist() == [True, False, True, True]
    assert np.isnan(fit.beta[1]).all() and np.isfinite(fit.beta[[0, 2, 3]]).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = CoxPHFitter().fit(
            pd.DataFrame(x[1], columns=["a", "b", "c"]).assign(T=time[1], E=event[1]), "T", "E"
        )
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert ref.params_["a"] < -8  # lifelines wanders off towards -inf before stopping


def test_cox_replicate_without_events_is_nan_not_an_error():
    time, event, x = cohorts(14, r=2)
    event[0] = 0
    fit = kernels.cox_fit(time, event, x)
    assert fit.converged.tolist() == [False, True]


@pytest.mark.parametrize("seed", [16, 17, 18])
def test_logistic_equals_statsmodels_logit(seed):
    rng = np.random.default_rng(seed)
    x = np.stack([rng.binomial(1, 0.4, (R, N)), rng.normal(size=(R, N))], axis=-1).astype(float)
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + 0.8 * x[..., 0] - 0.4 * x[..., 1]))))
    mask = rng.random((R, N)) > 0.1
    fit = kernels.logistic_fit(y, x, mask)
    assert fit.converged.all()
    for r in range(R):
        m = mask[r]
        ref = sm.Logit(y[r][m], sm.add_constant(x[r][m])).fit(disp=0, tol=1e-12)
        assert np.abs(fit.beta[r] - ref.params).max() < FIT_TOL
        assert np.abs(fit.se[r] - ref.bse).max() < FIT_TOL
        assert np.allclose(fit.p[r], ref.pvalues, atol=FIT_TOL)
        assert np.allclose(np.log(np.c_[fit.or_lo[r], fit.or_hi[r]]), ref.conf_int(), atol=FIT_TOL)


def test_logistic_separation_is_flagged_not_raised():
    rng = np.random.default_rng(19)
    x = rng.normal(size=(2, 60))
    y = rng.binomial(1, 0.5, (2, 60))
    y[0] = (x[0] > 0).astype(int)  # perfectly separated: no finite MLE
    fit = kernels.logistic_fit(y, x)
    assert fit.converged.tolist() == [False, True]
    assert np.isnan(fit.beta[0]).all()


def test_degenerate_replicates_give_nan_not_errors():
    time, event, x = cohorts(20, r=3)
    mask = np.ones(time.shape, dtype=bool)
    mask[0] = False  # replicate 0: nobody left
    event[1] = 0  # replicate 1: no events
    x[2, :, 1] = 1.0  # replicate 2: a constant covariate, not identifiable
    med, lo, hi = kernels.km_median(time, event, mask)
    assert np.isnan([med[0], lo[0], hi[0]]).all() and np.isinf(med[1])
    chi2, _, p = kernels.logrank(time, event, x[..., 0], mask)
    assert np.isnan(p[:2]).all() and np.isfinite(p[2])
    fit = kernels.cox_fit(time, event, x, mask)
    assert not fit.converged.any() and np.isnan(fit.beta).all()


@pytest.mark.parametrize("bad", ["event", "ties"])
def test_bad_input_raises_value_error_naming_it(bad):
    time, event, x = cohorts(21, r=1)
    if bad == "event":
        with pytest.raises(ValueError, match="event"):
            kernels.km_median(time, event * 2)
    else:
        with pytest.raises(ValueError, match="ties"):
            kernels.cox_fit(time, event, x, ties="exact")


def all_estimates(time, event, x):
    """Cox coefficients, KM median with CI, 3-group log-rank chi2, S at time 0."""
    return (kernels.cox_fit(time, event, x).beta, np.stack(kernels.km_median(time, event)),
            kernels.logrank(time, event, x[..., 2])[0], kernels.km_survival_at(time, event, [0.0])[0])  # fmt: skip


def test_results_do_not_depend_on_patient_order():
    # the kernels sort by time and group ties themselves: shuffling rows must change nothing
    time, event, x = cohorts(22)
    perm = np.random.default_rng(22).permutation(N)
    beta, med, chi2, s0 = all_estimates(time, event, x)
    beta_p, med_p, chi2_p, s0_p = all_estimates(time[:, perm], event[:, perm], x[:, perm])
    # tied rows summed in another order: rounding-level differences only
    assert np.allclose(beta_p, beta, atol=1e-12) and np.allclose(chi2_p, chi2, atol=EXACT)
    assert np.array_equal(med_p, med)
    assert (s0 == 1.0).all() and (s0_p == 1.0).all()  # before the first time nobody has failed


def _fisher_exact_by_enumeration(table):
    """Exact r x c Fisher P for a small 2 x k table: every table with these margins, enumerated."""
    import itertools

    from scipy.special import gammaln

    yes, totals = np.asarray(table[0]), np.asarray(table).sum(0)

    def logp(y):
        return (gammaln(totals + 1) - gammaln(y + 1) - gammaln(totals - y + 1)).sum()

    tables = [np.array(y) for y in itertools.product(*(range(t + 1) for t in totals)) if sum(y) == yes.sum()]
    lp = np.array([logp(y) for y in tables])
    w = np.exp(lp - lp.max())
    return float(w[lp <= logp(yes) + 1e-7].sum() / w.sum())


@pytest.mark.parametrize("table", [[[3, 0, 1], [1, 4, 2]], [[5, 2, 0, 3], [1, 6, 4, 2]]])
def test_fisher_2xk_monte_carlo_equals_exact_enumeration(table):
    from helpers.kernels.exact import fisher_2xk

    exact = _fisher_exact_by_enumeration(table)
    t = np.asarray(table)
    p = fisher_2xk(np.repeat(t[:1], 3, 0), np.repeat(t.sum(0)[None], 3, 0),
                   [np.random.default_rng(s) for s in range(3)], resamples=20000)  # fmt: skip
    assert np.allclose(p, exact, atol=4 * np.sqrt(exact * (1 - exact) / 20000) + 1e-4)  # 4 MC SEs


def test_fisher_2xk_agrees_with_scipy_r_by_c_fisher():
    from scipy import stats

    from helpers.kernels.exact import fisher_2xk

    t = np.array([[10, 5, 8, 3, 12], [20, 14, 9, 8, 22]])
    mine = fisher_2xk(t[:1], t.sum(0)[None], [np.random.default_rng(1)], resamples=20000)[0]
    ref = stats.fisher_exact(t, method=stats.MonteCarloMethod(n_resamples=20000, rng=np.random.default_rng(2))).pvalue
    assert mine == pytest.approx(ref, abs=0.02)  # two Monte Carlo P of 20,000 tables: SE ~0.003 each


def test_followup_median_is_the_reverse_km_median_of_lifelines():
    time, event, _ = cohorts(8)
    got = kernels.km.followup_median(time, event)
    for r in range(R):
        assert got[r] == kernels.km.lifelines_median(lifelines_km(time[r], 1 - event[r]))[0]


# More of R survival's published outputs on `lung` (reference facts; R's default log CI)
@pytest.mark.parametrize(("ecog", "expected"), [(0, (394, 348, 574)), (1, (306, 268, 429)), (2, (199, 156, 288)),
                                                (3, (118, NA, NA))])  # fmt: skip
def test_km_median_ci_equal_r_survival_on_lung_by_ecog(ecog, expected):
    from lifelines.datasets import load_lung

    lung = load_lung().query("`ph.ecog` == @ecog")
    med, lo, hi = kernels.km_median(lung.time.to_numpy(float), lung.status.to_numpy(float), conf_type="log")
    assert (med[0], lo[0], hi[0]) == expected


def test_km_landmarks_equal_r_survival_on_lung_ecog_1():
    from lifelines.datasets import load_lung

    lung = load_lung().query("`ph.ecog` == 1")
    s, _, _ = kernels.km_survival_at(lung.time.to_numpy(float), lung.status.to_numpy(float), [30, 180, 365, 730])
    assert np.round(s[0], 3).tolist() == [0.982, 0.751, 0.431, 0.114]  # R prints 3 decimals


@pytest.mark.parametrize(("covariates", "expected"), [
    (["ph.ecog", "age"], {"ph.ecog": (0.443485, 0.115831), "age": (0.011281, 0.009319)}),
    (["age", "sex"], {"age": (0.017045, 0.009223), "sex": (-0.513219, 0.167458)}),
])  # fmt: skip
def test_cox_equals_r_coxph_on_lung(covariates, expected):
    from lifelines.datasets import load_lung

    lung = load_lung().dropna(subset=covariates)
    fit = kernels.cox_fit(lung.time.to_numpy(float), lung.status.to_numpy(float), lung[covariates].to_numpy(float))
    for j, name in enumerate(covariates):
        assert (round(fit.beta[0, j], 6), round(fit.se[0, j], 6)) == pytest.approx(expected[name], abs=2e-6)  # R prints 6 decimals
