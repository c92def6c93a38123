"""Printed numbers, kept as printed.

A number in a paper is a token ("2.66", "<.0001", "NR", and the odd typo "4.0.6"). The
ledger stores tokens, never floats, because the printed precision matters: "2.6" stands for
every value in [2.55, 2.65). ``parse`` turns a token into a ``Token`` with its value, its
printed precision and the interval of true values it can stand for. A token that does not
parse is ``malformed`` and keeps ``value=None``: it is reported, never silently repaired.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

Status = Literal["number", "bound", "not_reached", "malformed"]

_NUMBER = re.compile(r"^(?P<sign>[-−]?)(?P<int>\d*)(?:\.(?P<frac>\d+))?$")
_RELATION = re.compile(r"^(?P<rel><=|>=|≤|≥|<|>)\s*(?P<num>.+)$")
_NOT_REACHED = {"NR", "NE", "NOT REACHED", "NOT ESTIMABLE"}


@dataclass(frozen=True)
class Token:
    printed: str
    status: Status
    value: float | None = None
    decimals: int | None = None  # digits after the decimal point as printed
    relation: str | None = None  # "<" or ">" for bounds such as "<.0001"

    @property
    def is_number(self) -> bool:
        return self.status in ("number", "bound")

    def interval(self) -> tuple[float, float]:
        """The true values that could have been printed as this token.

        ``number``: half a unit of the last printed digit either side (round-half-up
        convention, boundary included on both sides so that the check is lenient).
        ``bound``: "<x" gives [0, x] for non-negative quantities; ">x" gives [x, inf).
        """
        if self.status == "number":
            half = 0.5 * 10.0 ** (-(self.decimals or 0))
            return (self.value - half, self.value + half)
        if self.status == "bound":
            if self.relation in ("<", "<=", "≤"):
                return (-math.inf if self.value < 0 else 0.0, self.value)
            return (self.value, math.inf)
        raise ValueError(f"token {self.printed!r} ({self.status}) has no numeric interval")


def _parse_plain(text: str) -> tuple[float, int] | None:
    match = _NUMBER.match(text.replace(",", ""))
    if not match or not (match["int"] or match["frac"]):
        return None
    sign = -1.0 if match["sign"] else 1.0
    frac = match["frac"] or ""
    value = sign * float(f"{match['int'] or '0'}.{frac or '0'}")
    return value, len(frac)


def parse(printed: str | None) -> Token | None:
    """Parse one printed token; ``None`` stays ``None`` (nothing printed)."""
    if printed is None:
        return None
    text = str(printed).strip().rstrip("%").strip()
    if text.upper() in _NOT_REACHED:
        return Token(printed=printed, status="not_reached")
    relation = None
    rel_match = _RELATION.match(text)
    if rel_match:
        relation, text = rel_match["rel"], rel_match["num"].strip()
    parsed = _parse_plain(text)
    if parsed is None:
        return Token(printed=printed, status="malformed")
    value, decimals = parsed
    return Token(
        printed=printed,
        status="bound" if relation else "number",
        value=value,
        decimals=decimals,
        relation=relation,
    )


def value_of(printed: str | None) -> float | None:
    """The parsed value of a token, or None when nothing numeric was printed."""
    token = parse(printed)
    return token.value if token is not None and token.is_number else None
