"""Verdicts that could have failed (helpers.verdicts): percentiles, power, statuses, winner's curse.

Worked cases with known answers, and the power shortcut (shift the model's replicate
distribution to the alternative) against full simulations in which the effect is removed.
"""

import math

import numpy as np
import pytest
from scipy import stats

from helpers import kernels, verdicts

R = 4000


def normal_draws(mean, sd, n=R, seed=0):
    return np.random.default_rng(seed).normal(mean, sd, n)


@pytest.mark.parametrize(("printed", "value", "quantity", "expected"), [
    ("2.66", 2.66, "HR", (2.655, 2.665, 0.005)),
    ("72", 72.0, "count", (72.0, 72.0, 0.0)),  # a count is exact
    ("38.9", 38.9, "percent", (38.85, 38.95, 0.05)),
    ("<40", 40.0, "percent", (0.0, 40.0, 0.0)),  # a bound: every value below it
    ("NR", None, "median", (math.inf, math.inf, 0.0)),  # not reached
    ("<.0001", 0.0001, "P", (0.0, 0.0001, 0.0)),
])  # fmt: skip
def test_printed_interval(printed, value, quantity, expected):
    lo, hi, half = verdicts.printed_interval(printed, value, quantity)
    assert (lo, hi, half) == pytest.approx(expected, rel=1e-8, abs=1e-8)  # FLOAT_SLACK widening


def test_percentile_interval_counts_ties_and_infinities():
    draws = np.array([1.0, 2.0, 2.0, 3.0, np.inf])
    assert verdicts.percentile_interval(draws, 2.0, 2.0) == (0.2, 0.6)
    assert verdicts.percentile_interval(draws, math.inf, math.inf) == (0.8, 1.0)  # NR vs 1 of 5 not reached


def test_value_in_the_middle_is_not_flagged_and_a_far_one_is():
    x = normal_draws(0.0, 1.0)
    inside = verdicts.judge(x, 0.1, 0.1, "difference")
    outside = verdicts.judge(x, 4.0, 4.0, "difference")
    assert not inside.flagged and not inside.borderline
    assert outside.flagged and outside.percentile_lo > 0.999


def test_printed_rounding_interval_that_reaches_the_band_is_not_flagged():
    # band edge at ~1.96; a printed "2.0" stands for [1.95, 2.05], which touches the band
    x = np.sort(normal_draws(0.0, 1.0))
    j = verdicts.judge(x, 1.95, 2.05, "difference")
    assert j.percentile_lo < 1 - verdicts.TAIL


def test_monte_carlo_error_makes_an_edge_value_borderline_not_a_verdict():
    x = normal_draws(0.0, 1.0, n=1000)
    edge = float(np.quantile(x, 0.02))  # just outside the 2.5% tail, within MC error of it
    j = verdicts.judge(x, edge, edge, "difference")
    assert j.borderline and not j.flagged
    assert verdicts.status("held-out", j, True) == "borderline"


def test_power_against_no_effect_matches_the_normal_theory():
    # log HR ~ N(0.5, 0.2): band 0.5 +/- 1.96*0.2; with no effect the estimate is ~ N(0, 0.2)
    x = np.exp(normal_draws(0.5, 0.2))
    j = verdicts.judge(x, 1.64, 1.66, "HR")
    lo_edge = 0.5 - 1.959964 * 0.2
    expected = stats.norm.cdf(lo_edge / 0.2) + stats.norm.sf((0.5 + 1.959964 * 0.2) / 0.2)
    assert j.check_power == pytest.approx(expected, abs=0.03)  # MC error of R = 4000 draws
    assert j.alternative == "no effect (ratio 1)"


def test_coarse_rounding_takes_the_power_away():
    # DESCAR-T's ferritin: HR 1.01 (1.01-1.02) per unit, P = .0002, so SE(log HR) ~ 0.003. Printed
    # to 2 decimals, a null effect prints as "1.00" or "1.01" and mostly meets the model's band
    x = np.exp(normal_draws(math.log(1.01), 0.003))
    j = verdicts.judge(x, 1.005, 1.015, "HR", half_step=0.005)
    assert j.check_power < verdicts.POWER_NEEDED
    assert verdicts.status("held-out", j, True) == "uninformative"


def test_power_of_a_p_value_check_with_a_wide_band_is_low():
    # replicate P values spread over most of (0, 1): no P could have been flagged often
    x = stats.beta(0.4, 1.0).rvs(R, random_state=1)
    j = verdicts.judge(x, 0.0485, 0.0495, "P", half_step=0.0005)
    assert not j.flagged
    assert j.check_power < 0.5
    assert verdicts.status("held-out", j, True) == "uninformative"


def test_power_of_a_strong_effects_p_value_is_high():
    x = 10 ** normal_draws(-8, 1.0)  # P around 1e-8: a uniform P would fall outside the band
    j = verdicts.judge(x, 0.0, 1e-4, "P")
    assert j.check_power > 0.95 and not j.flagged


def test_bound_is_compared_with_the_share_of_replicates_that_satisfy_it():
    x = normal_draws(40.0, 5.0)  # about half the replicates satisfy "<40"
    j = verdicts.judge(x, 0.0, 40.0, "percent")
    assert 0.45 < j.percentile_hi < 0.55 and not j.flagged
    far = verdicts.judge(normal_draws(60.0, 5.0), 0.0, 40.0, "percent")
    assert far.flagged


