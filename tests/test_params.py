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


@pytest.mark.parametrize(("text", "lo", "hi", "choices"), [
    ("size (allowed: 0.1 to 5)", 0.1, 5.0, ()),
    ("seed (allowed: 0 to 4294967295)", 0, 4294967295, ()),
    ("on or off (allowed: true or false)", None, None, (True, False)),
    ("method (allowed: gee, glmm or logistic)", None, None, ("gee", "glmm", "logistic")),
])  # fmt: skip
def test_allowed_clause_is_read_from_the_help_text(text, lo, hi, choices):
    rule = params.allowed(text)
    assert (rule.lo, rule.hi, rule.choices) == (lo, hi, choices)


def test_no_allowed_clause_means_no_range():
    assert params.allowed("not used here") is None


@pytest.mark.parametrize(("value", "kind", "match"), [
    (6.0, "float", r"x=6.0 is not allowed in nb \(allowed: 0.1 to 5; default 1.0\)"),
    (float("nan"), "float", r"x=nan is not allowed in nb: it needs a finite number \(allowed: 0.1 to 5"),
    ("abc", "float", r"x='abc' is not allowed in nb: it takes float"),
    (True, "float", r"x=True is not allowed in nb: it takes float"),
    (1.5, "int", r"x=1.5 is not allowed in nb: it takes int"),
])  # fmt: skip
def test_check_declared_names_parameter_value_and_what_is_allowed(value, kind, match):
    with pytest.raises(ParameterError, match=match):
        params.check_declared("x", value, kind=kind, help_text="size (allowed: 0.1 to 5)", default="1.0", where="nb")


def test_check_declared_accepts_a_value_in_range_and_an_int_for_a_float():
    params.check_declared("x", 2, kind="float", help_text="(allowed: 0.1 to 5)", default="1.0", where="nb")
