"""Checks of notebook parameters, run before any work so a bad value fails at once.

Every notebook calls ``check(...)`` right after its ``parameters`` cell, and the runner calls
it before launching any notebook. Messages name the parameter, the value given and what is
allowed.
"""

from __future__ import annotations

import numbers
from typing import Any

MAX_REPLICATES = 100_000


class ParameterError(ValueError):
    """A notebook parameter has a wrong type or an out-of-range value."""


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_seed(seed: Any) -> int:
    if not _is_int(seed) or seed < 0:
        raise ParameterError(
            f"seed={seed!r} is not allowed: use a non-negative integer, e.g. SEED=20221208"
        )
    return int(seed)


def check_replicates(replicates: Any) -> int:
    if not _is_int(replicates) or not 1 <= replicates <= MAX_REPLICATES:
        raise ParameterError(
            f"replicates={replicates!r} is not allowed: use an integer from 1 to {MAX_REPLICATES}, "
            "e.g. REPLICATES=200"
        )
    return int(replicates)


def check_positive(name: str, value: Any, *, integer: bool = False, upper: float | None = None) -> Any:
    ok = _is_int(value) if integer else isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or value <= 0 or (upper is not None and value > upper):
        kind = "a positive integer" if integer else "a positive number"
        bound = f" no larger than {upper}" if upper is not None else ""
        raise ParameterError(f"{name}={value!r} is not allowed: use {kind}{bound}")
    return value


def check_fraction(name: str, value: Any) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ParameterError(f"{name}={value!r} is not allowed: use a number from 0 to 1")
    return float(value)


def check(seed: Any, replicates: Any, **others: Any) -> None:
    """Check the shared parameters; notebooks check their own extra ones with the helpers above."""
    check_seed(seed)
    check_replicates(replicates)
    for name, value in others.items():
        if value is None:
            raise ParameterError(f"{name} is missing")
