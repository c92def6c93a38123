"""AUC with DeLong's variance and the paired AUC difference (helpers.kernels.delong)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from helpers.kernels import delong


def _brute_components(score, y):
    """DeLong's components by their definition: every positive against every negative."""
    pos, neg = score[y], score[~y]
    cmp = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return cmp.mean(axis=1), cmp.mean(axis=0)


def test_auc_known_cases():
    y = np.array([True, True, False, False])
    assert delong.auc(np.array([4.0, 3.0, 2.0, 1.0]), y).auc[0] == 1.0
    assert delong.auc(np.array([1.0, 2.0, 3.0, 4.0]), y).auc[0] == 0.0
    # pairs (pos, neg): (3,1) win, (3,2) win, (1.5,1) win, (1.5,2) loss -> 3/4
    assert delong.auc(np.array([3.0, 1.5, 1.0, 2.0]), y).auc[0] == 0.75
    assert delong.auc(np.array([1.0, 1.0, 1.0, 1.0]), y).auc[0] == 0.5  # all ties count one half


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "tied"])
def test_midrank_components_equal_the_definition(ties):
    rng = np.random.default_rng(4)
    y = rng.random(60) < 0.4
    score = rng.normal(size=60) + y
    if ties:
        score = np.round(score)  # many ties, within and across the classes
    c = delong.components(score, y)
    v10, v01 = _brute_components(score, y)
    np.testing.assert_allclose(c.v10[0][y], v10, atol=1e-12)
    np.testing.assert_allclose(c.v01[0][~y], v01, atol=1e-12)


def test_auc_equals_scipy_mann_whitney():
    rng = np.random.default_rng(7)
    y = rng.random(80) < 0.3
    score = np.round(rng.normal(size=80) + 0.8 * y, 1)
    u = stats.mannwhitneyu(score[y], score[~y]).statistic
    assert delong.auc(score, y).auc[0] == pytest.approx(u / (y.sum() * (~y).sum()), abs=1e-12)


def test_batched_equals_one_cohort_at_a_time():
    rng = np.random.default_rng(8)
    y = rng.random((5, 40)) < 0.5
    a, b = rng.normal(size=(5, 40)) + y, rng.normal(size=(5, 40)) + 0.5 * y
    whole, diff = delong.auc(a, y), delong.auc_difference(a, b, y)
    for r in range(5):
        one = delong.auc(a[r], y[r])
        d = delong.auc_difference(a[r], b[r], y[r])
        assert (one.auc[0], one.se[0]) == pytest.approx((whole.auc[r], whole.se[r]), abs=1e-14)
        assert (d.difference[0], d.se[0], d.p[0]) == pytest.approx((diff.difference[r], diff.se[r], diff.p[r]), abs=1e-14)


def test_delong_se_matches_hanley_mcneil_order():
    rng = np.random.default_rng(11)
    y = rng.random(400) < 0.5
    res = delong.auc(rng.normal(size=400) + 1.0 * y, y)
    a, m, n = res.auc[0], y.sum(), (~y).sum()
    q1, q2 = a / (2 - a), 2 * a**2 / (1 + a)
    hm = np.sqrt((a * (1 - a) + (m - 1) * (q1 - a**2) + (n - 1) * (q2 - a**2)) / (m * n))
    # Hanley-McNeil assumes exponential scores, so it only approximates DeLong: within 15%
    assert res.se[0] == pytest.approx(hm, rel=0.15)


def test_paired_difference_of_a_score_with_itself_is_zero_and_antisymmetric():
    rng = np.random.default_rng(2)
    y = rng.random(50) < 0.4
    s, t = rng.normal(size=50), rng.normal(size=50) + y
    d = delong.auc_difference(s, s, y)
    assert d.difference[0] == 0.0 and d.lo[0] == 0.0 and d.hi[0] == 0.0 and np.isnan(d.p[0])
    ab, ba = delong.auc_difference(s, t, y), delong.auc_difference(t, s, y)
    assert ab.difference[0] == pytest.approx(-ba.difference[0]) and ab.p[0] == pytest.approx(ba.p[0])


def test_one_class_gives_nan_not_an_error():
    y = np.array([[True, True, True], [True, False, False]])
    res = delong.auc(np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]]), y)
    assert np.isnan(res.auc[0]) and res.auc[1] == 1.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one shape"):
        delong.auc(np.ones(4), np.ones(3, bool))
    with pytest.raises(ValueError, match="0/1"):
        delong.auc(np.ones(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="same patients"):
        delong.auc_difference(delong.components([1.0, 2.0], [0, 1]), delong.components([1.0, 2.0], [1, 0]))


def test_ci_covers_the_true_auc_and_the_paired_test_holds_its_level():
    """Binormal scores: AUC = Phi(delta / sqrt 2). 4,000 cohorts of 100: 95% CIs cover 93-97%
    (MC SE 0.35 points; DeLong is slightly liberal at this size) and a paired test of two equally
    good scores rejects 3.5-6.5% of the time."""
    rng = np.random.default_rng(20)
    R, n, delta = 4000, 100, 1.0
    y = rng.random((R, n)) < 0.5
    a = rng.normal(size=(R, n)) + delta * y
    b = rng.normal(size=(R, n)) + delta * y
    truth = stats.norm.cdf(delta / np.sqrt(2))
    res = delong.auc(a, y)
    assert 0.93 < np.mean((res.lo <= truth) & (truth <= res.hi)) < 0.97
    assert 0.035 < np.mean(delong.auc_difference(a, b, y).p < 0.05) < 0.065
