"""A spec paper's two engines agree (helpers.spec.analysis): ``rederive`` (lifelines, statsmodels,
scipy on one cohort) and ``analyse`` (the batched kernels on many) give the same number for every
quantity kind, and the reference engine equals the libraries called by hand."""

import numpy as np
import pandas as pd
import pytest
import spec_support
from lifelines import CoxPHFitter, KaplanMeierFitter
from scipy import stats
from statsmodels.formula.api import logit

from helpers import kernels
from helpers.spec import analysis, bind, model, plan

SEEDS = (11, 12, 13)
# Tolerance per quantity kind, with its reason. Closed forms (counts, Clopper-Pearson, KM curves
# read by the same crossing rule, log-rank, Fisher, chi-squared): only summation order differs.
EXACT = 1e-9
# Newton fits: lifelines stops Cox iterations at a step of ~1e-7 and statsmodels Logit/PHReg at
# their default tolerances, leaving ~1e-6 relative error in the ratio and its CI (tests/test_kernels.py
# shows the kernels equal the libraries to 1e-6 when the libraries are pushed to 1e-12)
FIT_RTOL = 2e-5
TOLERANCE = {"HR": FIT_RTOL, "OR": FIT_RTOL}
CALIBRATED = {"resp_prob": 0.7, "pfs_cure": 0.2, "pfs_median": 4.0}


@pytest.fixture
def toy(scratch_data, monkeypatch):
    spec_support.register(scratch_data, monkeypatch)
    return bind("toy", "settings").load(calibrated=CALIBRATED)


def _whole_months(c):
    """Event and censoring times rounded up to whole months, as many registries record them: ties."""
    return {k: (np.ceil(v) if k.endswith("_time") else v) for k, v in c.items()}


def _compare(toy_settings, seeds=SEEDS, transform=None):
    cohorts = [model.simulate(np.random.default_rng(s), toy_settings) for s in seeds]
    cohorts = [transform(c) for c in cohorts] if transform else cohorts
    draws = analysis.analyse(cohorts, toy_settings)
    out = []
    for rep, c in enumerate(cohorts):
        rows = analysis.rederive(c, toy_settings, np.random.default_rng(0))
        got = draws[draws.rep == rep].merge(rows, on=["claim_id", "item"])
        out.append(got)
    return pd.concat(out, ignore_index=True)


def _assert_equal(got):
    assert len(got) > 0
    for r in got.itertuples():
        rtol = FIT_RTOL if "Wald" in r.method else TOLERANCE.get(r.quantity, EXACT)  # a P from a fit
        bare_p = r.quantity == "P"
        pairs = [(r.estimate, r.rederived), (r.lo, r.rederived_lo), (r.hi, r.rederived_hi), (r.p, r.rederived_p)]
        for a, b in pairs if not bare_p else [(r.p, r.rederived_p), (r.estimate, r.rederived)]:
            a, b = float(a), float(b)
            same = (np.isnan(a) and np.isnan(b)) or a == b or np.isclose(a, b, rtol=rtol, atol=rtol * 1e-3)
            assert same, f"{r.claim_id}/{r.item} ({r.quantity}): batched {a} vs reference {b}"


def test_every_quantity_kind_is_rederived(toy):
    kinds = {it.quantity for it in plan.load("toy").items.values()}
    assert kinds == {"n", "count", "percent", "median", "landmark_survival", "landmark_event", "followup",
                     "HR", "OR", "P"}  # fmt: skip
    tests = {it.test for it in plan.load("toy").items.values() if it.test}
    assert tests == {"logrank", "cox_wald", "wald", "fisher", "chi2"}


def test_single_cohort_equals_batched_for_every_item(toy):
    got = _compare(toy)
    assert set(got.quantity) >= {"n", "count", "percent", "median", "landmark_survival", "landmark_event",
                                 "followup", "HR", "OR", "P"}  # fmt: skip
    _assert_equal(got)


def test_single_cohort_equals_batched_with_breslow_ties(toy):
    """The declared ties choice reaches both engines (statsmodels PHReg is the Breslow reference)."""
    got = _compare(toy.replace(cox_ties="breslow"), seeds=SEEDS[:2], transform=_whole_months)
    _assert_equal(got)
    efron = _compare(toy, seeds=SEEDS[:1], transform=_whole_months)
    _assert_equal(efron)
    hr = lambda df: df.set_index("item").loc["os_hr_bulky_multi", "estimate"]  # noqa: E731
    assert abs(hr(got[got.rep == 0]) / hr(efron) - 1) > 1e-4  # tied times: the two rules differ


