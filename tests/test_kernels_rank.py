"""Batched rank statistics (helpers.kernels.rank) against scipy and numpy, row by row."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats as sps

from helpers.kernels import rank


def _batch(rng, rows=20, n=60, missing=0.2):
    x = rng.normal(size=(rows, n))
    x[rng.random((rows, n)) < missing] = np.nan  # missing assays, as in the Jain cohorts
    group = rng.random((rows, n)) < 0.4
    return x, group


def test_mann_whitney_matches_scipy_row_by_row():
    x, group = _batch(np.random.default_rng(3))
    auc, p = rank.mann_whitney(x, group)
    for i in range(x.shape[0]):
        ok = np.isfinite(x[i])
        a, b = x[i][ok & group[i]], x[i][ok & ~group[i]]
        ref = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-9)  # same formula: float round-off only
        assert auc[i] == pytest.approx(ref.statistic / (a.size * b.size), rel=1e-12)


def test_spearman_matches_scipy_row_by_row():
    rng = np.random.default_rng(4)
    x, _ = _batch(rng)
    y, _ = _batch(rng)
    y = y + 0.5 * np.nan_to_num(x)
    rho, p = rank.spearman(x, y)
    for i in range(x.shape[0]):
        ok = np.isfinite(x[i]) & np.isfinite(y[i])
        ref = sps.spearmanr(x[i][ok], y[i][ok])
        assert rho[i] == pytest.approx(ref.statistic, rel=1e-9)  # float round-off only
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-6)


def test_pearson_matches_scipy_row_by_row():
    rng = np.random.default_rng(5)
    x, _ = _batch(rng)
    y, _ = _batch(rng)
    y = y - 0.3 * np.nan_to_num(x)
    r, p = rank.pearson(x, y)
    for i in range(x.shape[0]):
        ok = np.isfinite(x[i]) & np.isfinite(y[i])
        ref = sps.pearsonr(x[i][ok], y[i][ok])
        assert r[i] == pytest.approx(ref.statistic, rel=1e-9)
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-6)  # t distribution vs scipy's beta: same value


@pytest.mark.parametrize("q", [0.0, 0.25, 0.33, 0.5, 0.67, 1.0])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 60])
def test_nanquantile_equals_numpy_to_the_last_bit(n, q):
    x, _ = _batch(np.random.default_rng(n), rows=200, n=n, missing=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns on all-NaN rows
        expected = np.nanquantile(x, q, axis=1)
    np.testing.assert_array_equal(rank.nanquantile(x, q), expected)


def test_median_ratio_is_the_ratio_of_group_medians():
    x, group = _batch(np.random.default_rng(6))
    x = np.exp(x)
    got = rank.median_ratio(x, group)
    for i in range(x.shape[0]):
        ok = np.isfinite(x[i])
        assert got[i] == pytest.approx(np.median(x[i][ok & group[i]]) / np.median(x[i][ok & ~group[i]]), rel=1e-14)


def test_bootstrap_ci_of_the_median_ratio_holds_the_estimate_and_repeats_with_the_seed():
    x, group = _batch(np.random.default_rng(7), rows=1)
    x, group = np.exp(x[0]), group[0]
    ci = rank.bootstrap_median_ratio(np.random.default_rng(1), x, group, draws=500)
    assert ci == rank.bootstrap_median_ratio(np.random.default_rng(1), x, group, draws=500)
    assert ci[0] < rank.median_ratio(x, group)[0] < ci[1]


def test_implied_auc_inverts_the_normal_approximation():
    auc = rank.implied_auc(0.049, 24, 36)
    assert rank.p_from_auc(auc, 24, 36) == pytest.approx(0.049, rel=1e-10)
    # a P just under .05 leaves a same-size replication a coin toss (power ~ 50%)
    assert rank.mann_whitney_power(auc, 24, 36) == pytest.approx(0.5, abs=0.01)  # exact value 0.503
