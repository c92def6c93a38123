"""The generative model of a study spec (helpers.spec.model) draws what the spec declares: margins,
copula correlations, nested and ordered endpoints, proportional hazards with a cure share,
censoring from accrual and follow-up, missingness, and determinism for a seed."""

import math

import numpy as np
import pytest
import spec_support
from scipy import stats

from helpers import kernels
from helpers.spec import analysis, bind, model
from helpers.spec.schema import SpecError

CALIBRATED = {"resp_prob": 0.7, "pfs_cure": 0.2, "pfs_median": 4.0}
BIG = 60  # 300 x 60 = 18,000 patients: Monte Carlo SE of a share <= 0.004, of a log HR ~ 0.02


@pytest.fixture
def toy(scratch_data, monkeypatch):
    spec_support.register(scratch_data, monkeypatch)
    return bind("toy", "settings").load(calibrated=CALIBRATED)


def _big(settings, seed=3, **overrides):
    return model.simulate(np.random.default_rng(seed), settings.replace(**overrides).scaled(BIG))


def _within(x, want, se, k=4.0):
    """x within k Monte Carlo SEs of want (k = 4: a false alarm once in ~16,000 runs)."""
    assert abs(x - want) <= k * se, f"{x} vs {want} (SE {se})"


def test_margins_are_the_declared_ones(toy):
    c = _big(toy)
    n = c["group"].size
    assert n == 300 * BIG and (c["group"] == 0).sum() == 150 * BIG
    _within(c["bulky"].mean(), 120 / 300, math.sqrt(0.24 / n))  # prevalence = count / n of the ref
    _within((c["stage"] == 1).mean(), 0.35, math.sqrt(0.35 * 0.65 / n))  # the printed 35%
    age = c["age"][~np.isnan(c["age"])]
    _within(age.mean(), 62.0, 10 / math.sqrt(age.size))
    _within(age.std(), 10.0, 10 / math.sqrt(2 * age.size))
    _within(np.isnan(c["age"]).mean(), 0.05, math.sqrt(0.05 * 0.95 / n))  # MCAR share


def test_copula_gives_the_declared_latent_correlation(toy):
    c = _big(toy, rho_bulky_stage=0.5)
    p1, p2 = 0.4, 0.35
    both = stats.multivariate_normal(cov=[[1, 0.5], [0.5, 1]]).cdf([stats.norm.ppf(p1), stats.norm.ppf(p2)])
    observed = np.mean((c["bulky"] == 1) & (c["stage"] == 1))
    _within(observed, both, math.sqrt(both * (1 - both) / c["group"].size))
    assert both > p1 * p2 + 0.05  # the check can tell correlated from independent


def test_nested_and_ordered_endpoints(toy):
    c = _big(toy)
    assert np.all(c["cr"] <= c["response"])  # complete response only within response
    assert np.all(c["pfs_time"] <= c["os_time"])  # OS = progression + post-progression survival
    assert np.all(c["os_event"] <= c["pfs_event"])  # no death without progression before it
    responders = c["response"] == 1
    _within(c["cr"][responders].mean(), 0.64, math.sqrt(0.64 * 0.36 / responders.sum()))


def test_censoring_is_uniform_accrual_then_followup(toy):
    c = _big(toy)
    censored = c["os_event"] == 0
    t = c["os_time"][censored]
    assert t.min() >= 18.0 and t.max() <= 18.0 + 24.0  # followup after the last patient + accrual
    assert np.all(c["pfs_time"][c["pfs_event"] == 0] == c["os_time"][c["pfs_event"] == 0])  # one cut-off


