"""Gauss–Hermite quadrature for expectations over a standard normal: E f(Z) ~ sum_q w_q f(t_q).

One rule for the whole project (the random-intercept logistic kernel and the Figura
calibration integrate the patient effect with it): probabilists' Hermite nodes (weight
function exp(-t^2 / 2)), weights divided by sqrt(2 pi) so that they sum to 1 and the rule is
exact for polynomials of degree up to 2n - 1 in a standard normal Z.
"""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def _rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    t.setflags(write=False)
    w.setflags(write=False)
    return t, w


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``t`` and weights ``w`` (summing to 1) of the ``n``-point rule for E f(Z), Z ~ N(0, 1).

    The arrays are cached and read-only; copy them before changing them.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} is not allowed: use a positive integer number of nodes")
    return _rule(int(n))
