"""Rossi recidivism data (shipped with lifelines): the batched Cox kernel gives Fox's coefficients.

Fox & Weisberg's appendix on Cox regression fits arrest ~ fin + age + race + wexp + mar +
paro + prio (Efron ties) and prints the coefficients to 3 decimals.
"""

import numpy as np
import pytest
from lifelines.datasets import load_rossi

from helpers import kernels

PUBLISHED = {"fin": -0.379, "age": -0.057, "race": 0.314, "wexp": -0.150,
             "mar": -0.434, "paro": -0.085, "prio": 0.091}  # fmt: skip


def test_batched_cox_reproduces_fox_coefficients_to_three_decimals():
    rossi = load_rossi()
    names = list(PUBLISHED)
    fit = kernels.cox_fit(rossi["week"].to_numpy(), rossi["arrest"].to_numpy(),
                          rossi[names].to_numpy(), ties="efron")  # fmt: skip
    assert fit.converged.tolist() == [True]
    for name, beta in zip(names, fit.beta[0], strict=True):
        # printed to 3 decimals: the estimate must round to the printed value (half a unit)
        assert beta == pytest.approx(PUBLISHED[name], abs=0.0005 + 1e-12), name
    assert np.all(fit.se[0] > 0)
