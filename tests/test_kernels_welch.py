"""Batched Welch t-test (helpers.kernels.welch) against scipy, row by row."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from helpers.kernels import welch


def test_welch_matches_scipy_row_by_row():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(25, 50)) * np.where(rng.random((25, 50)) < 0.5, 1.0, 2.5)
    x[rng.random(x.shape) < 0.2] = np.nan
    group = rng.random(x.shape) < 0.4
    diff, t, df, p = welch.welch(x, group)
    for i in range(x.shape[0]):
        ok = np.isfinite(x[i])
        a, b = x[i][ok & group[i]], x[i][ok & ~group[i]]
        ref = sps.ttest_ind(a, b, equal_var=False)
        assert diff[i] == pytest.approx(a.mean() - b.mean(), rel=1e-12)
        assert t[i] == pytest.approx(ref.statistic, rel=1e-10)  # float round-off only
        assert df[i] == pytest.approx(ref.df, rel=1e-10)
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-8)


def test_implied_t_inverts_the_two_sided_p():
    t = welch.implied_t(0.02, 38)
    assert 2 * sps.t.sf(t, 38) == pytest.approx(0.02, rel=1e-12)
