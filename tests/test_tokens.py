import math

import pytest

from helpers import tokens


@pytest.mark.parametrize(
    ("printed", "status", "value", "decimals"),
    [
        ("2.66", "number", 2.66, 2),
        ("2.60", "number", 2.6, 2),
        (".0001", "number", 0.0001, 4),
        ("<.0001", "bound", 0.0001, 4),
        ("< .001", "bound", 0.001, 3),
        ("43.3%", "number", 43.3, 1),
        ("238", "number", 238.0, 0),
        ("NR", "not_reached", None, None),
        ("4.0.6", "malformed", None, None),
        ("abc", "malformed", None, None),
    ],
)
def test_parse(printed, status, value, decimals):
    tok = tokens.parse(printed)
    assert tok.status == status
    assert tok.value == (pytest.approx(value) if value is not None else None)
    assert tok.decimals == decimals


def test_interval_is_half_a_unit_of_the_last_digit():
    lo, hi = tokens.parse("2.6").interval()
    assert (lo, hi) == pytest.approx((2.55, 2.65))
    assert tokens.parse("<.05").interval() == (0.0, 0.05)
    assert tokens.parse(">3").interval() == (3.0, math.inf)


def test_malformed_token_has_no_interval():
    with pytest.raises(ValueError, match="no numeric interval"):
        tokens.parse("4.0.6").interval()


def test_none_stays_none():
    assert tokens.parse(None) is None
    assert tokens.value_of(None) is None
