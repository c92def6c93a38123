"""Fisher's exact 2 x 2 and Pearson's chi-squared tests (helpers.kernels.contingency) equal scipy."""

import numpy as np
import pytest
from scipy import stats

from helpers.kernels import contingency

EXACT = 1e-10  # both sum the same hypergeometric probabilities / squared deviations


def _random_tables(seed, shape, high):
    return np.random.default_rng(seed).integers(0, high, size=shape)


def test_fisher_2x2_equals_scipy_on_random_and_awkward_tables():
    tabs = np.concatenate([
        _random_tables(1, (200, 2, 2), 15),
        np.array([[[0, 5], [5, 0]], [[3, 3], [3, 3]], [[0, 0], [4, 6]], [[10, 0], [0, 0]], [[1, 9], [9, 80]]]),
    ])
    got = contingency.fisher_2x2(tabs)
    want = np.array([stats.fisher_exact(t)[1] for t in tabs])
    assert np.allclose(got, want, atol=EXACT)


@pytest.mark.parametrize("correction", [True, False])
@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 4)])
def test_chi2_equals_scipy_chi2_contingency(shape, correction):
    tabs = _random_tables(2, (50, *shape), 30) + 1  # no empty row or column (scipy refuses them)
    stat, df, p = contingency.chi2_test(tabs, correction=correction)
    for t, s, d, pv in zip(tabs, stat, df, p, strict=True):
        res = stats.chi2_contingency(t, correction=correction)
        assert s == pytest.approx(res.statistic, abs=EXACT) and d == res.dof and pv == pytest.approx(res.pvalue, abs=EXACT)


def test_chi2_drops_an_empty_column_and_gives_nan_with_one_group():
    stat, df, p = contingency.chi2_test(np.array([[[5, 0, 7], [9, 0, 2]], [[5, 0, 0], [9, 0, 0]]]), correction=False)
    want = stats.chi2_contingency(np.array([[5, 7], [9, 2]]), correction=False)
    assert df[0] == 1 and stat[0] == pytest.approx(want.statistic) and np.isnan(p[1])


def test_tables_count_codes_per_replicate_and_skip_missing():
    rows = np.array([[0, 1, 1, np.nan], [1, 1, 0, 0]])
    cols = np.array([[0, 0, 2, 1], [1, 1, 1, 0]])
    t = contingency.tables(rows, cols, 2, 3, mask=np.array([[True, True, True, True], [True, True, True, False]]))
    assert t[0].tolist() == [[1, 0, 0], [1, 0, 1]] and t[1].tolist() == [[0, 1, 0], [0, 2, 0]]