def test_proportional_hazards_with_a_cure_share(toy):
    """S(t | x) = S0(t) ** exp(lp): a Cox fit recovers the declared log HR, the cure share and the
    uncured Weibull median give the KM curve, with the other effects set to 0."""
    off = {"log_hr_bulky_pfs": 0.0, "log_hr_cr": 0.0}
    c = _big(toy, **off)
    fit = kernels.cox_fit(c["pfs_time"], c["pfs_event"], c["group"])
    _within(fit.beta[0, 0], -0.29, fit.se[0, 0])
    a = c["group"] == 0  # the baseline group: S = cure + (1 - cure) S_weibull
    curves = kernels.kaplan_meier(c["pfs_time"][a], c["pfs_event"][a])
    s_med = kernels.survival_at(curves, [4.0])[0][0, 0]
    _within(s_med, 0.2 + 0.8 * 0.5, math.sqrt(0.25 / a.sum()))
    s_late = kernels.survival_at(curves, [18.0])[0][0, 0]
    want = 0.2 + 0.8 * math.exp(-math.log(2) * (18.0 / 4.0) ** 1.0)  # pfs_shape 1
    _within(s_late, want, math.sqrt(want * (1 - want) / a.sum()))


def test_baseline_inversions_are_exact():
    h = np.array([0.0, 0.1, math.log(2), 2.0, np.inf])
    weib = model._Baseline("weibull", median=6.0, shape=1.5)
    t = weib.time(h)
    assert np.allclose(np.log(2) * (t[:4] / 6.0) ** 1.5, h[:4]) and t[2] == pytest.approx(6.0) and t[4] == np.inf
    pw = model._Baseline("piecewise", breaks=np.array([6.0, 12.0]), rates=np.array([0.1, 0.05, 0.0]))
    assert pw.time(np.array([0.3, 0.6, 0.75, 0.95])).tolist() == pytest.approx([3.0, 6.0, 9.0, np.inf])
    cure = model._Baseline("weibull", median=6.0, shape=1.0, cure=0.3)
    s = np.exp(-np.array([0.1, 1.0, 2.0]))  # S0 = exp(-H): below the cure share, never
    t = cure.time(-np.log(s))
    assert t[2] == np.inf and 0.3 + 0.7 * math.exp(-math.log(2) * t[0] / 6.0) == pytest.approx(s[0])


def test_a_seed_gives_one_cohort_and_sizes_scale(toy):
    a = model.simulate(np.random.default_rng(7), toy)
    b = model.simulate(np.random.default_rng(7), toy)
    assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    assert model.simulate(np.random.default_rng(7), toy.scaled(3))["group"].size == 900


def test_an_impossible_correlation_is_refused(scratch_data, monkeypatch):
    spec = (spec_support.TOY / "spec.yaml").read_text(encoding="utf-8").replace(
        "    - {between: [bulky, stage], rho: {assumed: rho_bulky_stage}}",
        "    - {between: [bulky, stage], rho: {assumed: rho_bulky_stage}}\n"
        "    - {between: [bulky, age], rho: {assumed: rho_bulky_stage}}\n"
        "    - {between: [stage, age], rho: {assumed: log_hr_arm}}")
    spec_support.register(scratch_data, monkeypatch, spec_text=spec)
    s = bind("toy", "settings").load(calibrated=CALIBRATED, overrides={"rho_bulky_stage": 0.9, "log_hr_arm": -0.9})
    with pytest.raises(SpecError, match="not positive definite"):
        model.simulate(np.random.default_rng(1), s)


def test_an_assumed_share_outside_0_1_is_refused_by_name(toy):
    with pytest.raises(SpecError, match=r"endpoints.cr.probability: \{'assumed': 'cr_given_response'\} gives 1.4"):
        model.simulate(np.random.default_rng(1), toy.replace(cr_given_response=1.4))