def test_not_reached_median_against_replicates_that_almost_always_reach_it():
    x = np.r_[normal_draws(5.0, 1.0, n=995), np.full(5, np.inf)]  # 0.5% not reached
    assert verdicts.judge(x, math.inf, math.inf, "median").flagged
    y = np.r_[normal_draws(5.0, 1.0, n=700), np.full(300, np.inf)]
    assert not verdicts.judge(y, math.inf, math.inf, "median").flagged


def test_direction_claim_is_informative_only_when_the_model_is_nearly_certain():
    seen = (np.random.default_rng(2).random(R) < 0.7).astype(float)  # direction in 70% of studies
    j = verdicts.judge(seen, 1.0, 1.0, "qualitative", outcome_null=0.5)
    assert not j.flagged and j.check_power == 0.0
    certain = np.ones(R)
    j2 = verdicts.judge(certain, 1.0, 1.0, "qualitative", outcome_null=0.5)
    assert j2.check_power == 0.5  # a null effect shows the other direction half the time
    never = np.zeros(R)
    assert verdicts.judge(never, 1.0, 1.0, "qualitative").flagged


@pytest.mark.parametrize(("role", "flagged", "borderline", "power", "expected"), [
    ("input", False, False, 1.0, "input"),
    ("held-out", True, False, 1.0, "contradicted"),
    ("held-out", False, True, 1.0, "borderline"),
    ("held-out", False, False, 0.9, "supported"),
    ("calibrated", False, False, 0.5, "uninformative"),
])  # fmt: skip
def test_status_words(role, flagged, borderline, power, expected):
    j = verdicts.Judgement(0.5, 0.5, 0.01, power, "x", flagged, borderline, 1000)
    assert verdicts.status(role, j, True) == expected


def test_no_draws_means_no_band_or_not_rederived():
    assert verdicts.status("held-out", None, True) == "no-band"
    assert verdicts.status("held-out", None, False) == "not-rederived"


def test_exaggeration_of_an_underpowered_effect():
    # effect 0.2 with SE 0.2: significant estimates are those beyond 0.392; their median is the
    # point of the N(0.2, 0.2) tail above 0.392 that halves it
    e = normal_draws(0.2, 0.2, n=20000, seed=3)
    p = 2 * stats.norm.sf(np.abs(e) / 0.2)
    tail = stats.norm.sf(1.959964 - 1.0)
    expected = (0.2 + 0.2 * stats.norm.isf(tail / 2)) / 0.2
    assert verdicts.exaggeration(e, p) == pytest.approx(expected, abs=0.05)  # MC error of 3,400 significant draws
    strong = normal_draws(2.0, 0.2, n=20000, seed=4)
    assert verdicts.exaggeration(strong, 2 * stats.norm.sf(np.abs(strong) / 0.2)) == pytest.approx(1.0, abs=0.02)


# ---------------------------------------------------------------- the shortcut vs full simulation
def _cox_draws(log_hr, reps=600, n=120, seed=0):
    """HR of a binary covariate in ``reps`` simulated studies (exponential times, uniform censoring)."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(1, 0.5, (reps, n)).astype(float)
    t = rng.exponential(np.exp(-log_hr * x))
    c = rng.uniform(0, 3, (reps, n))
    fit = kernels.cox_fit(np.minimum(t, c), (t <= c).astype(float), x[..., None])
    return fit.hr[:, 0], fit.p[:, 0]


def test_power_shortcut_agrees_with_simulating_the_effect_removed():
    hr_model, _ = _cox_draws(math.log(1.8), seed=1)
    hr_null, p_null = _cox_draws(0.0, seed=2)
    shortcut = verdicts.judge(hr_model, 1.795, 1.805, "HR", half_step=0.005).check_power
    lo, hi = np.quantile(hr_model, [verdicts.TAIL, 1 - verdicts.TAIL], method="inverted_cdf")
    full = float(np.mean(verdicts.flags(hr_model, hr_null - 0.005, hr_null + 0.005)))
    assert 0.5 < full < 0.99  # a case where the answer is neither trivial 0 nor 1
    assert shortcut == pytest.approx(full, abs=0.06)  # two Monte Carlo estimates of 600 draws each
    _, p_model = _cox_draws(math.log(1.8), seed=1)
    p_shortcut = verdicts.judge(p_model, 0.0095, 0.0105, "P", half_step=0.0005).check_power
    p_full = float(np.mean(verdicts.flags(p_model, p_null - 0.0005, p_null + 0.0005)))
    assert p_shortcut == pytest.approx(p_full, abs=0.06)


def test_a_bound_that_an_alternative_would_also_satisfy_has_no_power():
    # "<40" with the model's values around 39: 10 points lower still satisfies it; 10 higher
    # satisfies it in more than 2.5% of studies: the bound could hardly have been flagged
    j = verdicts.judge(normal_draws(39.0, 5.0), 0.0, 40.0, "percent")
    assert j.check_power == 0.0
    # "P < .0001" where the model's P is tiny: with no effect, P < .0001 is a 1-in-10,000 event
    k = verdicts.judge(10 ** normal_draws(-8, 1.0), 0.0, 1e-4, "P")
    assert k.check_power == 1.0


def test_not_reached_is_judged_as_a_statement():
    x = np.r_[normal_draws(5.0, 1.0, n=700), np.full(300, np.inf)]  # 30% of studies do not reach it
    assert verdicts.judge(x, math.inf, math.inf, "median").check_power == 0.0
