"""The 2 x 2 odds ratio across replicates (helpers.kernels.odds_ratio) against statsmodels Logit."""

import numpy as np
import pytest
import statsmodels.api as sm

from helpers.kernels import odds_ratio


def test_two_by_two_equals_logistic_regression_on_one_binary_covariate():
    rng = np.random.default_rng(3)
    x = (rng.random((5, 400)) < 0.3).astype(float)
    y = (rng.random((5, 400)) < 0.2 + 0.2 * x).astype(float)
    t = odds_ratio.two_by_two(y, x)
    for i in range(5):
        fit = sm.Logit(y[i], sm.add_constant(x[i])).fit(disp=0, tol=1e-12)
        # a saturated model reproduces the table: equal up to Newton's tolerance
        assert t.log_or[i] == pytest.approx(fit.params[1], abs=1e-8)
        assert t.se[i] == pytest.approx(fit.bse[1], rel=1e-7)
        assert t.p[i] == pytest.approx(fit.pvalues[1], rel=1e-6)


def test_cells_an_empty_cell_and_a_mask():
    y = np.array([[1, 0, 1, 0, 0, 1], [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0]], float)
    x = np.array([[1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]], float)
    t = odds_ratio.two_by_two(y, x)
    assert t.cells.tolist() == [[1, 1, 2, 2], [2, 1, 1, 2], [2, 0, 0, 4]]
    assert t.odds_ratio[:2] == pytest.approx([1.0, 4.0]) and np.isnan(t.odds_ratio[2])  # x=1, y=0 empty
    keep = np.ones(y.shape, bool)
    keep[0, 5] = False  # drops one x=0, y=1 observation of the first table
    assert odds_ratio.two_by_two(y, x, mask=keep).odds_ratio[0] == pytest.approx(2.0)


def test_non_binary_input_is_refused():
    with pytest.raises(ValueError, match="0 or 1"):
        odds_ratio.two_by_two(np.array([0, 1, 2.0]), np.array([0, 1, 1.0]))
