"""Clopper–Pearson shares (helpers.kernels.binomial) equal statsmodels and scipy, batched."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from helpers.kernels.binomial import clopper_pearson

EXACT = 1e-10  # the same beta quantiles; only their evaluation order differs


@pytest.mark.parametrize("n", [1, 7, 36, 101, 550])
def test_clopper_pearson_equals_statsmodels_and_scipy_for_every_count(n):
    k = np.arange(n + 1)
    share, lo, hi = clopper_pearson(k, np.full(k.shape, n))
    sm_lo, sm_hi = proportion_confint(k, n, alpha=0.05, method="beta")
    assert np.allclose(share, k / n, atol=EXACT)
    assert np.allclose(lo, sm_lo, atol=EXACT) and np.allclose(hi, sm_hi, atol=EXACT)
    for kk in (0, n // 3, n):
        ci = stats.binomtest(int(kk), n).proportion_ci(method="exact")
        assert lo[kk] == pytest.approx(ci.low, abs=EXACT) and hi[kk] == pytest.approx(ci.high, abs=EXACT)


def test_clopper_pearson_keeps_the_batch_shape_and_gives_nan_without_patients():
    k = np.array([[0, 3, 5], [2, 0, 0]])
    n = np.array([[10, 10, 5], [4, 0, 3]])
    share, lo, hi = clopper_pearson(k, n)
    assert share.shape == lo.shape == hi.shape == (2, 3)
    assert np.isnan(share[1, 1]) and np.isnan(lo[1, 1]) and np.isnan(hi[1, 1])
    assert lo[0, 0] == 0.0 and hi[0, 2] == 1.0


def test_clopper_pearson_refuses_a_count_above_n():
    with pytest.raises(ValueError, match="count <= n"):
        clopper_pearson([5], [4])
