"""Property tests: numbers generated consistently and then rounded are never flagged.

Each test builds true values that satisfy a relation exactly (a log-HR and its SE give HR,
CI and P; a count and n give a percentage; an exponential curve gives a median and a
landmark), prints them at 0-4 decimals as a paper would, and asserts that the audit finds
nothing inconsistent: anything it flagged would be a false alarm caused by rounding.
"""

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import norm

from helpers import audit

# deadline off: the first call pays for scipy's lazy imports, which is not what we test
PROPERTY = settings(max_examples=100, deadline=None)


def printed(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def printed_p(p: float, decimals: int) -> str:
    """A P value as journals print it: rounded, or '<.001' style when it rounds to zero."""
    if round(p, decimals) == 0:
        return f"<{10.0**-decimals:.{decimals}f}"
    return printed(p, decimals)


@PROPERTY
@given(
    log_hr=st.floats(-2.5, 2.5),
    se=st.floats(0.02, 1.5),
    decimals=st.integers(1, 2),
    p_decimals=st.integers(2, 4),
)
def test_wald_ratio_estimate_ci_and_p_are_never_flagged(log_hr, se, decimals, p_decimals):
    hr, lo, hi = (math.exp(log_hr + k * audit.Z95 * se) for k in (0, -1, 1))
    p = 2 * norm.sf(abs(log_hr) / se)
    args = (printed(hr, decimals), printed(lo, decimals), printed(hi, decimals))
    p_printed = printed_p(p, p_decimals)
    assert audit.check_ci_contains(*args).verdict != "inconsistent"
    assert audit.check_log_symmetry(*args).verdict != "inconsistent"
    assert audit.check_p_from_ci(*args, p_printed).verdict != "inconsistent"
    assert audit.check_ci_from_p(*args, p_printed).verdict != "inconsistent"


@PROPERTY
@given(n=st.integers(1, 2000), share=st.floats(0, 1), decimals=st.integers(0, 2))
def test_count_and_denominator_percentages_are_never_flagged(n, share, decimals):
    k = round(share * n)
    pct = printed(100 * k / n, decimals)
    assert audit.check_grim(pct, str(n), str(k)).verdict == "consistent"
    assert audit.check_grim(pct, str(n)).verdict == "consistent"
    implied = audit.check_implied_denominator(pct, str(k), str(n))
    assert implied.verdict == "consistent"
    if k > 0:
        assert f"printed n = {n} is among them" in implied.detail


@PROPERTY
@given(counts=st.lists(st.integers(0, 300), min_size=2, max_size=6), decimals=st.integers(0, 1))
def test_rounded_percentages_of_a_whole_add_to_100(counts, decimals):
    total = sum(counts) or 1
    parts = [(printed(100 * c / total, decimals), False) for c in counts]
    if sum(counts):
        assert audit.check_sum(parts, ("100", True)).verdict == "consistent"


@PROPERTY
@given(
    lo=st.floats(0.1, 30), width=st.floats(0, 30), position=st.floats(0, 1), decimals=st.integers(1, 2)
)
def test_median_inside_its_ci_is_never_flagged(lo, width, position, decimals):
    median, hi = lo + position * width, lo + width
    shown = (printed(median, decimals), printed(lo, decimals), printed(hi, decimals))
    assert audit.check_ci_contains(*shown).verdict == "consistent"


@PROPERTY
@given(median=st.floats(0.5, 40), time=st.sampled_from([3, 6, 12, 24]), decimals=st.integers(0, 2))
def test_landmark_of_an_exponential_curve_agrees_with_its_median(median, time, decimals):
    surv = 100 * 0.5 ** (time / median)
    m = printed(median, 1)
    assert audit.check_landmark_median(printed(surv, decimals), str(time), m).verdict == "consistent"
    event = printed(100 - surv, decimals)
    assert audit.check_landmark_median(event, str(time), m, event=True).verdict == "consistent"


@PROPERTY
@given(
    medians=st.lists(st.floats(0.5, 30), min_size=2, max_size=4),
    weights=st.lists(st.floats(0.05, 1), min_size=4, max_size=4),
)
def test_pooled_median_of_a_mixture_lies_between_group_medians(medians, weights):
    w = [x / sum(weights[: len(medians)]) for x in weights[: len(medians)]]

    def pooled_survival_minus_half(t):
        return sum(wi * 0.5 ** (t / m) for wi, m in zip(w, medians, strict=True)) - 0.5

    pooled = brentq(pooled_survival_minus_half, min(medians) * 0.999, max(medians) * 1.001)
    groups = [printed(m, 1) for m in medians]
    assert audit.check_pooled_median(printed(pooled, 1), groups).verdict == "consistent"
