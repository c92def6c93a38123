"""Bad notebook parameters stop the run before any work, naming the parameter and what is allowed."""

import numpy as np
import pytest

from helpers import params
from helpers.params import ParameterError


@pytest.mark.parametrize("seed", [-1, 1.5, "7", None, True])
def test_bad_seed(seed):
    with pytest.raises(ParameterError, match=r"seed=.*non-negative integer"):
        params.check_seed(seed)


@pytest.mark.parametrize("replicates", [0, -5, 2.5, "100", params.MAX_REPLICATES + 1, False])
def test_bad_replicates(replicates):
    with pytest.raises(ParameterError, match=r"replicates=.*integer from 1"):
        params.check_replicates(replicates)


def test_numpy_integers_are_accepted():
    assert params.check_seed(np.int64(3)) == 3
    assert params.check_replicates(np.int32(10)) == 10


@pytest.mark.parametrize("value", [0, -0.1, 1.5, "x"])
def test_positive_with_upper_bound(value):
    with pytest.raises(ParameterError, match="subset_scale"):
        params.check_positive("subset_scale", value, upper=1.0)


@pytest.mark.parametrize("value", [-0.01, 1.01, "0.3", None])
def test_fraction(value):
    with pytest.raises(ParameterError, match=r"durable_share=.*from 0 to 1"):
        params.check_fraction("durable_share", value)