def test_reference_engine_equals_the_libraries_called_by_hand(toy):
    c = model.simulate(np.random.default_rng(5), toy)
    rows = analysis.rederive(c, toy).set_index("item")
    df = pd.DataFrame(c)
    # KM median of OS in arm a (a subset), lifelines with R's midpoint rule
    a = df[df.group == 0]
    want = kernels.km.lifelines_median(KaplanMeierFitter().fit(a.os_time, a.os_event))
    sub = plan.load("toy").items["TOY-03/os_median"]
    assert sub.map.subset == {} and rows.loc["os_median", "rederived"] == pytest.approx(
        kernels.km.lifelines_median(KaplanMeierFitter().fit(df.os_time, df.os_event))[0])
    assert np.isfinite(want[0]) or want[0] == np.inf
    # multivariable Cox: bulky + age per 10 years + stage indicator, complete cases (age missing)
    cc = df.assign(age10=df.age / 10, stage_iv=(df.stage == 1).astype(float)).dropna(subset=["age10"])
    fit = CoxPHFitter().fit(cc[["os_time", "os_event", "bulky", "age10", "stage_iv"]], "os_time", "os_event")
    assert rows.loc["os_hr_bulky_multi", "rederived"] == pytest.approx(np.exp(fit.params_["bulky"]), rel=1e-9)
    assert rows.loc["os_wald_p_stage", "rederived"] != rows.loc["os_hr_bulky_multi", "rederived_p"]
    # logistic OR of response on bulky
    res = logit("response ~ bulky", df).fit(disp=0)
    assert rows.loc["or_bulky", "rederived"] == pytest.approx(np.exp(res.params["bulky"]), rel=1e-6)
    # percent of a categorical level with its exact CI; Fisher's test of CR by arm
    k, n = int((df.stage == 1).sum()), len(df)
    ci = stats.binomtest(k, n).proportion_ci(method="exact")
    assert rows.loc["stage_iv_pct", ["rederived", "rederived_lo", "rederived_hi"]].tolist() == pytest.approx(
        [100 * k / n, 100 * ci.low, 100 * ci.high])
    table = pd.crosstab(df.group, df.cr).to_numpy()
    assert rows.loc["cr_by_arm_fisher_p", "rederived"] == pytest.approx(stats.fisher_exact(table)[1])
    # landmark at 1 year (ledger time 1, item time_unit years): KM at 12 months, as an event share
    km = KaplanMeierFitter().fit(df.os_time, df.os_event)
    assert rows.loc["os_event_1y", "rederived"] == pytest.approx(100 * (1 - km.survival_function_at_times(12.0).iloc[0]))


def test_unmapped_items_are_rows_without_a_rederived_value(toy):
    rows = analysis.rederive(model.simulate(np.random.default_rng(1), toy), toy).set_index("item")
    assert pd.isna(rows.loc["arm_a", "rederived"]) and "does not say how to compute it" in rows.loc["arm_a", "note"]
    assert rows.loc["arm_a", "role"] == "input"


def test_a_median_not_reached_stays_infinite_in_both_engines(toy):
    s = toy.replace(post_median=400.0)  # post-progression survival far beyond follow-up: OS not reached
    got = _compare(s, seeds=SEEDS[:1]).set_index("item")
    assert got.loc["os_median", "estimate"] == np.inf and got.loc["os_median", "rederived"] == np.inf


def test_a_printed_p_reads_the_fit_of_its_ratio(toy):
    """An HR or OR and its P printed apart come from one fit (one kernel call per model)."""
    cohorts = [model.simulate(np.random.default_rng(s), toy) for s in SEEDS]
    d = analysis.analyse(cohorts, toy).set_index(["item", "rep"])
    assert np.array_equal(d.loc["or_bulky_p", "estimate"], d.loc["or_bulky", "p"])
    assert np.array_equal(d.loc["os_hr_age_p", "estimate"], d.loc["os_hr_age", "p"])
