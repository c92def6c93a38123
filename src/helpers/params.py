"""Checks of notebook parameters, run before any work so a bad value fails at once.

Every notebook calls ``check(...)`` right after its ``parameters`` cell; the runner checks every
value given against each notebook's declaration (type, finite, and the ``(allowed: ...)`` clause of
its comment, ``check_declared``) before launching any notebook. Messages name the parameter, the
value given and what is allowed.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
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


# ----------------------------------------------------------------------------- declared ranges
# Each notebook states what a parameter admits at the end of its comment in the `parameters`
# cell, e.g. `subset_scale: float = 1.0  # ... (allowed: 0.1 to 5)`. The runner reads that clause
# and checks every value before the first notebook starts. (Never write '>=' there: papermill's
# inspector drops a parameter line whose comment holds two '=' signs.)
_ALLOWED = re.compile(r"\(allowed: ([^)]+)\)")
_RANGE = re.compile(r"\s*(-?[0-9.]+(?:e[-+]?\d+)?) to (-?[0-9.]+(?:e[-+]?\d+)?)\s*")


@dataclass(frozen=True)
class Allowed:
    """What a parameter admits, as its notebook states it: a closed range or a list of choices."""

    text: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()

    def admits(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            return False
        return self.lo <= value <= self.hi


def allowed(help_text: str) -> Allowed | None:
    """The ``(allowed: ...)`` clause of a parameter's help text; None when it states none.

    "0.1 to 5" is a closed range; "true or false" the two booleans; "a, b or c" a list of words.
    """
    m = _ALLOWED.search(help_text or "")
    if not m:
        return None
    text = m.group(1).strip()
    if r := _RANGE.fullmatch(text):
        return Allowed(text, lo=float(r.group(1)), hi=float(r.group(2)))
    words = [w.strip() for w in re.split(r",| or ", text) if w.strip()]
    if sorted(w.lower() for w in words) == ["false", "true"]:
        return Allowed(text, choices=(True, False))
    return Allowed(text, choices=tuple(words))


def check_declared(name: str, value: Any, *, kind: str, help_text: str, default: str, where: str) -> None:
    """Check ``value`` against a notebook's declaration of ``name``: its type (``kind``: int,
    float, bool or str), a finite number, and its ``(allowed: ...)`` clause."""
    rule = allowed(help_text)
    admits = f"allowed: {rule.text}; " if rule else ""
    hint = f"({admits}default {default})"
    accepted = {"int": (numbers.Integral,), "float": (numbers.Real,), "bool": (bool,), "str": (str,)}.get(kind)
    if accepted and (not isinstance(value, accepted) or (kind != "bool" and isinstance(value, bool))):
        raise ParameterError(f"{name}={value!r} is not allowed in {where}: it takes {kind} {hint}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"{name}={value!r} is not allowed in {where}: it needs a finite number {hint}")
    if rule and not rule.admits(value):
        raise ParameterError(f"{name}={value!r} is not allowed in {where} {hint}")