def test_dropout_censors_before_the_cut_off(scratch_data, monkeypatch):
    spec = (spec_support.TOY / "spec.yaml").read_text(encoding="utf-8").replace(
        "  followup: {assumed: followup_after_last}", "  followup: {assumed: followup_after_last}\n  dropout: {assumed: dropout}")
    assumed = (spec_support.TOY / "assumed.yaml").read_text(encoding="utf-8") + (
        "dropout:\n  value: 0.05\n  range: [0.0, 0.1]\n  why: patients lost to follow-up\n  source: assumption\n")
    spec_support.register(scratch_data, monkeypatch, spec_text=spec, assumed_text=assumed)
    c = _big(bind("toy", "settings").load(calibrated=CALIBRATED))
    early = (c["os_event"] == 0) & (c["os_time"] < 18.0)
    assert early.mean() > 0.1  # lost to follow-up before the earliest administrative cut-off


def test_a_draft_spec_simulates_nothing_and_rederives_nothing(scratch_data, monkeypatch):
    spec_support.register(scratch_data, monkeypatch, spec_text="paper: toy\nanalysis: {cox_ties: {assumed: cox_ties}}\n")
    s = bind("toy", "settings").load()
    assert model.simulate(np.random.default_rng(1), s) == {}
    assert analysis.analyse([{}], s).empty
    rows = analysis.rederive({}, s)
    assert rows.rederived.isna().all() and rows.note.str.startswith("draft").all()
    assert bind("toy", "calibration") is None


BY_ARM = (("  bulky: {kind: binary, prevalence: {ref: TOY-01/bulky}}",
           "  bulky: {kind: binary, prevalence: {by_group: {a: {ref: TOY-01/bulky}, b: {ref: TOY-01/stage_iv_pct}}}}"),
          ("shares: [{ref: TOY-01/stage_iv_pct}]",
           "shares: {by_group: {a: [{ref: TOY-01/stage_iv_pct}], b: [{ref: TOY-01/bulky_pct}]}}"),
          ("mean: {ref: TOY-01/age_median}", "mean: {by_group: {a: {ref: TOY-01/age_median}, b: {ref: TOY-03/os_median}}}"))


def test_covariates_can_differ_by_group(scratch_data, monkeypatch):
    """A Table 1 printed by arm: each group's margins are its own (the copula and effects unchanged)."""
    spec = (spec_support.TOY / "spec.yaml").read_text(encoding="utf-8")
    for old, new in BY_ARM:
        assert old in spec
        spec = spec.replace(old, new)
    spec_support.register(scratch_data, monkeypatch, spec_text=spec)
    c = _big(bind("toy", "settings").load(calibrated=CALIBRATED))
    a, b = c["group"] == 0, c["group"] == 1
    n = a.sum()
    _within(c["bulky"][a].mean(), 120 / 300, math.sqrt(0.24 / n))  # count / n of TOY-01/bulky
    _within(c["bulky"][b].mean(), 0.35, math.sqrt(0.35 * 0.65 / n))  # the printed 35%
    _within((c["stage"][a] == 1).mean(), 0.35, math.sqrt(0.35 * 0.65 / n))
    _within((c["stage"][b] == 1).mean(), 0.40, math.sqrt(0.24 / n))
    age_a, age_b = c["age"][a & ~np.isnan(c["age"])], c["age"][b & ~np.isnan(c["age"])]
    _within(age_a.mean(), 62.0, 10 / math.sqrt(age_a.size))
    _within(age_b.mean(), 26.0, 10 / math.sqrt(age_b.size))  # TOY-03/os_median printed 26


def test_a_by_group_covariate_must_name_every_group(scratch_data, monkeypatch):
    spec = (spec_support.TOY / "spec.yaml").read_text(encoding="utf-8").replace(*BY_ARM[0]).replace("b: {ref: TOY-01/stage_iv_pct}", "c: {ref: TOY-01/stage_iv_pct}")
    path = spec_support.register(scratch_data, monkeypatch, spec_text=spec)
    from helpers.spec import schema

    with pytest.raises(SpecError, match=r"covariates.bulky.prevalence.by_group: the groups named differ.*Fix: give one for each of a, b"):
        schema.read(path)
